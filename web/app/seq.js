// seq.js -- sequence numbers for the envelopes this page seals.
//
// docs/PROTOCOL.md §4: per channel key, a sender's seq strictly increases,
// also across reloads. A stream starts at max(reserved, now in µs) and the
// end of a block of BLOCK numbers is stored (IndexedDB, committed) before
// any number of that block is used; a reload wastes at most one block and
// never reuses a number. Not secret, so stored as it is.
import * as store from './store.js';

const RECORD = 'seq';
const BLOCK = 4096;

export class SeqReservations {
  constructor() {
    this.reserved = {};   // key id (hex) -> end of the stored block
    this.next = {};       // key id (hex) -> next number to use
  }

  /** Read the stored reservations. */
  async load() {
    this.reserved = (await store.get(RECORD)) || {};
    this.next = {};
  }

  /**
   * Make sure the next number of key id k is covered by a stored block,
   * storing a new block first when it is not.
   * @param {string} k key id, hex
   */
  async prepare(k) {
    const reserved = this.reserved[k] || 0;
    if (this.next[k] === undefined) {
      this.next[k] = Math.max(reserved, Date.now() * 1000);
    }
    if (this.next[k] >= reserved) {
      const want = { ...this.reserved, [k]: this.next[k] + BLOCK };
      await store.put(RECORD, want);
      this.reserved = want;
    }
  }

  /**
   * The next number for key id k (prepared before).
   * @param {string} k key id, hex
   * @returns {number}
   * @throws {Error} when k was not prepared or its block is used up
   */
  take(k) {
    const n = this.next[k];
    if (n === undefined || n >= (this.reserved[k] || 0)) {
      throw new Error('no stored sequence reservation for key ' + k);
    }
    this.next[k] = n + 1;
    return n;
  }
}
