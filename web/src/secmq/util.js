/*
 * util.js -- what every secmq protocol module shares: the one libsodium
 * import, `ready()`, byte helpers (UTF-8, hex, big-endian integers, exact
 * concatenation) and the error classes with their reason names.
 * Not for anything that knows the protocol's layouts: see the modules
 * named after them (identity, filter, envelope, grant, keyring, storage).
 */
import sodium from 'libsodium-wrappers-sumo';

export { sodium };

/**
 * Waits until libsodium is usable. Every other function of these modules
 * may be called only after the promise resolved.
 * @returns {Promise<void>} resolves once libsodium's WebAssembly is loaded.
 */
export async function ready() {
  await sodium.ready;
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: false });

/**
 * A string as UTF-8 bytes; bytes are returned as they are.
 * @param {string|Uint8Array} s
 * @returns {Uint8Array} (a copy for a string, s itself for bytes)
 * @throws {TypeError} for anything else.
 */
export function utf8(s) {
  if (typeof s === 'string') {
    return enc.encode(s);
  }
  if (s instanceof Uint8Array) {
    return s;
  }
  throw new TypeError('expected a string or a Uint8Array');
}

/**
 * Bytes as a string (invalid UTF-8 becomes U+FFFD: for display only).
 * @param {Uint8Array} b
 * @returns {string}
 */
export function fromUtf8(b) {
  return dec.decode(b);
}

/**
 * Lower-case hex of bytes.
 * @param {Uint8Array} b
 * @returns {string}
 */
export function toHex(b) {
  return sodium.to_hex(b);
}

/**
 * Bytes from hex (upper or lower case, even length).
 * @param {string} h
 * @returns {Uint8Array}
 * @throws {TypeError} when h is not hex.
 */
export function fromHex(h) {
  if (typeof h !== 'string' || h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) {
    throw new TypeError('not a hex string');
  }
  return sodium.from_hex(h);
}

/**
 * Standard base64 with padding (RFC 4648 §4).
 * @param {Uint8Array} b
 * @returns {string}
 */
export function toBase64(b) {
  return sodium.to_base64(b, sodium.base64_variants.ORIGINAL);
}

/**
 * Bytes of canonical standard base64 with padding: the one spelling
 * toBase64 gives (unused bits zero, no whitespace), of n bytes when n is
 * given.
 * @param {string} s
 * @param {number} [n] the exact length expected
 * @returns {Uint8Array|null} null when s is not exactly that.
 */
export function fromBase64Exact(s, n) {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) {
    return null;
  }
  if (n !== undefined && s.length !== 4 * Math.ceil(n / 3)) {
    return null;
  }
  let b;
  try {
    b = sodium.from_base64(s, sodium.base64_variants.ORIGINAL);
  } catch {
    return null;
  }
  // SECURITY: only the canonical spelling, so one key has one text.
  if ((n !== undefined && b.length !== n) || toBase64(b) !== s) {
    sodium.memzero(b);
    return null;
  }
  return b;
}

/**
 * The concatenation of byte arrays.
 * @param {...Uint8Array} parts
 * @returns {Uint8Array} a new array.
 */
export function concat(...parts) {
  let n = 0;
  for (const p of parts) {
    n += p.length;
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Whether two byte arrays are equal. Constant time for equal lengths
 * (sodium.memcmp), so it may compare secrets.
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 * @returns {boolean}
 */
export function bytesEqual(a, b) {
  return a.length === b.length && (a.length === 0 || sodium.memcmp(a, b));
}

/**
 * An unsigned integer as a BigInt within [0, 2^bits).
 * @param {number|bigint} v
 * @param {number} bits 16, 32 or 64
 * @param {string} what its name, for the error
 * @returns {bigint}
 * @throws {RangeError} when v is not an integer in range (a Number must
 *   also be a safe integer).
 */
export function toUint(v, bits, what) {
  let b;
  if (typeof v === 'bigint') {
    b = v;
  } else if (typeof v === 'number' && Number.isSafeInteger(v)) {
    b = BigInt(v);
  } else {
    throw new RangeError(`${what}: not an integer`);
  }
  if (b < 0n || b >= 1n << BigInt(bits)) {
    throw new RangeError(`${what}: outside 0..2^${bits}-1`);
  }
  return b;
}

/**
 * Big-endian encoding of an unsigned integer in n bytes.
 * @param {number|bigint} v
 * @param {number} n 2, 4 or 8
 * @returns {Uint8Array}
 * @throws {RangeError} when v does not fit.
 */
export function putUint(v, n) {
  let b = toUint(v, 8 * n, 'integer');
  const out = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(b & 0xffn);
    b >>= 8n;
  }
  return out;
}

/**
 * Big-endian unsigned integer of n bytes at off.
 * @param {Uint8Array} b
 * @param {number} off
 * @param {number} n
 * @returns {bigint}
 */
export function getUint(b, off, n) {
  let v = 0n;
  for (let i = 0; i < n; i++) {
    v = (v << 8n) | BigInt(b[off + i]);
  }
  return v;
}

/** True when every byte of b is zero. */
export function isZero(b) {
  let acc = 0;
  for (const x of b) {
    acc |= x;
  }
  return acc === 0;
}

/** Wipes byte arrays (null and undefined are skipped). */
export function wipe(...arrays) {
  for (const a of arrays) {
    if (a instanceof Uint8Array && a.length > 0) {
      sodium.memzero(a);
    }
  }
}

/**
 * An envelope that does not open (PROTOCOL.md §4.2). `reason` is one of
 * `malformed`, `version`, `unknown_key`, `key_expired`, `mode_refused`,
 * `bad_tag`, `unknown_sender`, `bad_signature`, `unauthorised`,
 * `too_old`, `replay`.
 */
export class OpenError extends Error {
  /**
   * @param {string} reason the reason name of §4.2
   * @param {string} [detail] what a log may add
   */
  constructor(reason, detail) {
    super(detail ? `open: ${reason}: ${detail}` : `open: ${reason}`);
    this.name = 'OpenError';
    this.reason = reason;
  }
}

/**
 * A grant that is refused (PROTOCOL.md §5.1, §5.2). `reason` is one of
 * `malformed`, `not_for_me`, `bad_seal`, `bad_signature`, `bad_epoch`,
 * `bad_flags`, `bad_publishers`, `publisher_mismatch`, `untrusted_owner`,
 * `replayed`, or `unsupported` (a SECMQGB2 or SECMQGB3 body: receipts and
 * epoch ratchets are not implemented here, and accepting such a grant
 * while ignoring them is what PROTOCOL.md §6 forbids).
 */
export class GrantError extends Error {
  /**
   * @param {string} reason
   * @param {string} [detail]
   */
  constructor(reason, detail) {
    super(detail ? `grant: ${reason}: ${detail}` : `grant: ${reason}`);
    this.name = 'GrantError';
    this.reason = reason;
  }
}

/** An identity file that is refused (PROTOCOL.md §2.1, §2.2); the message says why. */
export class IdentityError extends Error {
  constructor(message) {
    super(message);
    this.name = 'IdentityError';
  }
}

/**
 * A refusal that is not about a received envelope: sealing (no channel,
 * not a publisher, a sequence number that went backwards), a keyring's
 * JSON, a passphrase blob. `code` names the case (`no_channel`,
 * `not_publisher`, `mode_refused`, `bad_seq`, `bad_input`, `bad_json`,
 * `bad_blob`, `wrong_passphrase`).
 */
export class SecmqError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'SecmqError';
    this.code = code;
  }
}
