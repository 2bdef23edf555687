// vault.js -- the keyring at rest: sealed with the passphrase, in IndexedDB.
//
// The record "vault" holds what the protocol modules' sealWithPassphrase
// made (argon2id, then secretbox: a versioned, self-describing blob).
// The passphrase itself is never stored. Not for sequence numbers (seq.js).
import * as proto from './proto.js';
import * as store from './store.js';

const RECORD = 'vault';
export const MIN_PASSPHRASE = 8;

/** True when sealed keys are stored in this browser. */
export async function exists() {
  return (await store.get(RECORD)) !== undefined;
}

/**
 * Seal bytes with passphrase and store them (replacing what was there).
 * @param {string} passphrase
 * @param {Uint8Array} bytes the keyring's serialised state; wiped after
 */
export async function save(passphrase, bytes) {
  const blob = await proto.sealWithPassphrase(passphrase, bytes);
  bytes.fill(0);
  await store.put(RECORD, blob);
}

/**
 * The stored bytes, opened with passphrase.
 * @param {string} passphrase
 * @returns {Promise<Uint8Array>}
 * @throws {Error} "wrong passphrase: ..." when it does not open (a wrong
 *   passphrase, or changed data: the two cannot be told apart); another
 *   message when nothing is stored or the record is not a sealed blob
 */
export async function open(passphrase) {
  const blob = await store.get(RECORD);
  if (blob === undefined) {
    throw new Error('no keys are stored in this browser');
  }
  try {
    return await proto.openWithPassphrase(passphrase, blob);
  } catch (err) {
    if (err.code === 'wrong_passphrase') {
      throw new Error('wrong passphrase: the keys stay locked');
    }
    throw new Error(`the stored keys cannot be read: ${err.message}`);
  }
}

/** Remove the stored keys. */
export async function erase() {
  await store.remove(RECORD);
}
