// Round trips through the Keyring (PROTOCOL.md §3, §4.1, §4.2, §5.2):
// seal in JS and open in JS, each refusal of §4.2 with its reason and in
// its order, replay, the previous key within and after its grace, a
// member that is not a publisher, and the keyring's JSON.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as secmq from '../src/secmq/index.js';

before(async () => {
  await secmq.ready();
});

function reasonOf(fn) {
  try {
    fn();
  } catch (e) {
    return e.reason || e.code || `${e.name}: ${e.message}`;
  }
  return 'ok';
}

const T0 = 1_800_000_000_000;
const dec = (b) => new TextDecoder().decode(b);

/* An owner issuing grants for one filter, as secmq-keys channel create/rotate would. */
function makeOwner(name) {
  const idn = secmq.createIdentity(name);
  return {
    idn,
    grant(member, { filter, epoch = 1, keyId, key, prevKeyId, graceMs = 0, publishers, allowMac = false }) {
      const pubs = publishers.map((p) => p.pk);
      const may = pubs.some((p) => secmq.toHex(p) === secmq.toHex(member.pk));
      const body = secmq.buildGrantBody({
        ownerPk: idn.pk, memberPk: member.pk, keyId, channelKey: key, epoch, createdMs: T0,
        prevKeyId, graceMs, flags: (may ? 1 : 0) | (allowMac ? 2 : 0), filter, publishers: pubs,
      }, idn.sk);
      return secmq.sealGrant(body, member.pk);
    },
  };
}

function setup({ allowMac = false } = {}) {
  const owner = makeOwner('owner');
  const sam = secmq.createIdentity('sam');
  const alice = secmq.createIdentity('alice');
  const k1 = { keyId: secmq.fromHex('0101010101010101'), key: new Uint8Array(32).fill(0x11) };
  const opts = { filter: 'home/+/status', publishers: [sam], allowMac, ...k1 };
  const samKr = new secmq.Keyring(sam, { peers: [secmq.formatPublicIdentity(owner.idn)] });
  const aliceKr = new secmq.Keyring(alice, { peers: [owner.idn, { name: 'sam', pk: sam.pk }] });
  samKr.importGrant(owner.grant(sam, opts));
  aliceKr.importGrant(owner.grant(alice, opts));
  return { owner, sam, alice, samKr, aliceKr, opts, k1 };
}

test('seal in JS, open in JS: plaintext, sender name, mode and seq; replay refused', () => {
  const { samKr, aliceKr } = setup();
  const env = samKr.seal('home/hall/status', 'on', T0);
  assert.equal(env.length, 2 + secmq.OVERHEAD_SIGNED);
  const r = aliceKr.open('home/hall/status', env, T0 + 5);
  assert.equal(dec(r.plaintext), 'on');
  assert.equal(r.sender, 'sam');
  assert.equal(r.mode, 'signed');
  assert.equal(r.seq, BigInt(T0) * 1000n);
  assert.equal(r.filter, 'home/+/status');
  assert.equal(reasonOf(() => aliceKr.open('home/hall/status', env, T0 + 6)), 'replay');
  // The next ones open, also out of order within the window.
  const e2 = samKr.seal('home/hall/status', 'off', T0);
  const e3 = samKr.seal('home/hall/status', 'on', T0);
  assert.equal(dec(aliceKr.open('home/hall/status', e3, T0).plaintext), 'on');
  assert.equal(dec(aliceKr.open('home/hall/status', e2, T0).plaintext), 'off');
  assert.equal(reasonOf(() => aliceKr.open('home/hall/status', e2, T0)), 'replay');
  // On another topic of the same channel: bad_tag (the topic is bound).
  const e4 = samKr.seal('home/hall/status', 'x', T0);
  assert.equal(reasonOf(() => aliceKr.open('home/kitchen/status', e4, T0)), 'bad_tag');
  // Outside every channel: unknown_key.
  assert.equal(reasonOf(() => aliceKr.open('garden/status', e4, T0)), 'unknown_key');
});

test('the replay window is 64 wide, as PROTOCOL.md §4.2 and replay.c', () => {
  const w = new secmq.ReplayWindow();
  assert.ok(w.commit(100n));
  assert.ok(!w.commit(100n));
  assert.ok(w.commit(37n), '63 behind: inside');
  assert.ok(!w.check(36n), '64 behind: refused');
  assert.ok(w.commit(99n));
  assert.ok(!w.check(99n));
  assert.ok(w.commit(200n), 'a jump of 100 clears the bitmap');
  assert.ok(w.check(137n) && !w.check(136n));
  assert.ok(!w.check(99n));
  const r = secmq.ReplayWindow.restored(500n);
  assert.ok(!r.check(500n) && !r.check(499n) && !r.check(437n) && r.check(501n));
  const z = new secmq.ReplayWindow();
  assert.ok(z.commit(0n), 'seq 0 on an empty window');
  assert.ok(!z.commit(0n));
});

test('a member that is not a publisher cannot seal; a forged envelope from it is unauthorised', () => {
  const { alice, aliceKr, samKr, k1 } = setup();
  assert.equal(reasonOf(() => aliceKr.seal('home/hall/status', 'x', T0)), 'not_publisher');
  // Alice seals with the channel key herself: sam (a member) refuses it.
  const forged = secmq.seal({
    topic: 'home/hall/status', plaintext: 'x', channelKey: k1.key, keyId: k1.keyId,
    senderId: alice.id, senderSk: alice.sk, seq: 1, timeMs: T0,
  });
  samKr.addPeer({ name: 'alice', pk: alice.pk });
  assert.equal(reasonOf(() => samKr.open('home/hall/status', forged, T0)), 'unauthorised');
  // Not a peer and not in the grant: unknown_sender.
  const stranger = secmq.createIdentity('stranger');
  const s = secmq.seal({
    topic: 'home/hall/status', plaintext: 'x', channelKey: k1.key, keyId: k1.keyId,
    senderId: stranger.id, senderSk: stranger.sk, seq: 1, timeMs: T0,
  });
  assert.equal(reasonOf(() => samKr.open('home/hall/status', s, T0)), 'unknown_sender');
  // Claiming sam's id with alice's key: bad_signature.
  const claim = secmq.seal({
    topic: 'home/hall/status', plaintext: 'x', channelKey: k1.key, keyId: k1.keyId,
    senderId: secmq.identityId(samKr.identity.pk), senderSk: alice.sk, seq: 1, timeMs: T0,
  });
  assert.equal(reasonOf(() => aliceKr.open('home/hall/status', claim, T0)), 'bad_signature');
});

test('mac-only: refused on channels that do not allow it, checked against the claimed sender', () => {
  const a = setup();
  assert.equal(reasonOf(() => a.samKr.seal('home/x/status', 'x', T0, { mode: 'mac' })), 'mode_refused');
  const mac = secmq.seal({
    topic: 'home/x/status', plaintext: 'x', channelKey: a.k1.key, keyId: a.k1.keyId,
    senderId: a.sam.id, seq: 1, timeMs: T0, mode: 'mac',
  });
  assert.equal(reasonOf(() => a.aliceKr.open('home/x/status', mac, T0)), 'mode_refused');
  const b = setup({ allowMac: true });
  const env = b.samKr.seal('home/x/status', 'm', T0, { mode: 'mac' });
  assert.equal(env.length, 1 + secmq.OVERHEAD_MAC);
  const r = b.aliceKr.open('home/x/status', env, T0);
  assert.equal(r.mode, 'mac');
  assert.equal(r.sender, 'sam');
  const claimAlice = secmq.seal({
    topic: 'home/x/status', plaintext: 'x', channelKey: b.k1.key, keyId: b.k1.keyId,
    senderId: b.alice.id, seq: 1, timeMs: T0, mode: 'mac',
  });
  assert.equal(reasonOf(() => b.samKr.open('home/x/status', claimAlice, T0)), 'unauthorised');
});

test('the order of §4.2: malformed and version before keys, unknown_key before the tag', () => {
  const { samKr, aliceKr } = setup();
  const env = samKr.seal('home/a/status', 'x', T0);
  assert.equal(reasonOf(() => aliceKr.open('home/a/status', new Uint8Array(0), T0)), 'malformed');
  assert.equal(reasonOf(() => aliceKr.open('home/a/status', Uint8Array.of(2), T0)), 'version');
  assert.equal(reasonOf(() => aliceKr.open('home/a/status', Uint8Array.of(1), T0)), 'malformed');
  assert.equal(reasonOf(() => aliceKr.open('home/a/status', env.subarray(0, 137), T0)), 'malformed');
  assert.equal(reasonOf(() => aliceKr.open('home/+/status', env, T0)), 'malformed');
  assert.equal(reasonOf(() => aliceKr.open('home/' + 'a'.repeat(4092), env, T0)), 'malformed');
  const v2 = env.slice();
  v2[0] = 2;
  v2[1] = 9;
  assert.equal(reasonOf(() => aliceKr.open('home/a/status', v2, T0)), 'version');
  const k = env.slice();
  k[2] ^= 1;
  k[60] ^= 1;
  assert.equal(reasonOf(() => aliceKr.open('home/a/status', k, T0)), 'unknown_key');
});

test('maximum age: too_old in both directions, checked before the replay window', () => {
  const { samKr, aliceKr } = setup();
  aliceKr.maxAgeMs = 1000;
  const env = samKr.seal('home/a/status', 'x', T0);
  assert.equal(reasonOf(() => aliceKr.open('home/a/status', env, T0 + 1001)), 'too_old');
  assert.equal(reasonOf(() => aliceKr.open('home/a/status', env, T0 - 1001)), 'too_old');
  assert.equal(reasonOf(() => aliceKr.open('home/a/status', env, T0 + 1000)), 'ok');
  assert.equal(reasonOf(() => aliceKr.open('home/a/status', env, T0 + 5000)), 'too_old');
});

test('rotation: the previous key opens within its grace, key_expired after, older keys are gone', () => {
  const { owner, sam, alice, samKr, aliceKr, opts, k1 } = setup();
  const old = samKr.seal('home/a/status', 'under k1', T0);
  const k2 = { keyId: secmq.fromHex('0202020202020202'), key: new Uint8Array(32).fill(0x22) };
  const grace = T0 + 60_000;
  const r2 = { ...opts, ...k2, epoch: 2, prevKeyId: k1.keyId, graceMs: grace };
  samKr.importGrant(owner.grant(sam, r2));
  const ch = aliceKr.importGrant(owner.grant(alice, r2));
  assert.equal(secmq.toHex(ch.prevKey), secmq.toHex(k1.key));
  const fresh = samKr.seal('home/a/status', 'under k2', T0 + 1);
  assert.equal(secmq.toHex(secmq.parseEnvelope(fresh).keyId), '0202020202020202', 'senders use the newest key');
  assert.equal(dec(aliceKr.open('home/a/status', fresh, T0 + 2).plaintext), 'under k2');
  assert.equal(reasonOf(() => aliceKr.open('home/a/status', old, grace + 1)), 'key_expired');
  const r = aliceKr.open('home/a/status', old, grace);
  assert.equal(dec(r.plaintext), 'under k1');
  assert.ok(r.previousKey);
  // Replaying the same old grant again is refused.
  assert.equal(reasonOf(() => aliceKr.importGrant(owner.grant(alice, opts))), 'replayed');
  // Epoch 3 without grace: k1 is unknown, k2 expired at once.
  const k3 = { keyId: secmq.fromHex('0303030303030303'), key: new Uint8Array(32).fill(0x33) };
  aliceKr.importGrant(owner.grant(alice, { ...opts, ...k3, epoch: 3, prevKeyId: k2.keyId, graceMs: 0 }));
  const fresh2 = samKr.seal('home/a/status', 'k2 again', T0 + 3);
  assert.equal(reasonOf(() => aliceKr.open('home/a/status', fresh2, T0 + 4)), 'key_expired');
  assert.equal(reasonOf(() => aliceKr.open('home/a/status', old, T0 + 4)), 'unknown_key');
});

test('a member that skipped an epoch: unknown_key within the grace, key_expired after it', () => {
  const { owner, alice, aliceKr, opts } = setup();
  const k2 = { keyId: secmq.fromHex('0202020202020202'), key: new Uint8Array(32).fill(0x22) };
  const k3 = { keyId: secmq.fromHex('0303030303030303'), key: new Uint8Array(32).fill(0x33) };
  const grace = T0 + 1000;
  aliceKr.importGrant(owner.grant(alice, { ...opts, ...k3, epoch: 3, prevKeyId: k2.keyId, graceMs: grace }));
  const underK2 = secmq.seal({
    topic: 'home/a/status', plaintext: 'x', channelKey: k2.key, keyId: k2.keyId,
    senderId: secmq.identityId(opts.publishers[0].pk), senderSk: opts.publishers[0].sk, seq: 1, timeMs: T0,
  });
  assert.equal(reasonOf(() => aliceKr.open('home/a/status', underK2, grace)), 'unknown_key');
  assert.equal(reasonOf(() => aliceKr.open('home/a/status', underK2, grace + 1)), 'key_expired');
});

test('a publisher removed at a rotation is refused under the previous key too', () => {
  const { owner, alice, samKr, aliceKr, opts, k1 } = setup();
  const old = samKr.seal('home/a/status', 'x', T0);
  const k2 = { keyId: secmq.fromHex('0202020202020202'), key: new Uint8Array(32).fill(0x22) };
  aliceKr.importGrant(owner.grant(alice, {
    ...opts, ...k2, epoch: 2, prevKeyId: k1.keyId, graceMs: T0 + 60_000, publishers: [owner.idn],
  }));
  assert.equal(reasonOf(() => aliceKr.open('home/a/status', old, T0)), 'unauthorised', 'sam is a trusted peer');
  aliceKr.peers = aliceKr.peers.filter((p) => p.name !== 'sam');
  assert.equal(reasonOf(() => aliceKr.open('home/a/status', old, T0)), 'unknown_sender');
});

test('grants: untrusted owner, for another member, not for me', () => {
  const { owner, alice, aliceKr, samKr, opts } = setup();
  const mallory = makeOwner('mallory');
  assert.equal(reasonOf(() => aliceKr.importGrant(mallory.grant(alice, { ...opts, epoch: 5 }))), 'untrusted_owner');
  assert.equal(reasonOf(() => samKr.importGrant(owner.grant(alice, { ...opts, epoch: 5 }))), 'not_for_me');
  // §5.2 step 5: sealed to alice, but the body names sam as the member.
  const sam = samKr.identity;
  const body = secmq.buildGrantBody({
    ownerPk: owner.idn.pk, memberPk: sam.pk, keyId: opts.keyId, channelKey: opts.key, epoch: 5,
    createdMs: T0, flags: 1, filter: opts.filter, publishers: [sam.pk],
  }, owner.idn.sk);
  assert.equal(reasonOf(() => aliceKr.importGrant(secmq.sealGrant(body, alice.pk))), 'not_for_me');
  // Steps 1 and 3: not a grant file; a box that does not open.
  const g = owner.grant(alice, { ...opts, epoch: 5 });
  assert.equal(reasonOf(() => aliceKr.importGrant(g.subarray(0, 63))), 'malformed');
  const box = g.slice();
  box[20] ^= 0x01;
  assert.equal(reasonOf(() => aliceKr.importGrant(box)), 'bad_seal');
  assert.equal(aliceKr.importGrant(g).epoch, 5, 'the intact grant is accepted');
});

test('nextSeq: the callback is used, per key id, and may not go backwards', () => {
  const { sam, samKr, aliceKr } = setup();
  const calls = [];
  let n = 10n;
  const kr = new secmq.Keyring(sam, {
    peers: samKr.peers, channels: samKr.channels,
    nextSeq: (keyId, info) => { calls.push([keyId, info.last]); n += 1n; return n; },
  });
  aliceKr.open('home/a/status', kr.seal('home/a/status', 'a', T0), T0);
  const r = aliceKr.open('home/a/status', kr.seal('home/a/status', 'b', T0), T0);
  assert.equal(r.seq, 12n);
  assert.deepEqual(calls, [['0101010101010101', null], ['0101010101010101', 11n]]);
  n = 5n;
  assert.equal(reasonOf(() => kr.seal('home/a/status', 'c', T0)), 'bad_seq');
});

test('toJSON / fromJSON: keys, peers, channels and replay tops survive; bad JSON is refused', () => {
  const { samKr, aliceKr } = setup();
  const e1 = samKr.seal('home/a/status', 'one', T0);
  aliceKr.open('home/a/status', e1, T0);
  const text = JSON.stringify(aliceKr);
  const back = secmq.Keyring.fromJSON(text);
  assert.equal(back.identity.name, 'alice');
  assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(text));
  assert.equal(reasonOf(() => back.open('home/a/status', e1, T0)), 'replay', 'the restored top refuses it');
  const e2 = samKr.seal('home/a/status', 'two', T0);
  assert.equal(dec(back.open('home/a/status', e2, T0).plaintext), 'two');
  // The sender's own counter survives too.
  const sam2 = secmq.Keyring.fromJSON(JSON.stringify(samKr));
  const e3 = sam2.seal('home/a/status', 'three', T0);
  assert.ok(secmq.parseEnvelope(e3).seq > secmq.parseEnvelope(e2).seq);
  const d = JSON.parse(text);
  for (const [what, change] of [
    ['format', (x) => { x.format = 'other'; }],
    // 'B' and 'C' set bits that the canonical spelling of 32 bytes leaves zero.
    ['seed', (x) => { x.identity.seed = `${x.identity.seed.slice(0, 42)}${x.identity.seed[42] === 'B' ? 'C' : 'B'}=`; }],
    ['seed length', (x) => { x.identity.seed = 'AAAA'; }],
    ['flags', (x) => { x.channels[0].flags = 4; }],
    ['publisher mismatch', (x) => { x.channels[0].flags = 1; }],
    ['key length', (x) => { x.channels[0].key = 'AAAA'; }],
    ['top', (x) => { x.replay[0].top = '-1'; }],
    ['filter', (x) => { x.channels[0].filter = Buffer.from('a/#/b').toString('base64'); }],
  ]) {
    const c = structuredClone(d);
    change(c);
    assert.equal(reasonOf(() => secmq.Keyring.fromJSON(c)), 'bad_json', what);
  }
  assert.equal(reasonOf(() => secmq.Keyring.fromJSON('{')), 'bad_json');
});

test('envelope sealing refuses what cannot be bound', () => {
  const idn = secmq.createIdentity('x');
  const base = {
    plaintext: 'x', channelKey: new Uint8Array(32), keyId: new Uint8Array(8), senderId: idn.id,
    senderSk: idn.sk, seq: 1, timeMs: 1,
  };
  for (const topic of ['', 'a/+', 'a/#', 'a\u0000b', 'a'.repeat(4097)]) {
    assert.equal(reasonOf(() => secmq.seal({ ...base, topic })), 'bad_input', JSON.stringify(topic.slice(0, 10)));
  }
  assert.equal(reasonOf(() => secmq.seal({ ...base, topic: 'a'.repeat(4096) })), 'ok');
  assert.equal(reasonOf(() => secmq.seal({ ...base, topic: 'a', seq: -1 })), 'bad_input');
  assert.equal(reasonOf(() => secmq.seal({ ...base, topic: 'a', seq: 2n ** 64n })), 'bad_input');
  assert.equal(reasonOf(() => secmq.seal({ ...base, topic: 'a', mode: 'x' })), 'bad_input');
  const a = secmq.seal({ ...base, topic: 'a' });
  const b = secmq.seal({ ...base, topic: 'a' });
  assert.notEqual(secmq.toHex(a.subarray(34, 58)), secmq.toHex(b.subarray(34, 58)), 'random nonces');
});
