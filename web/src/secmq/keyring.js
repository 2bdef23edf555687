/*
 * keyring.js -- what a member holds in memory (PROTOCOL.md §4.1, §4.2,
 * §5.3): its identity, trusted peers, channels (newest key and, within
 * its grace, the previous one) and the replay windows per (key id, sender
 * id); sealing on the most specific channel and opening in §4.2's order.
 * It stores nothing itself: toJSON()/fromJSON() give the page what to keep
 * (encrypt it, e.g. with storage.js). Not for owning channels or issuing
 * grants, successor statements or SECMQGB2/GB3 channels.
 */
import {
  toHex, fromHex, toBase64, fromBase64Exact, bytesEqual, wipe, toUint,
  OpenError, SecmqError,
} from './util.js';
import { fromSeed, parsePublicIdentity, identityId, nameValid, wipeIdentity } from './identity.js';
import { filterValid, filterMatches, compareSpecificity } from './filter.js';
import { seal as sealEnvelope, checkEnvelope, openEnvelope, messageKey, MODE_MAC } from './envelope.js';
import { acceptGrant, channelId, FLAG_MAY_PUBLISH, FLAG_ALLOW_MAC } from './grant.js';

/** The replay window's size (§4.2): top and the 64 numbers below it. */
export const REPLAY_WINDOW = 64n;
const MASK64 = (1n << 64n) - 1n;
const JSON_FORMAT = 'secmq-keyring';
const JSON_VERSION = 1;

/**
 * A 64-entry sliding replay window (§4.2, as libsecmq's replay.c): `top`
 * is the highest accepted seq, bit i of `bitmap` set means `top - i` was
 * accepted.
 */
export class ReplayWindow {
  /**
   * @param {bigint} [top=0n]
   * @param {bigint} [bitmap=0n]
   */
  constructor(top = 0n, bitmap = 0n) {
    this.top = top;
    this.bitmap = bitmap;
  }

  /**
   * A window restored from a persisted top (§4.2: after a restart every
   * seq ≤ top counts as seen).
   * @param {bigint} top
   * @returns {ReplayWindow}
   */
  static restored(top) {
    return new ReplayWindow(top, MASK64);
  }

  /**
   * Whether seq would be accepted (nothing changes).
   * @param {bigint} seq
   * @returns {boolean}
   */
  check(seq) {
    if (seq > this.top) {
      return true;
    }
    // SECURITY: 64 or more behind is refused without looking at the bitmap.
    const behind = this.top - seq;
    if (behind >= REPLAY_WINDOW) {
      return false;
    }
    return ((this.bitmap >> behind) & 1n) === 0n;
  }

  /**
   * Records seq as accepted.
   * @param {bigint} seq
   * @returns {boolean} false (and no change) when seq is a replay.
   */
  commit(seq) {
    if (!this.check(seq)) {
      return false;
    }
    if (seq > this.top) {
      const ahead = seq - this.top;
      this.bitmap = ahead >= REPLAY_WINDOW ? 0n : (this.bitmap << ahead) & MASK64;
      this.bitmap |= 1n;
      this.top = seq;
    } else {
      this.bitmap |= 1n << (this.top - seq);
    }
    return true;
  }
}

function toBigNow(nowMs) {
  const n = nowMs === undefined ? Date.now() : nowMs;
  return toUint(n, 64, 'nowMs');
}

/**
 * A member's keys and state.
 *
 * Sequence numbers: `nextSeq(keyIdHex, {nowMs, last})` is called once per
 * envelope sealed and must return a number larger than any it returned for
 * that key id before, also across reloads of the page (§4: persist
 * reservations in blocks, e.g. `max(reserved, now_us)` then `seq + 4096`
 * written ahead). Without one, seq is `max(last + 1, nowMs * 1000)`
 * (`last` survives toJSON/fromJSON): safe across reloads only as long as
 * the clock never goes back (and fewer than 1000 envelopes a millisecond
 * are sealed under one key).
 */
export class Keyring {
  /**
   * @param {{name: string, seed: Uint8Array, pk: Uint8Array, sk: Uint8Array, id: Uint8Array}} identity
   *   (kept, not copied; wipe() wipes it)
   * @param {object} [opts]
   * @param {Array<{name: string, pk: Uint8Array}>} [opts.peers] trusted peers
   * @param {Array<object>} [opts.channels] channels as acceptGrant returns them
   * @param {number} [opts.maxAgeMs=0] §4.2 step 7; 0: no maximum age
   * @param {(keyIdHex: string, info: {nowMs: bigint, last: bigint|null}) => (bigint|number)} [opts.nextSeq]
   *   synchronous; see the class comment
   * @throws {TypeError} without a secret key or with a bad maxAgeMs;
   *   {IdentityError} for a peer text that does not parse.
   */
  constructor(identity, opts = {}) {
    if (!identity || !(identity.sk instanceof Uint8Array) || identity.sk.length !== 64) {
      throw new TypeError('Keyring: an identity with its secret key is needed');
    }
    this.identity = identity;
    this.peers = [];
    this.channels = [];
    if (opts.maxAgeMs !== undefined && (!Number.isSafeInteger(opts.maxAgeMs) || opts.maxAgeMs < 0)) {
      throw new TypeError('Keyring: maxAgeMs is a non-negative integer');
    }
    /** §4.2 step 7 in ms; 0: no maximum age. May be changed at any time. */
    this.maxAgeMs = opts.maxAgeMs || 0;
    this.nextSeq = opts.nextSeq || null;
    /** @type {Map<string, ReplayWindow>} "keyIdHex/senderIdHex" -> window */
    this.windows = new Map();
    /** @type {Map<string, bigint>} keyIdHex -> last seq sealed */
    this.sent = new Map();
    for (const p of opts.peers || []) {
      this.addPeer(p);
    }
    for (const c of opts.channels || []) {
      this.channels.push(c);
    }
  }

  /**
   * Trusts a peer (§2.2): a parsed public identity or its file's text. A
   * peer of the same name is replaced.
   * @param {{name: string, pk: Uint8Array}|string} peer
   * @returns {{name: string, pk: Uint8Array, id: Uint8Array}} the peer kept
   * @throws {IdentityError} for a text that does not parse;
   *   {SecmqError} `bad_input` for this identity's own key or name.
   */
  addPeer(peer) {
    const p = typeof peer === 'string' ? parsePublicIdentity(peer) : peer;
    if (!p || !nameValid(p.name) || !(p.pk instanceof Uint8Array) || p.pk.length !== 32) {
      throw new SecmqError('bad_input', 'addPeer: a public identity is needed');
    }
    if (bytesEqual(p.pk, this.identity.pk)) {
      throw new SecmqError('bad_input', "addPeer: that is this identity's own key");
    }
    const kept = { name: p.name, pk: p.pk.slice(), id: identityId(p.pk) };
    this.peers = this.peers.filter((q) => q.name !== p.name && !bytesEqual(q.pk, p.pk));
    this.peers.push(kept);
    return kept;
  }

  /**
   * Imports a grant (§5.2 in order, acceptGrant) and holds its channel in
   * place of the one of the same (owner, filter). Replay windows of keys
   * no longer held are dropped.
   * @param {Uint8Array} bytes the grant file
   * @returns {object} the channel now held
   * @throws {GrantError} with the reason of §5.1/§5.2 (or `unsupported`).
   */
  importGrant(bytes) {
    const ch = acceptGrant(this.identity, this.peers, bytes, this.channels);
    const old = this.channels.find((c) => c.cid === ch.cid);
    if (old) {
      // SECURITY: keys no longer held are wiped (prevKey took a copy).
      wipe(old.key, old.prevKey);
    }
    this.channels = this.channels.filter((c) => c.cid !== ch.cid);
    this.channels.push(ch);
    this.pruneWindows();
    return ch;
  }

  /* Drops the replay windows of key ids no channel holds. */
  pruneWindows() {
    const ids = new Set();
    for (const c of this.channels) {
      ids.add(toHex(c.keyId));
      if (c.prevKeyId) {
        ids.add(toHex(c.prevKeyId));
      }
    }
    for (const k of [...this.windows.keys()]) {
      if (!ids.has(k.slice(0, 16))) {
        this.windows.delete(k);
      }
    }
  }

  /**
   * The channel that seals a topic (§4.1): the most specific matching
   * filter; the same filter from two owners: the lower channel id.
   * @param {string|Uint8Array} topic
   * @returns {object|null}
   */
  channelFor(topic) {
    let best = null;
    for (const ch of this.channels) {
      if (!filterMatches(ch.filterBytes, topic)) {
        continue;
      }
      if (best === null) {
        best = ch;
        continue;
      }
      const c = compareSpecificity(ch.filterBytes, best.filterBytes);
      if (c > 0 || (c === 0 && ch.cid < best.cid)) {
        best = ch;
      }
    }
    return best;
  }

  /**
   * Seals a message (§4.1) on the most specific channel covering topic,
   * with its newest key. Refused when no channel covers the topic, when
   * this identity is not in that channel's publishers (never a less
   * specific channel instead), or mac-only on a channel that does not
   * allow it.
   * @param {string|Uint8Array} topic
   * @param {string|Uint8Array} plaintext
   * @param {number|bigint} [nowMs=Date.now()] time_ms of the envelope
   * @param {{mode?: 'signed'|'mac'}} [opts]
   * @returns {Uint8Array} the envelope
   * @throws {SecmqError} `no_channel`, `not_publisher`, `mode_refused`,
   *   `bad_seq` (nextSeq went backwards), `bad_input`.
   */
  seal(topic, plaintext, nowMs, opts = {}) {
    const now = toBigNow(nowMs);
    const mode = opts.mode || 'signed';
    const ch = this.channelFor(topic);
    if (ch === null) {
      throw new SecmqError('no_channel', 'seal: no channel covers this topic');
    }
    if (!ch.publishers.some((p) => bytesEqual(p, this.identity.pk))) {
      throw new SecmqError('not_publisher', `seal: this identity is not a publisher of '${ch.filter}'`);
    }
    if (mode === 'mac' && !ch.allowMac) {
      throw new SecmqError('mode_refused', `seal: '${ch.filter}' does not allow mac-only`);
    }
    const kid = toHex(ch.keyId);
    const last = this.sent.has(kid) ? this.sent.get(kid) : null;
    let seq;
    try {
      seq = this.nextSeq
        ? toUint(this.nextSeq(kid, { nowMs: now, last }), 64, 'nextSeq')
        : (last !== null && last + 1n > now * 1000n ? last + 1n : now * 1000n);
    } catch (e) {
      throw new SecmqError('bad_seq', `seal: ${e.message}`);
    }
    // SECURITY: a seq never repeats under a key (§4).
    if (last !== null && seq <= last) {
      throw new SecmqError('bad_seq', `seal: nextSeq gave ${seq}, not above ${last}`);
    }
    const env = sealEnvelope({
      topic, plaintext, channelKey: ch.key, keyId: ch.keyId, senderId: this.identity.id,
      senderSk: this.identity.sk, seq, timeMs: now, mode,
    });
    this.sent.set(kid, seq);
    return env;
  }

  /* §4.2 step 2: [channel, key, prev] or throws. */
  findKey(topicBytes, keyId, now) {
    for (const ch of this.channels) {
      const cur = bytesEqual(ch.keyId, keyId);
      const prev = !cur && ch.prevKeyId !== null && bytesEqual(ch.prevKeyId, keyId);
      if ((!cur && !prev) || !filterMatches(ch.filterBytes, topicBytes)) {
        continue;
      }
      if (cur) {
        return [ch, ch.key, false];
      }
      // SECURITY: the previous key dies at its grace deadline.
      if (now > ch.graceMs) {
        throw new OpenError('key_expired');
      }
      if (ch.prevKey === null) {
        throw new OpenError('unknown_key', 'a previous key this member never held');
      }
      return [ch, ch.prevKey, true];
    }
    throw new OpenError('unknown_key');
  }

  /* §4.2 step 5's known identities: [pk, name, publisher] or [null, null, false]. */
  findSender(ch, senderId) {
    for (const p of ch.publishers) {
      if (bytesEqual(identityId(p), senderId)) {
        return [p, this.nameOf(p) || toHex(senderId), true];
      }
    }
    if (bytesEqual(this.identity.id, senderId)) {
      return [this.identity.pk, this.identity.name, false];
    }
    for (const peer of this.peers) {
      if (bytesEqual(peer.id, senderId)) {
        return [peer.pk, peer.name, false];
      }
    }
    return [null, null, false];
  }

  /* The name of a key: this identity's or a peer's, else null. */
  nameOf(pk) {
    if (bytesEqual(pk, this.identity.pk)) {
      return this.identity.name;
    }
    const peer = this.peers.find((q) => bytesEqual(q.pk, pk));
    return peer ? peer.name : null;
  }

  /**
   * Opens an envelope (§4.2, steps 1-9 in order) and records its seq in
   * the replay window.
   * @param {string|Uint8Array} topic the topic it arrived on
   * @param {Uint8Array} bytes the envelope
   * @param {number|bigint} [nowMs=Date.now()]
   * @returns {{plaintext: Uint8Array, sender: string, senderId: string,
   *   mode: 'signed'|'mac', seq: bigint, timeMs: bigint, keyId: string,
   *   filter: string, previousKey: boolean}} sender is the peer's or this
   *   identity's name, else (a publisher known only from the grant) 16
   *   hex digits of its id; senderId and keyId are hex
   * @throws {OpenError} with the reason of the first step that fails;
   *   plaintext decrypted before a refusal is wiped.
   */
  open(topic, bytes, nowMs) {
    const now = toBigNow(nowMs);
    const { fields, topicBytes } = checkEnvelope(bytes, topic);
    const [ch, key, prev] = this.findKey(topicBytes, fields.keyId, now);
    if (fields.mode === MODE_MAC && !ch.allowMac) {
      throw new OpenError('mode_refused');
    }
    const [pk, name, publisher] = this.findSender(ch, fields.senderId);
    const mk = messageKey(key);
    let plaintext;
    try {
      ({ plaintext } = openEnvelope(bytes, topicBytes, { messageKey: mk, senderPk: pk }));
    } finally {
      wipe(mk);
    }
    const winKey = `${toHex(fields.keyId)}/${toHex(fields.senderId)}`;
    let why = null;
    if (!publisher) {
      // Step 6; in mac-only mode the claimed sender only (§4.3).
      why = 'unauthorised';
    } else if (this.maxAgeMs > 0) {
      const age = now > fields.timeMs ? now - fields.timeMs : fields.timeMs - now;
      if (age > BigInt(this.maxAgeMs)) {
        why = 'too_old';
      }
    }
    const win = this.windows.get(winKey) || new ReplayWindow();
    if (why === null && !win.check(fields.seq)) {
      why = 'replay';
    }
    if (why !== null) {
      // SECURITY: plaintext of a refused envelope is never delivered.
      wipe(plaintext);
      throw new OpenError(why, `sender ${name || toHex(fields.senderId)}, seq ${fields.seq}`);
    }
    win.commit(fields.seq);
    this.windows.set(winKey, win);
    return {
      plaintext,
      sender: name,
      senderId: toHex(fields.senderId),
      mode: fields.modeName,
      seq: fields.seq,
      timeMs: fields.timeMs,
      keyId: toHex(fields.keyId),
      filter: ch.filter,
      previousKey: prev,
    };
  }

  /**
   * Everything to store, as JSON-ready data (keys in base64, ids in hex,
   * u64 as decimal strings). It holds the identity's seed and every
   * channel key: encrypt it before it reaches any storage. Replay windows
   * are kept as their tops (§4.2: after a restore every seq ≤ top is seen).
   * @returns {object}
   */
  toJSON() {
    return {
      format: JSON_FORMAT,
      version: JSON_VERSION,
      identity: { name: this.identity.name, seed: toBase64(this.identity.seed) },
      peers: this.peers.map((p) => ({ name: p.name, pk: toBase64(p.pk) })),
      channels: this.channels.map((c) => ({
        filter: toBase64(c.filterBytes),
        ownerPk: toBase64(c.ownerPk),
        memberPk: toBase64(c.memberPk),
        keyId: toHex(c.keyId),
        key: toBase64(c.key),
        epoch: c.epoch,
        createdMs: String(c.createdMs),
        prevKeyId: c.prevKeyId ? toHex(c.prevKeyId) : null,
        prevKey: c.prevKey ? toBase64(c.prevKey) : null,
        graceMs: String(c.graceMs),
        flags: c.flags,
        publishers: c.publishers.map(toBase64),
      })),
      replay: [...this.windows].map(([k, w]) => ({ keyId: k.slice(0, 16), senderId: k.slice(17), top: String(w.top) })),
      sent: [...this.sent].map(([k, s]) => ({ keyId: k, seq: String(s) })),
      maxAgeMs: this.maxAgeMs,
    };
  }

  /**
   * A keyring from what toJSON() gave (an object or its JSON text). Every
   * field is checked; channels are checked against the grant rules that
   * do not need the signature (§5.1 rules 3-6; the grant itself is not
   * kept, so the stored data must come from an authenticated store).
   * @param {object|string} data
   * @param {{nextSeq?: Function}} [opts]
   * @returns {Keyring}
   * @throws {SecmqError} `bad_json` naming the first field that is wrong.
   */
  static fromJSON(data, opts = {}) {
    let d = data;
    try {
      if (typeof d === 'string') {
        d = JSON.parse(d);
      }
    } catch {
      throw new SecmqError('bad_json', 'keyring JSON: not JSON');
    }
    const bad = (what) => new SecmqError('bad_json', `keyring JSON: ${what}`);
    if (!d || d.format !== JSON_FORMAT || d.version !== JSON_VERSION) {
      throw bad('not a secmq keyring (format/version)');
    }
    const b64 = (s, n, what) => {
      const b = fromBase64Exact(s, n);
      if (b === null) {
        throw bad(what);
      }
      return b;
    };
    const hex = (s, what) => {
      if (typeof s !== 'string' || !/^[0-9a-f]{16}$/.test(s)) {
        throw bad(what);
      }
      return fromHex(s);
    };
    const u64 = (s, what) => {
      if (typeof s !== 'string' || !/^(0|[1-9][0-9]{0,19})$/.test(s) || BigInt(s) > MASK64) {
        throw bad(what);
      }
      return BigInt(s);
    };
    const list = (v, what) => {
      if (!Array.isArray(v)) {
        throw bad(what);
      }
      return v;
    };
    if (!d.identity || !nameValid(d.identity.name)) {
      throw bad('identity');
    }
    if (!Number.isSafeInteger(d.maxAgeMs) || d.maxAgeMs < 0) {
      throw bad('maxAgeMs');
    }
    const kr = new Keyring(fromSeed(d.identity.name, b64(d.identity.seed, 32, 'identity seed')), {
      maxAgeMs: d.maxAgeMs,
      nextSeq: opts.nextSeq,
    });
    for (const p of list(d.peers, 'peers')) {
      if (!p || !nameValid(p.name)) {
        throw bad('peer name');
      }
      kr.addPeer({ name: p.name, pk: b64(p.pk, 32, 'peer key') });
    }
    for (const c of list(d.channels, 'channels')) {
      if (!c || typeof c !== 'object') {
        throw bad('channel');
      }
      const filterBytes = b64(c.filter, undefined, 'channel filter');
      if (!filterValid(filterBytes)) {
        throw bad('channel filter');
      }
      const ownerPk = b64(c.ownerPk, 32, 'channel ownerPk');
      const memberPk = b64(c.memberPk, 32, 'channel memberPk');
      const publishers = list(c.publishers, 'channel publishers').map((p) => b64(p, 32, 'channel publisher'));
      const flags = c.flags;
      const keyId = hex(c.keyId, 'channel keyId');
      const prevKeyId = c.prevKeyId === null ? null : hex(c.prevKeyId, 'channel prevKeyId');
      if (!Number.isInteger(flags) || (flags & ~(FLAG_MAY_PUBLISH | FLAG_ALLOW_MAC)) !== 0 || flags > 3 ||
          publishers.length === 0 || new Set(publishers.map(toHex)).size !== publishers.length ||
          ((flags & FLAG_MAY_PUBLISH) !== 0) !== publishers.some((p) => bytesEqual(p, memberPk)) ||
          !Number.isInteger(c.epoch) || c.epoch < 1 || c.epoch > 0xffffffff ||
          (prevKeyId !== null && bytesEqual(prevKeyId, keyId))) {
        throw bad('channel fields');
      }
      if (!bytesEqual(memberPk, kr.identity.pk)) {
        throw bad('channel memberPk is not this identity');
      }
      const cid = channelId(ownerPk, filterBytes);
      if (kr.channels.some((x) => x.cid === cid)) {
        throw bad('channel listed twice');
      }
      kr.channels.push({
        cid,
        filter: new TextDecoder().decode(filterBytes),
        filterBytes,
        ownerPk,
        memberPk,
        keyId,
        key: b64(c.key, 32, 'channel key'),
        epoch: c.epoch,
        createdMs: u64(c.createdMs, 'channel createdMs'),
        prevKeyId,
        prevKey: c.prevKey === null || prevKeyId === null ? null : b64(c.prevKey, 32, 'channel prevKey'),
        graceMs: u64(c.graceMs, 'channel graceMs'),
        flags,
        mayPublish: (flags & FLAG_MAY_PUBLISH) !== 0,
        allowMac: (flags & FLAG_ALLOW_MAC) !== 0,
        publishers,
      });
    }
    for (const r of list(d.replay, 'replay')) {
      const k = `${toHex(hex(r && r.keyId, 'replay keyId'))}/${toHex(hex(r.senderId, 'replay senderId'))}`;
      kr.windows.set(k, ReplayWindow.restored(u64(r.top, 'replay top')));
    }
    for (const s of list(d.sent, 'sent')) {
      kr.sent.set(toHex(hex(s && s.keyId, 'sent keyId')), u64(s.seq, 'sent seq'));
    }
    kr.pruneWindows();
    return kr;
  }

  /** Wipes the identity's secrets and every channel key; the keyring is unusable after. */
  wipe() {
    for (const c of this.channels) {
      wipe(c.key, c.prevKey);
    }
    wipeIdentity(this.identity);
    this.channels = [];
    this.windows.clear();
  }
}

