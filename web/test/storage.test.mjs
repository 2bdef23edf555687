// Passphrase storage (storage.js): a round trip, a wrong passphrase and a
// changed blob refused, blobs that are not ours refused before any hashing.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as secmq from '../src/secmq/index.js';

before(async () => {
  await secmq.ready();
});

function codeOf(fn) {
  try {
    fn();
  } catch (e) {
    return e.code || `${e.name}: ${e.message}`;
  }
  return 'ok';
}

test('sealWithPassphrase / openWithPassphrase: round trip of a keyring JSON, refusals', () => {
  const idn = secmq.createIdentity('page');
  const kr = new secmq.Keyring(idn);
  const json = JSON.stringify(kr);
  const blob = secmq.sealWithPassphrase('correct horse', json);
  assert.equal(new TextDecoder().decode(blob.subarray(0, 8)), 'SECMQPW1');
  assert.equal(blob[8], 2, 'argon2id13');
  assert.equal(blob.length, new TextEncoder().encode(json).length + 57 + 16);
  assert.ok(!new TextDecoder().decode(blob).includes(idn.name), 'nothing in clear');
  const back = secmq.openWithPassphrase('correct horse', blob);
  assert.equal(new TextDecoder().decode(back), json);
  assert.equal(secmq.Keyring.fromJSON(new TextDecoder().decode(back)).identity.name, 'page');

  assert.equal(codeOf(() => secmq.openWithPassphrase('correct horsE', blob)), 'wrong_passphrase');
  const tampered = blob.slice();
  tampered[blob.length - 1] ^= 0x01;
  assert.equal(codeOf(() => secmq.openWithPassphrase('correct horse', tampered)), 'wrong_passphrase');
  const salted = blob.slice();
  salted[20] ^= 0x01;
  assert.equal(codeOf(() => secmq.openWithPassphrase('correct horse', salted)), 'wrong_passphrase');

  // Not ours, or asking for an absurd cost: refused without hashing.
  const magic = blob.slice();
  magic[0] ^= 0x20;
  assert.equal(codeOf(() => secmq.openWithPassphrase('correct horse', magic)), 'bad_blob');
  const alg = blob.slice();
  alg[8] = 1;
  assert.equal(codeOf(() => secmq.openWithPassphrase('correct horse', alg)), 'bad_blob');
  const cost = blob.slice();
  cost[13] = 0x7f;
  assert.equal(codeOf(() => secmq.openWithPassphrase('correct horse', cost)), 'bad_blob');
  assert.equal(codeOf(() => secmq.openWithPassphrase('correct horse', blob.subarray(0, 72))), 'bad_blob');
  assert.equal(codeOf(() => secmq.sealWithPassphrase('', json)), 'bad_input');
});
