// main.js -- the dashboard page: wires the keys, the connection, the light
// switch and the log together.
//
// The keyring lives in memory while unlocked and in IndexedDB only sealed
// with the passphrase (vault.js). Every message on the light's topics is
// opened by the keyring before anything is shown: a refused one goes to
// the log with its reason and changes nothing else.
import * as proto from './proto.js';
import { Connection } from './conn.js';
import { Log } from './log.js';
import { SeqReservations } from './seq.js';
import * as vault from './vault.js';

const CONTROL = 'home/light/control';
const STATUS = 'home/light/status';
const STATES = ['ON', 'OFF', 'OFFLINE'];

const $ = (id) => document.getElementById(id);

const state = {
  keyring: null,      // proto keyring while unlocked (or being set up)
  passphrase: null,   // while unlocked: re-seals the vault after a change
  connected: false,
};
const log = new Log($('log'));
const seqs = new SeqReservations();
const conn = new Connection({ onStatus: connStatus, onMessage: received });

function show(id, on) {
  $(id).hidden = !on;
}

function setError(id, err) {
  $(id).textContent = err ? (err.message || String(err)) : '';
}

/** Run an async UI action; its failure is shown in the element errId. */
function action(errId, fn) {
  return async (ev) => {
    if (ev) {
      ev.preventDefault();
    }
    setError(errId, null);
    try {
      await fn(ev);
    } catch (err) {
      setError(errId, err);
    }
    render();
  };
}

async function readFiles(input, asText) {
  const out = [];
  for (const f of input.files) {
    out.push({ name: f.name,
               data: asText ? await f.text()
                 : new Uint8Array(await f.arrayBuffer()) });
  }
  input.value = '';
  return out;
}

// -- keys ------------------------------------------------------------------

function render() {
  const kr = state.keyring;
  const unlocked = kr !== null;
  const stored = state.stored;
  show('unlock-view', stored && !unlocked);
  show('edit-view', !stored || unlocked);
  show('passphrase-setup', unlocked && state.passphrase === null);
  show('lock', unlocked && state.passphrase !== null);
  show('identity-choose', !unlocked);
  $('export-public').disabled = !unlocked;
  if (!unlocked) {
    $('identity-summary').textContent = 'No identity yet.';
    $('keys-status').textContent = stored ? 'locked: enter the passphrase'
      : 'no keys in this browser yet';
    $('peer-list').replaceChildren();
    $('channel-list').replaceChildren();
    show('public-identity', false);
    show('public-download', false);
  } else {
    const idn = proto.identityOf(kr);
    $('identity-summary').textContent =
      `This browser is ${idn.name} (id ${idn.idHex}).`;
    $('keys-status').textContent = state.passphrase === null
      ? 'not saved yet: choose a passphrase to keep the keys'
      : 'unlocked';
    $('peer-list').replaceChildren(...proto.peersOf(kr).map((p) => {
      const li = document.createElement('li');
      li.dataset.testid = 'peer';
      li.textContent = `peer ${p.name} (id ${p.idHex})`;
      return li;
    }));
    $('channel-list').replaceChildren(...proto.channelsOf(kr).map((c) => {
      const li = document.createElement('li');
      li.dataset.testid = 'channel';
      li.textContent = `channel ${c.filter} (key ${c.keyIdHex}, owner ` +
        `${c.owner}${c.mayPublish ? ', may publish' : ', reads only'})`;
      return li;
    }));
  }
  const ready = unlocked && state.passphrase !== null;
  $('connect').disabled = !ready || state.connected;
  $('disconnect').disabled = !state.connected;
  $('light-on').disabled = !ready || !state.connected;
  $('light-off').disabled = !ready || !state.connected;
}

/** Seal the keyring into IndexedDB again (after a change, when saved). */
async function persist() {
  if (state.passphrase !== null) {
    await vault.save(state.passphrase, proto.dump(state.keyring));
    state.stored = true;
  }
}

$('create-identity').addEventListener('click', action('keys-error', async () => {
  const name = $('new-identity-name').value.trim();
  state.keyring = proto.newKeyring(proto.createIdentity(name));
  log.add('info', `created the identity ${name}`);
}));

$('import-identity').addEventListener('change', action('keys-error', async () => {
  const [file] = await readFiles($('import-identity'), true);
  if (file === undefined) {
    return;
  }
  const idn = proto.parseSecretIdentity(file.data);
  state.keyring = proto.newKeyring(idn);
  log.add('info', `imported the identity ${idn.name} from ${file.name}`);
}));

$('import-peer').addEventListener('change', action('keys-error', async () => {
  if (state.keyring === null) {
    throw new Error('create or import an identity first');
  }
  for (const file of await readFiles($('import-peer'), true)) {
    const pub = proto.parsePublicIdentity(file.data);
    proto.addPeer(state.keyring, pub);
    log.add('info', `trusting ${pub.name} (${file.name})`);
  }
  await persist();
}));

$('import-grant').addEventListener('change', action('keys-error', async () => {
  if (state.keyring === null) {
    throw new Error('create or import an identity first');
  }
  for (const file of await readFiles($('import-grant'), false)) {
    let c;
    try {
      c = proto.addGrant(state.keyring, file.data);
    } catch (err) {
      throw new Error(`${file.name}: grant refused: ` +
                      (err.reason || err.message));
    }
    log.add('info', `channel ${c.filter} from ${c.owner} (${file.name})`);
  }
  await persist();
}));

$('save-keys').addEventListener('click', action('keys-error', async () => {
  const p = $('passphrase').value;
  if (p !== $('passphrase-again').value) {
    throw new Error('the two passphrases differ');
  }
  if (p.length < vault.MIN_PASSPHRASE) {
    throw new Error(`the passphrase needs at least ${vault.MIN_PASSPHRASE} ` +
                    'characters');
  }
  $('keys-status').textContent = 'encrypting…';
  await vault.save(p, proto.dump(state.keyring));
  state.passphrase = p;
  state.stored = true;
  $('passphrase').value = '';
  $('passphrase-again').value = '';
  log.add('info', 'keys saved in this browser, encrypted');
}));

$('unlock').addEventListener('click', action('unlock-error', async () => {
  const p = $('unlock-passphrase').value;
  $('keys-status').textContent = 'unlocking…';
  const bytes = await vault.open(p);   // throws on a wrong passphrase
  state.keyring = proto.load(bytes);
  state.passphrase = p;
  $('unlock-passphrase').value = '';
  log.add('info', 'keys unlocked');
}));

$('lock').addEventListener('click', action('keys-error', async () => {
  conn.close();
  proto.wipe(state.keyring);
  state.keyring = null;
  state.passphrase = null;
}));

$('forget-keys').addEventListener('click', action('unlock-error', async () => {
  if (!window.confirm('Erase the keys kept in this browser? ' +
                      'This cannot be undone.')) {
    return;
  }
  await vault.erase();
  state.stored = false;
}));

$('export-public').addEventListener('click', action('keys-error', async () => {
  const idn = proto.identityOf(state.keyring);
  const text = proto.formatPublicIdentity(state.keyring);
  const ta = $('public-identity');
  ta.value = text;
  show('public-identity', true);
  const a = $('public-download');
  if (a.href) {
    URL.revokeObjectURL(a.href);
  }
  a.href = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  a.download = `${idn.name}.pub`;
  a.textContent = `download ${idn.name}.pub`;
  show('public-download', true);
}));

// -- connection and light --------------------------------------------------

function connStatus(text, connected) {
  state.connected = connected;
  $('conn-status').textContent = text;
  render();
}

$('conn-form').addEventListener('submit', action('conn-error', async () => {
  const url = $('broker-url').value.trim();
  const user = $('mqtt-user').value.trim();
  const password = $('mqtt-password').value;
  $('conn-status').textContent = 'connecting…';
  try {
    await conn.connect(url, user, password, [STATUS]);
  } catch (err) {
    $('conn-status').textContent = 'not connected';
    throw err;
  }
  $('mqtt-password').value = '';
  log.add('info', `connected to ${url} as ${user}`);
}));

$('disconnect').addEventListener('click', action('conn-error', async () => {
  conn.close();
}));

function showLight(text, sender, timeMs) {
  const el = $('light-state');
  el.textContent = text;
  el.dataset.state = text;
  $('light-sender').textContent = sender;
  const t = $('light-time');
  const when = new Date(timeMs);
  t.dateTime = when.toISOString();
  t.textContent = when.toLocaleString();
}

function received(topic, payload, retained) {
  if (state.keyring === null) {
    return;
  }
  let m;
  let again = false;
  try {
    try {
      m = proto.open(state.keyring, topic, payload, Date.now());
    } catch (err) {
      m = retained && err.reason === 'replay'
        ? proto.reopenLast(state.keyring, topic, payload, Date.now()) : null;
      if (m === null) {
        throw err;
      }
      again = true;
    }
  } catch (err) {
    const reason = err.reason || 'error';
    // OpenError's message is "open: REASON[: detail]".
    const detail = String(err.message || '')
      .replace(new RegExp(`^open: ${reason}(: )?`), '');
    log.add('refused', `refused: ${reason}${detail ? ` (${detail})` : ''}`,
            { reason, topic });
    return;
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(m.plaintext);
  log.add('opened', `"${text}" from ${m.sender} (${m.mode}, seq ${m.seq}` +
          `${retained ? ', retained' : ''}` +
          `${again ? ', the same message as the last one opened' : ''})`,
          { topic });
  if (topic === STATUS && STATES.includes(text)) {
    showLight(text, m.sender, m.timeMs);
  }
}

async function command(word) {
  const kr = state.keyring;
  for (const k of proto.publishKeyIds(kr, CONTROL)) {
    await seqs.prepare(k);
  }
  const bytes = proto.seal(kr, CONTROL, word, Date.now());
  await conn.publish(CONTROL, bytes);
  log.add('sent', `"${word}" sealed, acknowledged by the broker`,
          { topic: CONTROL });
}

$('light-on').addEventListener('click', action('light-error',
  () => command('ON')));
$('light-off').addEventListener('click', action('light-error',
  () => command('OFF')));

// -- start -------------------------------------------------------------------

async function start() {
  await proto.ready();
  proto.setSeqSource((k) => seqs.take(k));
  state.stored = await vault.exists();
  render();
  $('page-status').textContent = 'ready';
  document.body.dataset.ready = '1';
}

start().catch((err) => {
  $('page-status').textContent = 'the page could not start: ' + err.message;
});
