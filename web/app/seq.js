// seq.js -- sequence numbers for the envelopes this page seals.
//
// docs/PROTOCOL.md §4: per channel key, a sender's seq strictly increases,
// also across reloads. Numbers are taken from blocks of BLOCK numbers; a
// block starts at max(the end of every block stored before, now in µs)
// and its end is stored (IndexedDB, committed) before any number of it is
// used. Each block is allocated in one transaction, so two tabs of the
// page get different blocks; a reload wastes at most one block and never
// reuses a number. Not secret, so stored as it is.
import * as store from './store.js';

const RECORD = 'seq';
const BLOCK = 4096;

export class SeqReservations {
  constructor() {
    this.end = {};    // key id (hex) -> end of this page's current block
    this.next = {};   // key id (hex) -> next number to use
  }

  /**
   * Make sure the next number of key id k lies in a block this page
   * reserved, reserving a new block first when it does not.
   * @param {string} k key id, hex
   */
  async prepare(k) {
    if (this.next[k] !== undefined && this.next[k] < this.end[k]) {
      return;
    }
    let start = 0;
    await store.update(RECORD, (old) => {
      const rec = old || {};
      start = Math.max(rec[k] || 0, Date.now() * 1000, this.next[k] || 0);
      rec[k] = start + BLOCK;
      return rec;
    });
    this.next[k] = start;
    this.end[k] = start + BLOCK;
  }

  /**
   * The next number for key id k (prepared before).
   * @param {string} k key id, hex
   * @returns {number}
   * @throws {Error} when k was not prepared or its block is used up
   */
  take(k) {
    const n = this.next[k];
    if (n === undefined || n >= this.end[k]) {
      throw new Error('no reserved sequence number for key ' + k);
    }
    this.next[k] = n + 1;
    return n;
  }
}
