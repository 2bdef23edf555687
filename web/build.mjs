// build.mjs -- writes dist/, the dashboard as plain static files.
//
// Copies the page (index.html, app/), the protocol modules (src/secmq/)
// and the browser builds of MQTT.js and libsodium (from node_modules, so
// `npm ci` first) under dist/vendor/, and puts a Content-Security-Policy
// into dist/index.html that allows exactly the page's import map (by its
// hash), scripts from the same origin, WebAssembly (libsodium), MQTT.js's
// timer worker and WebSocket connections. No bundler: the browser resolves the bare
// imports through the import map. Not a server: serve dist/ with any.
// `node build.mjs [OUT]` writes OUT instead of dist/ (the browser test
// builds into its own temporary directory).
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync }
  from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = process.argv[2] ? resolve(process.argv[2]) : join(here, 'dist');
const nm = join(here, 'node_modules');

// [source under node_modules, name under dist/vendor]; the import map in
// index.html names the same files. All end in .js: a browser runs a module
// only when the server calls it JavaScript, and servers that know .js
// may not know .mjs.
const VENDOR = [
  ['mqtt/dist/mqtt.esm.js', 'mqtt.esm.js'],
  ['libsodium-wrappers-sumo/dist/modules-sumo-esm/libsodium-wrappers.mjs',
    'libsodium-wrappers.js'],
  ['libsodium-sumo/dist/modules-sumo-esm/libsodium-sumo.mjs',
    'libsodium-sumo.js'],
];

function fail(msg) {
  process.stderr.write(`build.mjs: ${msg}\n`);
  process.exit(1);
}

for (const [src] of VENDOR) {
  if (!existsSync(join(nm, src))) {
    fail(`${join('node_modules', src)} is missing: run \`npm ci\` in web/ ` +
         'first (scripts/deps.sh does it)');
  }
}
if (!existsSync(join(here, 'src', 'secmq', 'index.js'))) {
  fail('src/secmq/index.js (the protocol modules) is missing');
}

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'vendor'), { recursive: true });
cpSync(join(here, 'app'), join(dist, 'app'), { recursive: true });
cpSync(join(here, 'src', 'secmq'), join(dist, 'src', 'secmq'),
  { recursive: true });
for (const [src, name] of VENDOR) {
  cpSync(join(nm, src), join(dist, 'vendor', name));
}

// The import map is the page's one inline script: the policy allows it by
// its SHA-256 and nothing else inline.
let html = readFileSync(join(here, 'index.html'), 'utf8');
const m = html.match(/<script type="importmap">([\s\S]*?)<\/script>/);
if (!m) {
  fail('index.html has no <script type="importmap">');
}
const map = JSON.parse(m[1]);
for (const [, name] of VENDOR) {
  if (!Object.values(map.imports).includes(`./vendor/${name}`)) {
    fail(`the import map in index.html does not name ./vendor/${name}`);
  }
}
const hash = createHash('sha256').update(m[1]).digest('base64');
const csp = [
  "default-src 'none'",
  `script-src 'self' 'sha256-${hash}' 'wasm-unsafe-eval'`,
  // MQTT.js runs its keepalive timers in a worker made from a blob (timers
  // in a background tab are throttled, workers' are not).
  "worker-src blob:",
  "style-src 'self'",
  "img-src 'self' data:",
  'connect-src wss:',
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');
if (!html.includes('<!-- CSP -->')) {
  fail('index.html has no <!-- CSP --> placeholder');
}
html = html.replace('<!-- CSP -->',
  `<meta http-equiv="Content-Security-Policy" content="${csp}">`);
writeFileSync(join(dist, 'index.html'), html);
process.stdout.write(`build.mjs: wrote ${dist}\n`);
