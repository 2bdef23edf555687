/*
 * grant.js -- grants (PROTOCOL.md §5): opening a grant file with the
 * member's X25519 keys (§5.2 steps 1-3), parsing and checking a SECMQGB1
 * body (§5.1), and accepting a grant against what a member trusts and
 * holds (§5.2 in order), which gives the channel object keyring.js keeps.
 * SECMQGB2 (receipts) and SECMQGB3 (epoch ratchet) bodies are refused as
 * `unsupported`: see GrantError. Successor statements (§2.3) are not
 * implemented: no key has predecessors here.
 */
import {
  sodium, utf8, fromUtf8, concat, getUint, putUint, isZero, bytesEqual, toHex, wipe, GrantError,
} from './util.js';
import { identityId, x25519Keys } from './identity.js';
import { filterValid } from './filter.js';

const GRANT_MAGIC = utf8('SECMQGR1');
const BODY_MAGIC = 'SECMQGB1';
const BODY_MAGIC_RCPT = 'SECMQGB2';
const BODY_MAGIC_RATCHET = 'SECMQGB3';
const SIG_CONTEXT = utf8('secmq-grant-v1');
const SEAL_BYTES = 48;
const HEADER_BYTES = 16;
const FIXED_BYTES = 145;
const SIG_BYTES = 64;
/** Flag bit 0: the member may publish. */
export const FLAG_MAY_PUBLISH = 1;
/** Flag bit 1: mac-only envelopes allowed. */
export const FLAG_ALLOW_MAC = 2;

/**
 * The channel id of (owner, filter) (§5.3): the first 8 bytes of
 * BLAKE2b-32(owner_pk || filter), as 16 lower-case hex digits.
 * @param {Uint8Array} ownerPk
 * @param {string|Uint8Array} filter
 * @returns {string}
 */
export function channelId(ownerPk, filter) {
  return toHex(sodium.crypto_generichash(32, concat(ownerPk, utf8(filter)), null).slice(0, 8));
}

/**
 * Opens a grant file for an identity (§5.2 steps 1-3): at least 16 + 48
 * bytes and the magic SECMQGR1 [malformed], the recipient id is the
 * identity's [not_for_me], the sealed box opens with the X25519 keys
 * derived from the identity [bad_seal].
 * @param {{pk: Uint8Array, sk: Uint8Array, id?: Uint8Array}} identity
 * @param {Uint8Array} bytes the grant file
 * @returns {Uint8Array} the body (it holds the channel key: wipe it after use)
 * @throws {GrantError}
 */
export function openGrant(identity, bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length < HEADER_BYTES + SEAL_BYTES ||
      !bytesEqual(bytes.subarray(0, 8), GRANT_MAGIC)) {
    throw new GrantError('malformed', 'not a grant file (SECMQGR1)');
  }
  const id = identity.id || identityId(identity.pk);
  if (!bytesEqual(bytes.subarray(8, 16), id)) {
    throw new GrantError('not_for_me', 'the grant names another recipient');
  }
  let x;
  try {
    x = x25519Keys(identity);
  } catch {
    throw new GrantError('malformed', 'the identity has no X25519 form');
  }
  try {
    return sodium.crypto_box_seal_open(bytes.subarray(HEADER_BYTES), x.publicKey, x.privateKey);
  } catch {
    throw new GrantError('bad_seal', 'the sealed box does not open with this identity');
  } finally {
    wipe(x.privateKey);
  }
}

function distinct(keys) {
  const seen = new Set();
  for (const k of keys) {
    const h = toHex(k);
    if (seen.has(h)) {
      return false;
    }
    seen.add(h);
  }
  return true;
}

/**
 * Parses and checks a grant body (§5, §5.1 in order): lengths, magic and
 * filter [malformed], the owner's signature [bad_signature], then the
 * signed fields [bad_epoch, bad_flags, bad_publishers, publisher_mismatch].
 * @param {Uint8Array} body
 * @returns {{ownerPk: Uint8Array, memberPk: Uint8Array, keyId: Uint8Array,
 *   channelKey: Uint8Array, epoch: number, createdMs: bigint,
 *   prevKeyId: Uint8Array, graceMs: bigint, flags: number,
 *   filter: string, filterBytes: Uint8Array, publishers: Uint8Array[],
 *   signature: Uint8Array}} copies; channelKey is secret.
 * @throws {GrantError} the first rule broken; `unsupported` for the magics
 *   SECMQGB2 and SECMQGB3.
 */
export function parseGrantBody(body) {
  if (!(body instanceof Uint8Array) || body.length < FIXED_BYTES + 1 + SIG_BYTES) {
    throw new GrantError('malformed', 'body too short');
  }
  const magic = String.fromCharCode(...body.subarray(0, 8));
  if (magic === BODY_MAGIC_RCPT || magic === BODY_MAGIC_RATCHET) {
    throw new GrantError('unsupported', `a ${magic} body (${magic === BODY_MAGIC_RCPT ? 'a channel with receipts' : 'a ratcheted channel'}): not supported by this implementation, refused rather than half understood`);
  }
  if (magic !== BODY_MAGIC) {
    throw new GrantError('malformed', 'body magic');
  }
  const flen = Number(getUint(body, 141, 2));
  if (flen < 1 || body.length < 143 + flen + 2) {
    throw new GrantError('malformed', 'filter length');
  }
  const npub = Number(getUint(body, 143 + flen, 2));
  if (body.length !== FIXED_BYTES + flen + 32 * npub + SIG_BYTES) {
    throw new GrantError('malformed', 'body length');
  }
  const filterBytes = body.slice(143, 143 + flen);
  if (!filterValid(filterBytes)) {
    throw new GrantError('malformed', 'filter');
  }
  const signed = body.subarray(0, body.length - SIG_BYTES);
  const signature = body.slice(body.length - SIG_BYTES);
  const ownerPk = body.slice(8, 40);
  const m = concat(SIG_CONTEXT, signed);
  const ok = sodium.crypto_sign_verify_detached(signature, m, ownerPk);
  // SECURITY: m holds the channel key.
  wipe(m);
  if (!ok) {
    throw new GrantError('bad_signature', "the owner's signature does not verify");
  }
  const memberPk = body.slice(40, 72);
  const keyId = body.slice(72, 80);
  const epoch = Number(getUint(body, 112, 4));
  const prevKeyId = body.slice(124, 132);
  const graceMs = getUint(body, 132, 8);
  const flags = body[140];
  const publishers = [];
  for (let i = 0; i < npub; i++) {
    const off = 145 + flen + 32 * i;
    publishers.push(body.slice(off, off + 32));
  }
  const noPrev = isZero(prevKeyId);
  if (epoch === 0 || (epoch === 1 && !noPrev) || (noPrev && graceMs !== 0n) ||
      (!noPrev && bytesEqual(prevKeyId, keyId))) {
    throw new GrantError('bad_epoch');
  }
  if ((flags & ~(FLAG_MAY_PUBLISH | FLAG_ALLOW_MAC)) !== 0) {
    throw new GrantError('bad_flags');
  }
  if (npub === 0 || !distinct(publishers)) {
    throw new GrantError('bad_publishers');
  }
  const listed = publishers.some((p) => bytesEqual(p, memberPk));
  if (((flags & FLAG_MAY_PUBLISH) !== 0) !== listed) {
    throw new GrantError('publisher_mismatch');
  }
  return {
    ownerPk,
    memberPk,
    keyId,
    channelKey: body.slice(80, 112),
    epoch,
    createdMs: getUint(body, 116, 8),
    prevKeyId,
    graceMs,
    flags,
    filter: fromUtf8(filterBytes),
    filterBytes,
    publishers,
    signature,
  };
}

/**
 * Builds and signs a SECMQGB1 body (§5), what a channel owner does; the
 * page only receives grants, this is for tests and tools. The fields are
 * checked by parseGrantBody's rules after signing.
 * @param {object} f
 * @param {Uint8Array} f.ownerPk 32 bytes
 * @param {Uint8Array} f.memberPk 32 bytes
 * @param {Uint8Array} f.keyId 8 bytes
 * @param {Uint8Array} f.channelKey 32 bytes
 * @param {number} f.epoch u32
 * @param {number|bigint} f.createdMs u64
 * @param {Uint8Array} [f.prevKeyId] 8 bytes, zeros (the default) for none
 * @param {number|bigint} [f.graceMs=0] u64
 * @param {number} f.flags u8
 * @param {string|Uint8Array} f.filter
 * @param {Uint8Array[]} f.publishers 32 bytes each
 * @param {Uint8Array} ownerSk 64 bytes, the owner's Ed25519 secret key
 * @returns {Uint8Array} the signed body (it holds the channel key)
 * @throws {GrantError} with the §5.1 reason the fields break;
 *   {RangeError} for integers out of range.
 */
export function buildGrantBody(f, ownerSk) {
  const filter = utf8(f.filter);
  if (filter.length < 1 || filter.length > 65535 || f.publishers.length > 65535) {
    throw new GrantError('malformed', 'filter or publishers length');
  }
  const unsigned = concat(utf8(BODY_MAGIC), f.ownerPk, f.memberPk, f.keyId, f.channelKey,
    putUint(f.epoch, 4), putUint(f.createdMs, 8), f.prevKeyId || new Uint8Array(8),
    putUint(f.graceMs || 0, 8), Uint8Array.of(f.flags), putUint(filter.length, 2), filter,
    putUint(f.publishers.length, 2), ...f.publishers);
  const m = concat(SIG_CONTEXT, unsigned);
  const body = concat(unsigned, sodium.crypto_sign_detached(m, ownerSk));
  wipe(m, unsigned);
  const g = parseGrantBody(body);
  wipe(g.channelKey);
  return body;
}

/**
 * Seals a body to a member (§5): SECMQGR1, the member's identity id, and
 * crypto_box_seal to the member's X25519 key.
 * @param {Uint8Array} body
 * @param {Uint8Array} memberPk the member's Ed25519 key
 * @returns {Uint8Array} the grant file
 * @throws {Error} when memberPk has no X25519 form.
 */
export function sealGrant(body, memberPk) {
  const xpk = sodium.crypto_sign_ed25519_pk_to_curve25519(memberPk);
  return concat(GRANT_MAGIC, identityId(memberPk), sodium.crypto_box_seal(body, xpk));
}

function pkOf(p) {
  return p instanceof Uint8Array ? p : p.pk;
}

/**
 * Accepts a grant (§5.2 in order): openGrant (steps 1-3), parseGrantBody
 * (step 4), member_pk is this identity's key [not_for_me], the owner is
 * this identity or a trusted peer [untrusted_owner], the epoch is newer
 * than the channel (owner, filter) held [replayed]. Nothing is changed:
 * the caller stores the channel returned in place of the one held.
 *
 * Keys held (§3): the result keeps the held channel's key as `prevKey`
 * only when the grant names it (`prevKeyId`) with a grace (`graceMs` not
 * 0); every older key is dropped. A previous key the member never held
 * stays `null`: envelopes under it are `unknown_key` within the grace and
 * `key_expired` after it.
 *
 * @param {{name?: string, pk: Uint8Array, sk: Uint8Array, id?: Uint8Array}} identity
 * @param {Array<{pk: Uint8Array}|Uint8Array>} trustedPeers public identities (or keys)
 * @param {Uint8Array} bytes the grant file
 * @param {Array<object>} [held] the channels held now (as this returns them)
 * @returns {{cid: string, filter: string, filterBytes: Uint8Array,
 *   ownerPk: Uint8Array, memberPk: Uint8Array, keyId: Uint8Array,
 *   key: Uint8Array, epoch: number, createdMs: bigint,
 *   prevKeyId: Uint8Array|null, prevKey: Uint8Array|null, graceMs: bigint,
 *   flags: number, mayPublish: boolean, allowMac: boolean,
 *   publishers: Uint8Array[]}} the channel; `prevKeyId` null when the grant
 *   names none.
 * @throws {GrantError} with the reason of the first step that fails.
 */
export function acceptGrant(identity, trustedPeers, bytes, held = []) {
  const body = openGrant(identity, bytes);
  let g;
  try {
    g = parseGrantBody(body);
  } finally {
    wipe(body);
  }
  if (!bytesEqual(g.memberPk, identity.pk)) {
    wipe(g.channelKey);
    throw new GrantError('not_for_me', 'the body names another member');
  }
  const ownerTrusted = bytesEqual(g.ownerPk, identity.pk) ||
    (trustedPeers || []).some((p) => bytesEqual(pkOf(p), g.ownerPk));
  if (!ownerTrusted) {
    wipe(g.channelKey);
    throw new GrantError('untrusted_owner', 'import the owner as a peer first');
  }
  const cid = channelId(g.ownerPk, g.filterBytes);
  const old = (held || []).find((c) => c.cid === cid);
  if (old && g.epoch <= old.epoch) {
    wipe(g.channelKey);
    throw new GrantError('replayed', `epoch ${g.epoch} is not newer than the held ${old.epoch}`);
  }
  const hasPrev = !isZero(g.prevKeyId);
  let prevKey = null;
  if (old && hasPrev && g.graceMs !== 0n && bytesEqual(old.keyId, g.prevKeyId)) {
    prevKey = old.key.slice();
  }
  return {
    cid,
    filter: g.filter,
    filterBytes: g.filterBytes,
    ownerPk: g.ownerPk,
    memberPk: g.memberPk,
    keyId: g.keyId,
    key: g.channelKey,
    epoch: g.epoch,
    createdMs: g.createdMs,
    prevKeyId: hasPrev ? g.prevKeyId : null,
    prevKey,
    graceMs: g.graceMs,
    flags: g.flags,
    mayPublish: (g.flags & FLAG_MAY_PUBLISH) !== 0,
    allowMac: (g.flags & FLAG_ALLOW_MAC) !== 0,
    publishers: g.publishers,
  };
}
