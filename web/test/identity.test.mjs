// Identity files (PROTOCOL.md §2.1, §2.2) parsed as strictly as libsecmq
// parses them, and, when build/bin/secmq-keys exists, the files the C
// tools write (init, export) and grants in both directions
// (secmq-keys channel create -> JS, JS -> secmq-keys import).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as secmq from '../src/secmq/index.js';

const KEYS = process.env.SECMQ_KEYS ||
  fileURLToPath(new URL('../../build/bin/secmq-keys', import.meta.url));

before(async () => {
  await secmq.ready();
});

function refusal(fn) {
  try {
    fn();
  } catch (e) {
    assert.equal(e.name, 'IdentityError');
    return e.message;
  }
  return null;
}

test('identity files: format and parse round trip, the id of §2', () => {
  const idn = secmq.createIdentity('sensor-1.hall_@x');
  const text = secmq.formatSecretIdentity(idn);
  assert.match(text, /^secmq-identity 1\nname: sensor-1\.hall_@x\ned25519-seed: [A-Za-z0-9+/]{43}=\n$/);
  const back = secmq.parseSecretIdentity(text);
  assert.equal(back.name, idn.name);
  assert.equal(secmq.toHex(back.pk), secmq.toHex(idn.pk));
  assert.equal(secmq.toHex(back.sk), secmq.toHex(idn.sk));
  assert.equal(secmq.toHex(back.id), secmq.toHex(secmq.identityId(idn.pk)));
  const pub = secmq.formatPublicIdentity(idn);
  const p = secmq.parsePublicIdentity(pub);
  assert.equal(p.name, idn.name);
  assert.equal(secmq.toHex(p.pk), secmq.toHex(idn.pk));
  assert.equal(secmq.parseSecretIdentity(new TextEncoder().encode(text)).name, idn.name, 'bytes too');
  // The id of vector seed 00..1f (envelope-v1.json): 9d24e2eeaf27c2a0.
  const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
  assert.equal(secmq.toHex(secmq.fromSeed('v', seed).id), '9d24e2eeaf27c2a0');
});

test('identity files: exact lines, canonical base64, valid names, nothing after', () => {
  const idn = secmq.fromSeed('dev', new Uint8Array(32).fill(7));
  const good = secmq.formatSecretIdentity(idn);
  const b64 = good.split('\n')[2].slice('ed25519-seed: '.length);
  const last = b64[42];
  const sibling = String.fromCharCode(last.charCodeAt(0) + 1); // same 4 high bits, low bits differ
  const bad = {
    crlf: good.replace(/\n/g, '\r\n'),
    'no last newline': good.slice(0, -1),
    'trailing byte': `${good}\n`,
    'trailing space': good.replace('\ned25519', ' \ned25519'),
    'first line': good.replace('secmq-identity 1', 'secmq-identity 2'),
    'public magic': good.replace('secmq-identity 1', 'secmq-public 1'),
    'name prefix': good.replace('name: ', 'name:  '),
    'empty name': good.replace('name: dev', 'name: '),
    'name with space': good.replace('name: dev', 'name: de v'),
    'name 65': good.replace('name: dev', `name: ${'a'.repeat(65)}`),
    'lines swapped': `secmq-identity 1\ned25519-seed: ${b64}\nname: dev\n`,
    'seed prefix': good.replace('ed25519-seed: ', 'ed25519-seed:'),
    'unpadded': good.replace(`${b64}\n`, `${b64.slice(0, -1)}\n`),
    'url-safe': secmq.formatSecretIdentity(secmq.fromSeed('dev', new Uint8Array(32).fill(0xfb))).replace(/\+/g, '-').replace(/\//g, '_'),
    'non-canonical': good.replace(`${b64}\n`, `${b64.slice(0, 42)}${sibling}=\n`),
    'short seed': good.replace(`${b64}\n`, 'AAAA\n'),
  };
  assert.equal(secmq.parseSecretIdentity(good).name, 'dev');
  for (const [what, text] of Object.entries(bad)) {
    assert.notEqual(refusal(() => secmq.parseSecretIdentity(text)), null, what);
  }
  assert.notEqual(refusal(() => secmq.parsePublicIdentity(good)), null, 'a secret file is not public');
  assert.match(refusal(() => secmq.parsePublicIdentity(good)), /SECRET/);
  const pub = secmq.formatPublicIdentity(idn);
  assert.notEqual(refusal(() => secmq.parsePublicIdentity(pub.replace(/\n$/, ''))), null);
  assert.notEqual(refusal(() => secmq.parsePublicIdentity(`${pub}x`)), null);
  // A key with no X25519 form (the point of order 1, all zero but one).
  const small = `secmq-public 1\nname: x\ned25519: ${secmq.toBase64(Uint8Array.of(1, ...new Array(31).fill(0)))}\n`;
  assert.notEqual(refusal(() => secmq.parsePublicIdentity(small)), null, 'a low-order key');
  assert.notEqual(refusal(() => secmq.createIdentity('bad name')), null);
});

test('the C tools: init/export files parse, grants travel both ways', (t) => {
  if (!existsSync(KEYS)) {
    t.skip(`${KEYS} is missing (build the project, or set SECMQ_KEYS): the C interoperability part is skipped`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'secmq-web-'));
  const keys = (...args) => execFileSync(KEYS, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    keys('init', '--keyring', join(dir, 'own'), '--name', 'owner');
    keys('init', '--keyring', join(dir, 'mem'), '--name', 'member');
    const ownerPub = keys('export', '--keyring', join(dir, 'own'));
    const memberPub = keys('export', '--keyring', join(dir, 'mem'));
    const memberText = readFileSync(join(dir, 'mem', 'identity'), 'utf8');
    const member = secmq.parseSecretIdentity(memberText);
    assert.equal(member.name, 'member');
    assert.equal(secmq.formatSecretIdentity(member), memberText, 'the same bytes as the C file');
    const mp = secmq.parsePublicIdentity(memberPub);
    assert.equal(secmq.toHex(mp.pk), secmq.toHex(member.pk));
    assert.equal(secmq.formatPublicIdentity(member), memberPub);
    writeFileSync(join(dir, 'member.pub'), memberPub);
    writeFileSync(join(dir, 'owner.pub'), ownerPub);

    // C owner -> JS member.
    keys('channel', 'create', '--keyring', join(dir, 'own'), '--topic', 'home/+/status',
      '--publisher', join(dir, 'member.pub'), '--subscriber', join(dir, 'owner.pub'),
      '--out', join(dir, 'out'), '--allow-mac');
    const kr = new secmq.Keyring(member, { peers: [ownerPub] });
    const ch = kr.importGrant(new Uint8Array(readFileSync(join(dir, 'out', 'member.grant'))));
    assert.equal(ch.filter, 'home/+/status');
    assert.ok(ch.mayPublish && ch.allowMac);
    assert.equal(ch.epoch, 1);
    const env = kr.seal('home/hall/status', 'from js', Date.now());
    assert.equal(secmq.toHex(secmq.parseEnvelope(env).keyId), secmq.toHex(ch.keyId));
    assert.equal(reasonOf(() => kr.importGrant(new Uint8Array(readFileSync(join(dir, 'out', 'owner.grant'))))),
      'not_for_me');

    // JS owner -> C member: secmq-keys import accepts the JS-built grant.
    const jsOwner = secmq.createIdentity('jsowner');
    writeFileSync(join(dir, 'jsowner.pub'), secmq.formatPublicIdentity(jsOwner));
    const body = secmq.buildGrantBody({
      ownerPk: jsOwner.pk, memberPk: member.pk, keyId: Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9),
      channelKey: new Uint8Array(32).fill(5), epoch: 1, createdMs: Date.now(), flags: 1,
      filter: 'lights/#', publishers: [member.pk],
    }, jsOwner.sk);
    mkdirSync(join(dir, 'in'));
    writeFileSync(join(dir, 'in', 'member.grant'), secmq.sealGrant(body, member.pk));
    keys('import', '--keyring', join(dir, 'mem'), join(dir, 'jsowner.pub'), join(dir, 'in', 'member.grant'));
    const info = keys('list', '--keyring', join(dir, 'mem'));
    assert.match(info, /lights\/#/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function reasonOf(fn) {
  try {
    fn();
  } catch (e) {
    return e.reason || e.message;
  }
  return 'ok';
}
