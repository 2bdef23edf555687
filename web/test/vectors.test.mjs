// The JavaScript protocol modules against the C library's known-answer
// vectors (tests/vectors, PROTOCOL.md §7): envelope-v1.json, grant-v1.json
// and channel-v1.json, every entry, reasons exact.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as secmq from '../src/secmq/index.js';

const dir = new URL('../../tests/vectors/', import.meta.url);
const load = (name) => JSON.parse(readFileSync(new URL(name, dir), 'utf8'));
const hex = (h) => secmq.fromHex(h);
const utf = (h) => new TextDecoder().decode(hex(h));

before(async () => {
  await secmq.ready();
});

function reasonOf(fn) {
  try {
    fn();
  } catch (e) {
    return e.reason || `${e.name}: ${e.message}`;
  }
  return 'ok';
}

test('envelope-v1.json vectors: rebuilt byte for byte, open, bound to the topic', () => {
  const v = load('envelope-v1.json');
  assert.equal(v.version, 1);
  assert.ok(v.vectors.length >= 8);
  for (const e of v.vectors) {
    const sender = secmq.fromSeed('sender', hex(e.sender_seed));
    assert.equal(secmq.toHex(sender.pk), e.sender_pk, e.name);
    assert.equal(secmq.toHex(sender.id), e.sender_id, e.name);
    assert.equal(secmq.toHex(secmq.messageKey(hex(e.channel_key))), e.message_key, e.name);
    const topic = utf(secmq.toHex(new TextEncoder().encode(e.topic)));
    const env = secmq.seal({
      topic, plaintext: hex(e.plaintext), channelKey: hex(e.channel_key), keyId: hex(e.key_id),
      senderId: sender.id, senderSk: sender.sk, seq: BigInt(e.seq), timeMs: BigInt(e.time_ms),
      mode: e.mode === 1 ? 'signed' : 'mac', nonce: hex(e.nonce),
    });
    assert.equal(secmq.toHex(env), e.envelope, e.name);
    const f = secmq.parseEnvelope(env);
    assert.equal(f.mode, e.mode);
    assert.equal(f.seq, BigInt(e.seq));
    assert.equal(f.timeMs, BigInt(e.time_ms));
    assert.equal(secmq.toHex(f.keyId), e.key_id);
    const { plaintext } = secmq.openEnvelope(hex(e.envelope), e.topic,
      { channelKey: hex(e.channel_key), senderPk: sender.pk });
    assert.equal(secmq.toHex(plaintext), e.plaintext, e.name);
    assert.equal(reasonOf(() => secmq.openEnvelope(env, `${e.topic}x`,
      { channelKey: hex(e.channel_key), senderPk: sender.pk })), 'bad_tag', e.name);
    if (e.mode === 1) {
      assert.ok(secmq.verifySignature(f, e.topic, sender.pk), e.name);
      assert.equal(env.length, hex(e.plaintext).length + secmq.OVERHEAD_SIGNED);
    } else {
      assert.equal(env.length, hex(e.plaintext).length + secmq.OVERHEAD_MAC);
    }
    // Every single-byte change and every truncation is refused.
    for (let i = 0; i < env.length; i += Math.max(1, Math.floor(env.length / 97))) {
      const bad = env.slice();
      bad[i] ^= 0x01;
      assert.notEqual(reasonOf(() => secmq.openEnvelope(bad, e.topic,
        { channelKey: hex(e.channel_key), senderPk: sender.pk })), 'ok', `${e.name} byte ${i}`);
      assert.notEqual(reasonOf(() => secmq.openEnvelope(env.subarray(0, i), e.topic,
        { channelKey: hex(e.channel_key), senderPk: sender.pk })), 'ok', `${e.name} cut ${i}`);
    }
  }
});

test('envelope-v1.json vectors open through a Keyring as §7 describes the receiver', () => {
  const v = load('envelope-v1.json');
  const receiver = secmq.createIdentity('receiver');
  for (const e of v.vectors) {
    const sender = secmq.fromSeed('sender', hex(e.sender_seed));
    const kr = new secmq.Keyring(receiver, {
      channels: [{
        cid: '00', filter: '#', filterBytes: new TextEncoder().encode('#'), ownerPk: sender.pk,
        memberPk: receiver.pk, keyId: hex(e.key_id), key: hex(e.channel_key), epoch: 1,
        createdMs: 0n, prevKeyId: null, prevKey: null, graceMs: 0n, flags: 2,
        mayPublish: false, allowMac: true, publishers: [sender.pk],
      }],
    });
    const r = kr.open(e.topic, hex(e.envelope), 1700000000000);
    assert.equal(secmq.toHex(r.plaintext), e.plaintext, e.name);
    assert.equal(r.sender, e.sender_id, 'a publisher known only from the grant: its hex id');
    assert.equal(r.mode, e.mode === 1 ? 'signed' : 'mac');
    assert.equal(r.seq, BigInt(e.seq));
    assert.equal(reasonOf(() => kr.open(e.topic, hex(e.envelope), 1700000000000)), 'replay', e.name);
  }
});

test('envelope-v1.json negatives: refused with exactly the reason given', () => {
  const v = load('envelope-v1.json');
  assert.ok(v.negative.length >= 18);
  const seen = new Set();
  for (const n of v.negative) {
    const got = reasonOf(() => secmq.openEnvelope(hex(n.envelope), n.topic,
      { channelKey: hex(n.channel_key), senderPk: hex(n.sender_pk) }));
    assert.equal(got, n.expect, n.name);
    seen.add(got);
  }
  for (const r of ['bad_tag', 'bad_signature', 'version', 'malformed']) {
    assert.ok(seen.has(r), `a negative with reason ${r}`);
  }
});

function grantFields(e) {
  return {
    ownerPk: hex(e.owner_pk), memberPk: hex(e.member_pk), keyId: hex(e.key_id),
    channelKey: hex(e.channel_key), epoch: e.epoch, createdMs: BigInt(e.created_ms),
    prevKeyId: hex(e.prev_key_id), graceMs: BigInt(e.grace_ms), flags: e.flags,
    filter: e.filter, publishers: e.publishers.map(hex),
  };
}

test('grant-v1.json vectors: bodies rebuilt and parsed, grants opened and accepted', () => {
  const v = load('grant-v1.json');
  assert.equal(v.version, 1);
  assert.ok(v.vectors.length >= 4);
  for (const e of v.vectors) {
    const owner = secmq.fromSeed('owner', hex(e.owner_seed));
    const member = secmq.fromSeed('member', hex(e.member_seed));
    assert.equal(secmq.toHex(owner.pk), e.owner_pk, e.name);
    assert.equal(secmq.toHex(member.pk), e.member_pk, e.name);
    assert.equal(secmq.toHex(member.id), e.member_id, e.name);
    const fields = grantFields(e);
    assert.equal(secmq.toHex(secmq.buildGrantBody(fields, owner.sk)), e.body, e.name);
    const g = secmq.parseGrantBody(hex(e.body));
    assert.equal(secmq.toHex(g.ownerPk), e.owner_pk);
    assert.equal(secmq.toHex(g.memberPk), e.member_pk);
    assert.equal(secmq.toHex(g.keyId), e.key_id);
    assert.equal(secmq.toHex(g.channelKey), e.channel_key);
    assert.equal(g.epoch, e.epoch);
    assert.equal(g.createdMs, BigInt(e.created_ms));
    assert.equal(secmq.toHex(g.prevKeyId), e.prev_key_id);
    assert.equal(g.graceMs, BigInt(e.grace_ms));
    assert.equal(g.flags, e.flags);
    assert.equal(g.filter, e.filter);
    assert.deepEqual(g.publishers.map(secmq.toHex), e.publishers);
    // The sealed file opens for its member to the body, for no one else.
    const grant = hex(e.grant);
    assert.equal(secmq.toHex(secmq.openGrant(member, grant)), e.body, e.name);
    const other = secmq.createIdentity('other');
    assert.equal(reasonOf(() => secmq.openGrant(other, grant)), 'not_for_me');
    const owned = secmq.toHex(owner.pk) === e.member_pk;
    const ch = secmq.acceptGrant(member, owned ? [] : [{ name: 'owner', pk: owner.pk }], grant, []);
    assert.equal(ch.filter, e.filter);
    assert.equal(secmq.toHex(ch.key), e.channel_key);
    assert.equal(ch.mayPublish, (e.flags & 1) !== 0);
    assert.equal(ch.allowMac, (e.flags & 2) !== 0);
    assert.equal(ch.prevKey, null, 'no previous key held: nothing was held before');
    if (!owned) {
      assert.equal(reasonOf(() => secmq.acceptGrant(member, [], grant, [])), 'untrusted_owner');
    }
    assert.equal(reasonOf(() => secmq.acceptGrant(member, [owner], grant, [ch])), 'replayed');
    // A changed byte of the sealed box, and of the body, is refused.
    const bad = grant.slice();
    bad[grant.length - 1] ^= 1;
    assert.equal(reasonOf(() => secmq.openGrant(member, bad)), 'bad_seal');
    const body = hex(e.body);
    for (let i = 0; i < body.length; i++) {
      const b = body.slice();
      b[i] ^= 0x01;
      assert.notEqual(reasonOf(() => secmq.parseGrantBody(b)), 'ok', `${e.name} body byte ${i}`);
    }
    assert.equal(reasonOf(() => secmq.parseGrantBody(body.subarray(0, body.length - 1))), 'malformed');
  }
});

test('grant-v1.json negatives: refused with exactly the reason given', () => {
  const v = load('grant-v1.json');
  const owner = secmq.fromSeed('owner', hex(v.vectors[0].owner_seed));
  assert.ok(v.negative.length >= 14);
  const seen = new Set();
  for (const n of v.negative) {
    let got;
    if (n.body !== undefined) {
      got = reasonOf(() => secmq.parseGrantBody(hex(n.body)));
    } else {
      const member = secmq.fromSeed('member', hex(n.member_seed));
      got = reasonOf(() => secmq.acceptGrant(member, [owner], hex(n.grant), []));
    }
    assert.equal(got, n.reason, n.name);
    seen.add(got);
  }
  for (const r of ['malformed', 'bad_signature', 'not_for_me', 'bad_epoch', 'bad_flags',
    'bad_publishers', 'publisher_mismatch']) {
    assert.ok(seen.has(r), `a negative with reason ${r}`);
  }
});

test('grant bodies with receipts or a ratchet are refused as unsupported', () => {
  const e = load('grant-v1.json').vectors[0];
  for (const magic of ['SECMQGB2', 'SECMQGB3']) {
    const b = hex(e.body);
    b.set(new TextEncoder().encode(magic), 0);
    assert.equal(reasonOf(() => secmq.parseGrantBody(b)), 'unsupported', magic);
  }
  const b = hex(e.body);
  b.set(new TextEncoder().encode('SECMQGB9'), 0);
  assert.equal(reasonOf(() => secmq.parseGrantBody(b)), 'malformed');
});

test('channel-v1.json matching: every filter valid, matches exactly as given', () => {
  const v = load('channel-v1.json');
  assert.ok(v.matching.length >= 30);
  for (const m of v.matching) {
    assert.ok(secmq.filterValid(m.filter), m.filter);
    assert.ok(secmq.topicValid(m.topic), m.topic);
    assert.equal(secmq.filterMatches(m.filter, m.topic), m.match, `${m.filter} ~ ${m.topic}`);
  }
});

test('channel-v1.json selection: the most specific channel seals, no ties', () => {
  const v = load('channel-v1.json');
  const me = secmq.createIdentity('me');
  const owner = secmq.createIdentity('owner');
  for (const set of v.selection) {
    const channels = set.filters.map((filter, i) => {
      const body = secmq.buildGrantBody({
        ownerPk: owner.pk, memberPk: me.pk, keyId: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, i),
        channelKey: new Uint8Array(32).fill(i), epoch: 1, createdMs: 0, flags: 1, filter,
        publishers: [me.pk],
      }, owner.sk);
      return secmq.acceptGrant(me, [owner], secmq.sealGrant(body, me.pk), []);
    });
    const kr = new secmq.Keyring(me, { peers: [owner], channels });
    for (const c of set.cases) {
      const ch = kr.channelFor(c.topic);
      assert.equal(ch === null ? null : ch.filter, c.expect, `${set.name}: ${c.topic}`);
      if (c.expect === null) {
        assert.equal(reasonOf(() => kr.seal(c.topic, 'x', 1)), 'SecmqError: seal: no channel covers this topic');
        continue;
      }
      const env = kr.seal(c.topic, 'x', 1);
      assert.equal(secmq.toHex(secmq.parseEnvelope(env).keyId), secmq.toHex(ch.keyId));
      const matching = set.filters.filter((f) => secmq.filterMatches(f, c.topic));
      for (const a of matching) {
        for (const b of matching) {
          const ab = secmq.compareSpecificity(a, b);
          assert.equal(ab === 0, a === b, `${a} vs ${b}`);
          assert.equal(ab + secmq.compareSpecificity(b, a), 0, `${a} vs ${b} antisymmetric`);
        }
      }
    }
  }
});
