// store.js -- the page's IndexedDB: one object store of named records.
//
// Records: "vault" (the keyring, sealed with the passphrase: see vault.js)
// and "seq" (sequence number reservations: see seq.js). Nothing here
// encrypts; nothing secret may be put here unsealed.

const DB_NAME = 'secmq-dashboard';
const STORE = 'records';

let dbPromise = null;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** The database, opened (and created) once per page. */
function db() {
  if (dbPromise === null) {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    dbPromise = request(req);
  }
  return dbPromise;
}

/**
 * The record named key, or undefined when there is none.
 * @param {string} key
 * @returns {Promise<any>}
 */
export async function get(key) {
  const d = await db();
  return request(d.transaction(STORE, 'readonly').objectStore(STORE).get(key));
}

/**
 * Store value under key; resolves once the transaction committed (with
 * durability "strict": the browser flushes it before saying so).
 * @param {string} key
 * @param {any} value structured-cloneable
 * @returns {Promise<void>}
 */
export async function put(key, value) {
  const d = await db();
  const tx = d.transaction(STORE, 'readwrite', { durability: 'strict' });
  tx.objectStore(STORE).put(value, key);
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
  });
}

/**
 * Replace the record named key with fn(its value, or undefined) in one
 * transaction: another tab's update of the same record comes wholly
 * before or after. Resolves, once committed, with what fn returned.
 * @param {string} key
 * @param {(old: any) => any} fn synchronous
 * @returns {Promise<any>}
 */
export async function update(key, fn) {
  const d = await db();
  const tx = d.transaction(STORE, 'readwrite', { durability: 'strict' });
  const os = tx.objectStore(STORE);
  let value;
  const req = os.get(key);
  req.onsuccess = () => {
    value = fn(req.result);
    os.put(value, key);
  };
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve(value);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
  });
}

/**
 * Remove the record named key (nothing when there is none).
 * @param {string} key
 * @returns {Promise<void>}
 */
export async function remove(key) {
  const d = await db();
  const tx = d.transaction(STORE, 'readwrite', { durability: 'strict' });
  tx.objectStore(STORE).delete(key);
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
}
