/*
 * storage.js -- bytes sealed under a passphrase, for what the page keeps
 * (a keyring's JSON): argon2id (crypto_pwhash) derives a key, secretbox
 * seals. Pure: no IndexedDB or localStorage here, the page stores the
 * blob where it likes. Not part of the wire protocol.
 *
 * Blob format, version 1 (all integers big-endian):
 *   0   8   magic "SECMQPW1"
 *   8   1   algorithm: 2 = argon2id v1.3 (crypto_pwhash_ALG_ARGON2ID13)
 *   9   4   opslimit  u32
 *   13  4   memlimit  u32 (bytes)
 *   17  16  salt      random
 *   33  24  nonce     random
 *   57  ..  crypto_secretbox_easy(bytes, nonce, key) (16-byte tag first)
 * key = crypto_pwhash(32, passphrase, salt, opslimit, memlimit, argon2id13).
 * The header is not authenticated separately: a changed algorithm, cost
 * or salt gives another key, so the box does not open.
 */
import { sodium, utf8, concat, putUint, getUint, bytesEqual, wipe, SecmqError } from './util.js';

const MAGIC = utf8('SECMQPW1');
const ALG_ARGON2ID13 = 2;
const HEADER_BYTES = 57;
/* A blob asking for more than this is refused before any work: a stored
 * blob must not make the page hash for minutes or allocate gigabytes. */
const OPS_MAX = 16;
const MEM_MAX = 1024 * 1024 * 1024;

/*
 * Cost: OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE (2 passes, 64 MiB).
 * libsodium runs in WebAssembly in the page. Measured in node 20 on the
 * (busy, 2-core) development machine: INTERACTIVE 0.1-0.35 s, MODERATE
 * (3 passes, 256 MiB) 0.7-1.3 s; phones run WebAssembly several times
 * slower, and a 256 MiB WebAssembly memory fails outright on many of
 * them. INTERACTIVE is what libsodium recommends for an interactive
 * unlock, still costs an attacker 64 MiB per guess, and its parameters
 * are stored in the blob, so a later version can raise them.
 */
const OPSLIMIT = () => sodium.crypto_pwhash_OPSLIMIT_INTERACTIVE;
const MEMLIMIT = () => sodium.crypto_pwhash_MEMLIMIT_INTERACTIVE;

function deriveKey(passphrase, salt, ops, mem) {
  const pw = utf8(passphrase);
  try {
    return sodium.crypto_pwhash(sodium.crypto_secretbox_KEYBYTES, pw, salt, ops, mem,
      sodium.crypto_pwhash_ALG_ARGON2ID13);
  } finally {
    if (typeof passphrase === 'string') {
      wipe(pw);
    }
  }
}

/**
 * Seals bytes under a passphrase (argon2id + XSalsa20-Poly1305).
 * @param {string|Uint8Array} passphrase a string is taken as UTF-8; must not be empty
 * @param {string|Uint8Array} bytes what to protect (a string as UTF-8)
 * @returns {Uint8Array} the blob (format above), bytes + 73 long
 * @throws {SecmqError} `bad_input` for an empty passphrase.
 */
export function sealWithPassphrase(passphrase, bytes) {
  if (utf8(passphrase).length === 0) {
    throw new SecmqError('bad_input', 'sealWithPassphrase: empty passphrase');
  }
  const salt = sodium.randombytes_buf(sodium.crypto_pwhash_SALTBYTES);
  const nonce = sodium.randombytes_buf(sodium.crypto_secretbox_NONCEBYTES);
  const ops = OPSLIMIT();
  const mem = MEMLIMIT();
  const key = deriveKey(passphrase, salt, ops, mem);
  try {
    const box = sodium.crypto_secretbox_easy(utf8(bytes), nonce, key);
    return concat(MAGIC, Uint8Array.of(ALG_ARGON2ID13), putUint(ops, 4), putUint(mem, 4), salt, nonce, box);
  } finally {
    // SECURITY: the derived key lives only for the call.
    wipe(key);
  }
}

/**
 * Opens a blob made by sealWithPassphrase.
 * @param {string|Uint8Array} passphrase
 * @param {Uint8Array} blob
 * @returns {Uint8Array} the bytes sealed (the caller owns and wipes them)
 * @throws {SecmqError} `bad_blob` when it is not such a blob (magic,
 *   version, algorithm, length, or a cost above the limits);
 *   `wrong_passphrase` when it does not open: a wrong passphrase or a
 *   changed blob, which cannot be told apart.
 */
export function openWithPassphrase(passphrase, blob) {
  if (!(blob instanceof Uint8Array) || blob.length < HEADER_BYTES + sodium.crypto_secretbox_MACBYTES ||
      !bytesEqual(blob.subarray(0, 8), MAGIC)) {
    throw new SecmqError('bad_blob', 'not a secmq passphrase blob (SECMQPW1)');
  }
  if (blob[8] !== ALG_ARGON2ID13) {
    throw new SecmqError('bad_blob', `unknown key derivation algorithm ${blob[8]}`);
  }
  const ops = Number(getUint(blob, 9, 4));
  const mem = Number(getUint(blob, 13, 4));
  if (ops < sodium.crypto_pwhash_OPSLIMIT_MIN || ops > OPS_MAX ||
      mem < sodium.crypto_pwhash_MEMLIMIT_MIN || mem > MEM_MAX) {
    throw new SecmqError('bad_blob', `key derivation cost out of range (ops ${ops}, mem ${mem})`);
  }
  const salt = blob.subarray(17, 33);
  const nonce = blob.subarray(33, 57);
  const key = deriveKey(passphrase, salt, ops, mem);
  try {
    return sodium.crypto_secretbox_open_easy(blob.subarray(HEADER_BYTES), nonce, key);
  } catch {
    throw new SecmqError('wrong_passphrase', 'cannot open: wrong passphrase, or the stored data was changed');
  } finally {
    wipe(key);
  }
}
