/*
 * envelope.js -- the message envelope of PROTOCOL.md §4: sealing (§4.1
 * steps 2-4, given the channel's key) and the keyless checks of opening
 * (§4.2 steps 1, 4 and 5, given the keys). Pure: bytes in, bytes out, no
 * state. Which key and which sender, the publishers, mac-only permission,
 * age and replay are keyring.js's (§4.2 steps 2, 3, 6-9).
 */
import {
  sodium, utf8, concat, putUint, getUint, toUint, wipe, OpenError, SecmqError,
} from './util.js';

export const VERSION = 1;
export const MODE_SIGNED = 1;
export const MODE_MAC = 2;
export const HEADER_BYTES = 58;
export const TAG_BYTES = 16;
export const SIG_BYTES = 64;
export const NONCE_BYTES = 24;
/** Overhead of a signed envelope (header, tag, signature). */
export const OVERHEAD_SIGNED = HEADER_BYTES + TAG_BYTES + SIG_BYTES;
/** Overhead of a mac-only envelope (header, tag). */
export const OVERHEAD_MAC = HEADER_BYTES + TAG_BYTES;
/** The longest topic an envelope binds (§4). */
export const ENVELOPE_TOPIC_MAX = 4096;

const AD_PREFIX = utf8('secmq-env-v1');
const SIG_PREFIX = utf8('secmq-sig-v1');

/**
 * The message key of a channel key (§3): crypto_kdf_derive_from_key(32,
 * subkey 1, "secmqenv", channel_key).
 * @param {Uint8Array} channelKey 32 bytes
 * @returns {Uint8Array} 32 bytes; the caller wipes it after use.
 */
export function messageKey(channelKey) {
  return sodium.crypto_kdf_derive_from_key(32, 1, 'secmqenv', channelKey);
}

/**
 * The UTF-8 bytes of a topic an envelope may bind (§4: 1..4096 bytes, no
 * NUL, `+` or `#`), or null.
 * @param {string|Uint8Array} topic
 * @returns {Uint8Array|null}
 */
export function envelopeTopic(topic) {
  let t;
  try {
    t = utf8(topic);
  } catch {
    return null;
  }
  if (t.length < 1 || t.length > ENVELOPE_TOPIC_MAX) {
    return null;
  }
  for (const c of t) {
    if (c === 0 || c === 0x2b || c === 0x23) {
      return null;
    }
  }
  return t;
}

function modeByte(mode) {
  if (mode === 'signed' || mode === MODE_SIGNED) {
    return MODE_SIGNED;
  }
  if (mode === 'mac' || mode === MODE_MAC) {
    return MODE_MAC;
  }
  return 0;
}

function header(mode, keyId, senderId, seq, timeMs, nonce) {
  return concat(Uint8Array.of(VERSION, mode), keyId, senderId, putUint(seq, 8), putUint(timeMs, 8), nonce);
}

function boundAd(hdr, topicBytes) {
  return concat(AD_PREFIX, hdr, putUint(topicBytes.length, 2), topicBytes);
}

function signedBytes(hdr, topicBytes, ciphertext) {
  return concat(SIG_PREFIX, hdr, putUint(topicBytes.length, 2), topicBytes,
    sodium.crypto_generichash(64, ciphertext, null));
}

function need(b, n, what) {
  if (!(b instanceof Uint8Array) || b.length !== n) {
    throw new SecmqError('bad_input', `seal: ${what} must be ${n} bytes`);
  }
}

/**
 * Seals a plaintext into an envelope (§4.1 steps 2-4).
 * @param {object} a
 * @param {string|Uint8Array} a.topic the exact topic it is published on (1..4096 bytes, no wildcard)
 * @param {string|Uint8Array} a.plaintext (a string is taken as UTF-8)
 * @param {Uint8Array} a.channelKey 32 bytes (the message key is derived from it)
 * @param {Uint8Array} a.keyId 8 bytes
 * @param {Uint8Array} a.senderId 8 bytes, the sender's identity id
 * @param {Uint8Array} [a.senderSk] 64 bytes, needed in signed mode
 * @param {number|bigint} a.seq u64 sequence number
 * @param {number|bigint} a.timeMs u64 Unix ms
 * @param {'signed'|'mac'} [a.mode='signed']
 * @param {Uint8Array} [a.nonce] 24 bytes; random when absent (give one
 *   only to reproduce known-answer vectors: a nonce must never repeat)
 * @returns {Uint8Array} the envelope, plaintext + 138 (signed) or + 74 bytes
 * @throws {SecmqError} `bad_input` for a topic that cannot be bound, a
 *   wrong size, an unknown mode or an integer out of range.
 */
export function seal(a) {
  const mode = modeByte(a.mode === undefined ? 'signed' : a.mode);
  if (mode === 0) {
    throw new SecmqError('bad_input', "seal: mode is 'signed' or 'mac'");
  }
  const topicBytes = envelopeTopic(a.topic);
  if (topicBytes === null) {
    throw new SecmqError('bad_input', 'seal: the topic must be 1..4096 bytes without NUL, + or #');
  }
  need(a.channelKey, 32, 'channelKey');
  need(a.keyId, 8, 'keyId');
  need(a.senderId, 8, 'senderId');
  if (mode === MODE_SIGNED) {
    need(a.senderSk, 64, 'senderSk');
  }
  let seq;
  let timeMs;
  try {
    seq = toUint(a.seq, 64, 'seq');
    timeMs = toUint(a.timeMs, 64, 'timeMs');
  } catch (e) {
    throw new SecmqError('bad_input', `seal: ${e.message}`);
  }
  const nonce = a.nonce === undefined ? sodium.randombytes_buf(NONCE_BYTES) : a.nonce;
  need(nonce, NONCE_BYTES, 'nonce');
  const plaintext = utf8(a.plaintext);
  const hdr = header(mode, a.keyId, a.senderId, seq, timeMs, nonce);
  const mk = messageKey(a.channelKey);
  let ct;
  try {
    ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, boundAd(hdr, topicBytes), null, nonce, mk);
  } finally {
    // SECURITY: the derived key never outlives the call.
    wipe(mk);
  }
  if (mode === MODE_MAC) {
    return concat(hdr, ct);
  }
  const sig = sodium.crypto_sign_detached(signedBytes(hdr, topicBytes, ct), a.senderSk);
  return concat(hdr, ct, sig);
}

/**
 * Parses an envelope's header (§4.2 step 1 without the topic), in the
 * order of §4.2: at least 1 byte [malformed], version 1 [version], mode 1
 * or 2 [malformed], the mode's minimum length [malformed].
 * @param {Uint8Array} bytes
 * @returns {{version: number, mode: number, modeName: 'signed'|'mac',
 *   keyId: Uint8Array, senderId: Uint8Array, seq: bigint, timeMs: bigint,
 *   nonce: Uint8Array, header: Uint8Array, ciphertext: Uint8Array,
 *   signature: Uint8Array|null}} views into bytes (not copies)
 * @throws {OpenError} `malformed` or `version`.
 */
export function parseEnvelope(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length < 1) {
    throw new OpenError('malformed', 'empty');
  }
  if (bytes[0] !== VERSION) {
    throw new OpenError('version', `version byte ${bytes[0]}`);
  }
  if (bytes.length < 2 || (bytes[1] !== MODE_SIGNED && bytes[1] !== MODE_MAC)) {
    throw new OpenError('malformed', 'mode');
  }
  const mode = bytes[1];
  const sigLen = mode === MODE_SIGNED ? SIG_BYTES : 0;
  if (bytes.length < HEADER_BYTES + TAG_BYTES + sigLen) {
    throw new OpenError('malformed', 'too short');
  }
  return {
    version: VERSION,
    mode,
    modeName: mode === MODE_SIGNED ? 'signed' : 'mac',
    keyId: bytes.subarray(2, 10),
    senderId: bytes.subarray(10, 18),
    seq: getUint(bytes, 18, 8),
    timeMs: getUint(bytes, 26, 8),
    nonce: bytes.subarray(34, 58),
    header: bytes.subarray(0, HEADER_BYTES),
    ciphertext: bytes.subarray(HEADER_BYTES, bytes.length - sigLen),
    signature: sigLen ? bytes.subarray(bytes.length - sigLen) : null,
  };
}

/**
 * §4.2 step 1 in full: parseEnvelope, then the topic (1..4096 bytes, no
 * NUL, `+` or `#`) [malformed].
 * @param {Uint8Array} bytes
 * @param {string|Uint8Array} topic
 * @returns {{fields: object, topicBytes: Uint8Array}} fields as parseEnvelope
 * @throws {OpenError} `malformed` or `version`.
 */
export function checkEnvelope(bytes, topic) {
  const fields = parseEnvelope(bytes);
  const topicBytes = envelopeTopic(topic);
  if (topicBytes === null) {
    throw new OpenError('malformed', 'topic');
  }
  return { fields, topicBytes };
}

/**
 * Checks the signature of a signed envelope with a public key (§4, no
 * channel key needed: what a broker enforcing signatures does).
 * @param {object} fields from parseEnvelope
 * @param {string|Uint8Array} topic
 * @param {Uint8Array} senderPk 32 bytes
 * @returns {boolean} true when it verifies.
 */
export function verifySignature(fields, topic, senderPk) {
  const t = envelopeTopic(topic);
  if (t === null || fields.mode !== MODE_SIGNED || !(senderPk instanceof Uint8Array) || senderPk.length !== 32) {
    return false;
  }
  return sodium.crypto_sign_verify_detached(fields.signature, signedBytes(fields.header, t, fields.ciphertext), senderPk);
}

/**
 * Opens an envelope with the keys given (§4.2 steps 1, 4 and 5): the
 * header and topic, the AEAD under the message key [bad_tag], then in
 * signed mode the sender's key [unknown_sender when senderPk is null] and
 * signature [bad_signature].
 * @param {Uint8Array} bytes the envelope
 * @param {string|Uint8Array} topic the topic it arrived on
 * @param {object} keys
 * @param {Uint8Array} [keys.channelKey] 32 bytes (or give messageKey)
 * @param {Uint8Array} [keys.messageKey] 32 bytes, already derived
 * @param {Uint8Array|null} [keys.senderPk] the sender's Ed25519 key, null
 *   when the sender id names no known identity (signed mode only)
 * @returns {{plaintext: Uint8Array, fields: object}} the caller owns plaintext
 * @throws {OpenError} `malformed`, `version`, `bad_tag`, `unknown_sender`,
 *   `bad_signature`; a plaintext decrypted before a refusal is wiped.
 */
export function openEnvelope(bytes, topic, keys) {
  const { fields, topicBytes } = checkEnvelope(bytes, topic);
  let mk = keys.messageKey;
  const derived = mk === undefined || mk === null;
  if (derived) {
    if (!(keys.channelKey instanceof Uint8Array) || keys.channelKey.length !== 32) {
      throw new TypeError('openEnvelope: a 32-byte channelKey or messageKey is needed');
    }
    mk = messageKey(keys.channelKey);
  }
  let plaintext;
  try {
    plaintext = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, fields.ciphertext,
      boundAd(fields.header, topicBytes), fields.nonce, mk);
  } catch {
    throw new OpenError('bad_tag');
  } finally {
    if (derived) {
      wipe(mk);
    }
  }
  if (fields.mode === MODE_SIGNED) {
    // §4.2 step 5 after the tag: "unknown sender" is only ever said of
    // what a member of the channel produced.
    const pk = keys.senderPk;
    if (pk === undefined || pk === null) {
      wipe(plaintext);
      throw new OpenError('unknown_sender');
    }
    if (!verifySignature(fields, topicBytes, pk)) {
      // SECURITY: plaintext of a refused envelope is never handed out.
      wipe(plaintext);
      throw new OpenError('bad_signature');
    }
  }
  return { plaintext, fields };
}
