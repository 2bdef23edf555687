// proto.js -- the page's one door to the protocol modules (src/secmq/).
//
// Thin: turns what the page has (file text and bytes, a passphrase, the
// time) into calls of the modules and their results into what the page
// shows (names, hex ids). Every cryptographic decision is the modules';
// nothing here seals, opens or checks anything itself.
import * as secmq from '../src/secmq/index.js';
import * as store from './store.js';

export const { OpenError, sealWithPassphrase, openWithPassphrase } = secmq;

const REPLAY_RECORD = 'replay';
const LAST_RECORD = 'last';
let replayTops = {};     // "keyIdHex/senderIdHex" -> top (decimal string)
let lastOpened = {};     // topic -> the envelope last opened on it
let nextSeq = null;      // (keyIdHex) => number, set by setSeqSource

/** Load libsodium and the stored replay tops. */
export async function ready() {
  await secmq.ready();
  replayTops = (await store.get(REPLAY_RECORD)) || {};
  lastOpened = (await store.get(LAST_RECORD)) || {};
}

/**
 * Where sequence numbers come from (seq.js's SeqReservations.take).
 * @param {(keyIdHex: string) => number} fn
 */
export function setSeqSource(fn) {
  nextSeq = fn;
}

/** A new identity named name (throws IdentityError for a bad name). */
export function createIdentity(name) {
  return secmq.createIdentity(name);
}

/** A secret identity file's text, parsed (§2.1; throws IdentityError). */
export function parseSecretIdentity(text) {
  return secmq.parseSecretIdentity(text);
}

/** A public identity file's text, parsed (§2.2; throws IdentityError). */
export function parsePublicIdentity(text) {
  return secmq.parsePublicIdentity(text);
}

function keyringOpts() {
  return { nextSeq: (kid) => nextSeq(kid) };
}

/** A keyring holding only idn (kept, wiped with the keyring). */
export function newKeyring(idn) {
  return new secmq.Keyring(idn, keyringOpts());
}

/** {name, idHex} of the keyring's identity. */
export function identityOf(kr) {
  return { name: kr.identity.name, idHex: secmq.toHex(kr.identity.id) };
}

/** The public identity file (§2.2) of the keyring's identity. */
export function formatPublicIdentity(kr) {
  return secmq.formatPublicIdentity(kr.identity);
}

/** Trust pub (a parsed public identity). */
export function addPeer(kr, pub) {
  kr.addPeer(pub);
}

function nameOf(kr, pk) {
  return kr.nameOf(pk) || secmq.toHex(secmq.identityId(pk));
}

/**
 * Import a grant file; returns {filter, owner} of its channel.
 * @throws {GrantError} with .reason (§5.1, §5.2)
 */
export function addGrant(kr, bytes) {
  const ch = kr.importGrant(bytes);
  return { filter: ch.filter, owner: nameOf(kr, ch.ownerPk) };
}

/** The trusted peers: [{name, idHex}]. */
export function peersOf(kr) {
  return kr.peers.map((p) => ({ name: p.name, idHex: secmq.toHex(p.id) }));
}

/** The channels held: [{filter, keyIdHex, owner, mayPublish}]. */
export function channelsOf(kr) {
  return kr.channels.map((c) => ({ filter: c.filter,
                                   keyIdHex: secmq.toHex(c.keyId),
                                   owner: nameOf(kr, c.ownerPk),
                                   mayPublish: c.mayPublish }));
}

/** Key ids (hex) a seal on topic may use: the channel that would seal it. */
export function publishKeyIds(kr, topic) {
  const ch = kr.channelFor(topic);
  return ch === null ? [] : [secmq.toHex(ch.keyId)];
}

/**
 * Seal text on topic (signed); the sequence number comes from the source
 * set with setSeqSource.
 * @throws {SecmqError} no channel, not a publisher, ...
 */
export function seal(kr, topic, text, nowMs) {
  return kr.seal(topic, text, nowMs);
}

/**
 * Open an envelope received on topic (§4.2) and store the new replay top
 * of its stream.
 * @returns {{plaintext: Uint8Array, sender: string, mode: string,
 *   seq: bigint, timeMs: number}}
 * @throws {OpenError} with .reason
 */
export function open(kr, topic, bytes, nowMs) {
  const m = kr.open(topic, bytes, nowMs);
  const k = `${m.keyId}/${m.senderId}`;
  replayTops[k] = String(kr.windows.get(k).top);
  lastOpened[topic] = bytes.slice();
  store.put(REPLAY_RECORD, { ...replayTops }).catch(() => {});
  store.put(LAST_RECORD, { ...lastOpened }).catch(() => {});
  return result(m);
}

function result(m) {
  return { plaintext: m.plaintext, sender: m.sender, mode: m.mode,
           seq: m.seq, timeMs: Number(m.timeMs) };
}

/**
 * A retained message refused as a replay after a reload is, when its
 * bytes are exactly those of the envelope last opened on its topic, that
 * same message again (the broker keeps the last status and sends it at
 * every subscription): open it once more, without the replay check, so
 * the page can show the state it showed before. Any other replay stays
 * refused.
 * @returns {object|null} as open() returns, or null when it is not the
 *   last envelope opened on topic
 * @throws {OpenError} when it does not open without the replay check
 */
export function reopenLast(kr, topic, bytes, nowMs) {
  const last = lastOpened[topic];
  if (!(last instanceof Uint8Array) || last.length !== bytes.length ||
      !last.every((x, i) => x === bytes[i])) {
    return null;
  }
  // A copy of the keyring without replay windows; wiped after.
  const copy = secmq.Keyring.fromJSON(kr.toJSON());
  copy.windows.clear();
  try {
    return result(copy.open(topic, bytes, nowMs));
  } finally {
    copy.wipe();
  }
}

/** The keyring as bytes to seal (its JSON; holds every secret). */
export function dump(kr) {
  return new TextEncoder().encode(JSON.stringify(kr.toJSON()));
}

/**
 * A keyring from dump()'s bytes (wiped after), with the replay tops
 * stored since it was sealed: every seq at or below a stream's top is
 * refused as a replay after a reload too.
 */
export function load(bytes) {
  let text;
  try {
    text = new TextDecoder().decode(bytes);
  } finally {
    bytes.fill(0);
  }
  const kr = secmq.Keyring.fromJSON(text, keyringOpts());
  for (const [k, top] of Object.entries(replayTops)) {
    const have = kr.windows.get(k);
    if ((have === undefined || have.top < BigInt(top)) &&
        kr.channels.some((c) => secmq.toHex(c.keyId) === k.slice(0, 16) ||
                                (c.prevKeyId &&
                                 secmq.toHex(c.prevKeyId) === k.slice(0, 16)))) {
      kr.windows.set(k, secmq.ReplayWindow.restored(BigInt(top)));
    }
  }
  return kr;
}

/** Wipe the keyring's secrets (it is unusable after). */
export function wipe(kr) {
  if (kr !== null) {
    kr.wipe();
  }
}
