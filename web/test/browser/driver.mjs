// driver.mjs -- drives Debian's chromium (headless, playwright-core) for
// tests/integration/test_web_dashboard.py, one JSON command per line.
//
// Serves DIST (argv[2], the output of `npm run build`) on 127.0.0.1 from a
// free port, opens it in /usr/bin/chromium, and then reads commands on
// stdin and answers each with one JSON line on stdout: {"ok": true, ...}
// or {"ok": false, "error": "..."}. Every wait has a timeout. The test owns
// the scenario and its assertions; this only acts and reports. Chromium
// checks certificates as usual: it must trust the test CA through the
// NSS database of the HOME it is given. Not a general web server.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.SECMQ_CHROMIUM || '/usr/bin/chromium';
const DEFAULT_TIMEOUT_MS = 15000;
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
};

const dist = process.argv[2];
if (!dist) {
  process.stderr.write('usage: driver.mjs DIST_DIR\n');
  process.exit(2);
}

/** A static file server for dist on 127.0.0.1 (GET only, no listing). */
function serve(root) {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const rel = normalize(path === '/' ? '/index.html' : path);
    const file = join(root, rel);
    if (req.method !== 'GET' || !file.startsWith(root + sep) ||
        !(extname(file) in TYPES)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)],
                           'Cache-Control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const server = await serve(normalize(dist));
const origin = `http://127.0.0.1:${server.address().port}/`;
const browser = await chromium.launch({ executablePath: CHROMIUM,
                                        headless: true,
                                        timeout: 60000 });
const context = await browser.newContext({ viewport: { width: 1200,
                                                       height: 1000 } });
const page = await context.newPage();
page.setDefaultTimeout(DEFAULT_TIMEOUT_MS);
const consoleLines = [];
page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
// Every dialog (the "erase keys" confirmation) is refused.
page.on('dialog', (d) => d.dismiss());

const byId = (id) => page.getByTestId(id);

/** Wait until the text of testid matches the regex re; returns it. */
async function waitText(id, re, timeout) {
  const rx = new RegExp(re);
  const deadline = Date.now() + timeout;
  let text = '';
  for (;;) {
    text = (await byId(id).first().textContent({ timeout })) ?? '';
    if (rx.test(text)) {
      return text;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${id}: text ${JSON.stringify(text)} does not ` +
                      `match /${re}/ after ${timeout} ms`);
    }
    await page.waitForTimeout(50);
  }
}

const commands = {
  async goto() {
    await page.goto(origin);
    await page.waitForSelector('body[data-ready="1"]');
    return { url: origin };
  },
  async reload() {
    await page.reload();
    await page.waitForSelector('body[data-ready="1"]');
    return {};
  },
  async fill(c) {
    await byId(c.id).fill(c.value);
    return {};
  },
  async click(c) {
    await byId(c.id).click();
    return {};
  },
  async files(c) {
    await byId(c.id).setInputFiles(c.files);
    return {};
  },
  async text(c) {
    return { text: await byId(c.id).first().textContent() };
  },
  async value(c) {
    return { value: await byId(c.id).inputValue() };
  },
  async visible(c) {
    return { visible: await byId(c.id).isVisible() };
  },
  async waitText(c) {
    return { text: await waitText(c.id, c.re, c.timeout ?? DEFAULT_TIMEOUT_MS) };
  },
  async attr(c) {
    return { value: await byId(c.id).first().getAttribute(c.name) };
  },
  // The log entries, newest first: [{kind, reason, text}].
  async log() {
    const entries = await page.locator('[data-testid="log-entry"]')
      .evaluateAll((els) => els.map((e) => ({ kind: e.dataset.kind,
                                              reason: e.dataset.reason || null,
                                              text: e.textContent })));
    return { entries };
  },
  // Every record of the page's IndexedDB (store.js), bytes as base64.
  async storage() {
    const records = await page.evaluate(() => new Promise((resolve, reject) => {
      const req = indexedDB.open('secmq-dashboard');
      req.onerror = () => reject(req.error);
      req.onsuccess = () => {
        const out = {};
        const tx = req.result.transaction('records', 'readonly');
        const cur = tx.objectStore('records').openCursor();
        const plain = (v) => {
          if (v instanceof Uint8Array) {
            let s = '';
            for (const x of v) {
              s += String.fromCharCode(x);
            }
            return btoa(s);
          }
          return v;
        };
        cur.onsuccess = () => {
          const c = cur.result;
          if (c === null) {
            resolve(out);
            return;
          }
          out[c.key] = plain(c.value);
          c.continue();
        };
        cur.onerror = () => reject(cur.error);
      };
    }));
    return { records };
  },
  async screenshot(c) {
    await page.screenshot({ path: c.path, fullPage: true });
    return { path: c.path };
  },
  async console() {
    return { lines: consoleLines };
  },
};

async function quit(code) {
  await browser.close().catch(() => {});
  server.close();
  process.exit(code);
}

process.stdout.write(JSON.stringify({ ok: true, ready: true, origin }) + '\n');
const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  let c;
  try {
    c = JSON.parse(line);
  } catch (err) {
    process.stdout.write(JSON.stringify({ ok: false, error: 'bad JSON' }) + '\n');
    continue;
  }
  if (c.cmd === 'quit') {
    break;
  }
  const fn = commands[c.cmd];
  let reply;
  if (fn === undefined) {
    reply = { ok: false, error: `unknown command ${c.cmd}` };
  } else {
    try {
      reply = { ok: true, ...(await fn(c)) };
    } catch (err) {
      reply = { ok: false, error: String(err && err.message || err) };
    }
  }
  process.stdout.write(JSON.stringify(reply) + '\n');
}
await quit(0);
