/*
 * identity.js -- identities (PROTOCOL.md §2): the name rule, the secret and
 * public identity files parsed as strictly as libsecmq parses them (three
 * lines, exact prefixes, canonical base64, nothing after), the keys derived
 * from the seed, and the identity id. Not for trust decisions (keyring.js)
 * nor successor statements (§2.3, not implemented here).
 */
import { sodium, utf8, toBase64, fromBase64Exact, IdentityError, wipe } from './util.js';

const SECRET_MAGIC = 'secmq-identity 1';
const PUBLIC_MAGIC = 'secmq-public 1';
const NAME_RE = /^[A-Za-z0-9._@-]{1,64}$/;

/**
 * Whether a name is valid (§2: 1..64 bytes of `[A-Za-z0-9._@-]`).
 * @param {string} name
 * @returns {boolean}
 */
export function nameValid(name) {
  return typeof name === 'string' && NAME_RE.test(name);
}

/**
 * The identity id of an Ed25519 public key (§2): the first 8 bytes of
 * BLAKE2b-32(pk).
 * @param {Uint8Array} pk 32 bytes
 * @returns {Uint8Array} 8 bytes
 * @throws {TypeError} when pk is not 32 bytes.
 */
export function identityId(pk) {
  if (!(pk instanceof Uint8Array) || pk.length !== 32) {
    throw new TypeError('identityId: a 32-byte public key is needed');
  }
  return sodium.crypto_generichash(32, pk, null).slice(0, 8);
}

/* A file's text: a string as it is, bytes decoded (invalid UTF-8 becomes
 * U+FFFD, which no valid line holds). */
function asText(text) {
  return typeof text === 'string' ? text : new TextDecoder('utf-8', { fatal: false }).decode(utf8(text));
}

/* The name and the third line's value of an identity file, or throws. */
function lines(text, magic, third, kind) {
  const s = asText(text);
  if (!s.startsWith(magic + '\n')) {
    throw new IdentityError(`not a ${kind} identity file (first line is not '${magic}')`);
  }
  let rest = s.slice(magic.length + 1);
  let nl = rest.indexOf('\n');
  if (!rest.startsWith('name: ') || nl < 0) {
    throw new IdentityError("second line is not 'name: <name>'");
  }
  const name = rest.slice(6, nl);
  if (!nameValid(name)) {
    throw new IdentityError('invalid name (1..64 of A-Z a-z 0-9 . _ @ -)');
  }
  rest = rest.slice(nl + 1);
  nl = rest.indexOf('\n');
  if (!rest.startsWith(third) || nl < 0) {
    throw new IdentityError(`third line is not '${third}<base64 of 32 bytes>'`);
  }
  const value = rest.slice(third.length, nl);
  if (nl + 1 !== rest.length) {
    throw new IdentityError('unexpected bytes after the third line');
  }
  return { name, value };
}

/**
 * Parses a secret identity file (§2.1): exactly three lines, each ending
 * in `\n`, the seed in canonical base64. (The file mode check of §2.1 is
 * the caller's: a page has no file modes.)
 * @param {string|Uint8Array} text the file's content
 * @returns {{name: string, seed: Uint8Array, pk: Uint8Array, sk: Uint8Array, id: Uint8Array}}
 *   seed 32, pk 32, sk 64 (libsodium's seed || pk), id 8 bytes; the
 *   caller owns them and should wipe seed and sk when done (wipeIdentity).
 * @throws {IdentityError} naming the line that is wrong.
 */
export function parseSecretIdentity(text) {
  const { name, value } = lines(text, SECRET_MAGIC, 'ed25519-seed: ', 'secret');
  const seed = fromBase64Exact(value, 32);
  if (seed === null) {
    throw new IdentityError("third line is not 'ed25519-seed: <base64 of 32 bytes>'");
  }
  return fromSeed(name, seed);
}

/**
 * Parses a public identity file (§2.2), as strictly as the secret one, and
 * refuses a key that has no X25519 form (it could never receive a grant).
 * @param {string|Uint8Array} text
 * @returns {{name: string, pk: Uint8Array, id: Uint8Array}}
 * @throws {IdentityError}
 */
export function parsePublicIdentity(text) {
  let parsed;
  try {
    parsed = lines(text, PUBLIC_MAGIC, 'ed25519: ', 'public');
  } catch (e) {
    if (asText(text).startsWith(SECRET_MAGIC + '\n')) {
      throw new IdentityError('a SECRET identity file: give the public one (secmq-keys export) instead, and keep this one private');
    }
    throw e;
  }
  const pk = fromBase64Exact(parsed.value, 32);
  if (pk === null) {
    throw new IdentityError("third line is not 'ed25519: <base64 of 32 bytes>'");
  }
  try {
    sodium.crypto_sign_ed25519_pk_to_curve25519(pk);
  } catch {
    throw new IdentityError('not a valid Ed25519 public key');
  }
  return { name: parsed.name, pk, id: identityId(pk) };
}

/**
 * An identity from a name and a 32-byte seed (§2.1: crypto_sign_seed_keypair).
 * @param {string} name
 * @param {Uint8Array} seed kept (not copied) in the result
 * @returns {{name: string, seed: Uint8Array, pk: Uint8Array, sk: Uint8Array, id: Uint8Array}}
 * @throws {IdentityError} for an invalid name or seed length.
 */
export function fromSeed(name, seed) {
  if (!nameValid(name)) {
    throw new IdentityError('invalid name (1..64 of A-Z a-z 0-9 . _ @ -)');
  }
  if (!(seed instanceof Uint8Array) || seed.length !== 32) {
    throw new IdentityError('a seed is 32 bytes');
  }
  const kp = sodium.crypto_sign_seed_keypair(seed);
  return { name, seed, pk: kp.publicKey, sk: kp.privateKey, id: identityId(kp.publicKey) };
}

/**
 * A new identity from 32 random bytes.
 * @param {string} name
 * @returns {{name: string, seed: Uint8Array, pk: Uint8Array, sk: Uint8Array, id: Uint8Array}}
 * @throws {IdentityError} for an invalid name.
 */
export function createIdentity(name) {
  if (!nameValid(name)) {
    throw new IdentityError('invalid name (1..64 of A-Z a-z 0-9 . _ @ -)');
  }
  return fromSeed(name, sodium.randombytes_buf(32));
}

/**
 * The secret identity file of an identity (§2.1). The text holds the seed:
 * keep it as secret as the identity.
 * @param {{name: string, seed: Uint8Array}} idn
 * @returns {string}
 * @throws {IdentityError} when idn has no valid name or seed.
 */
export function formatSecretIdentity(idn) {
  if (!idn || !nameValid(idn.name) || !(idn.seed instanceof Uint8Array) || idn.seed.length !== 32) {
    throw new IdentityError('formatSecretIdentity: an identity with a name and a 32-byte seed is needed');
  }
  return `${SECRET_MAGIC}\nname: ${idn.name}\ned25519-seed: ${toBase64(idn.seed)}\n`;
}

/**
 * The public identity file of an identity (§2.2), to give to peers.
 * @param {{name: string, pk: Uint8Array}} idn
 * @returns {string}
 * @throws {IdentityError} when idn has no valid name or key.
 */
export function formatPublicIdentity(idn) {
  if (!idn || !nameValid(idn.name) || !(idn.pk instanceof Uint8Array) || idn.pk.length !== 32) {
    throw new IdentityError('formatPublicIdentity: an identity with a name and a 32-byte key is needed');
  }
  return `${PUBLIC_MAGIC}\nname: ${idn.name}\ned25519: ${toBase64(idn.pk)}\n`;
}

/**
 * The X25519 key pair of an identity (§2), for sealed boxes.
 * @param {{pk: Uint8Array, sk: Uint8Array}} idn
 * @returns {{publicKey: Uint8Array, privateKey: Uint8Array}} the caller
 *   wipes privateKey after use.
 */
export function x25519Keys(idn) {
  return {
    publicKey: sodium.crypto_sign_ed25519_pk_to_curve25519(idn.pk),
    privateKey: sodium.crypto_sign_ed25519_sk_to_curve25519(idn.sk),
  };
}

/**
 * Wipes the secret parts (seed, sk) of an identity in place.
 * @param {{seed?: Uint8Array, sk?: Uint8Array}} idn
 */
export function wipeIdentity(idn) {
  if (idn) {
    wipe(idn.seed, idn.sk);
  }
}
