/*
 * filter.js -- MQTT topic names and filters as PROTOCOL.md §3.1 has them:
 * validity, matching (with the `$` rule) and the order of §4.1 that picks
 * the most specific of several matching filters. Byte-level, like
 * libsecmq: strings are taken as their UTF-8 bytes and UTF-8 validity is
 * the broker's business. Not for choosing among channels (keyring.js).
 */
import { utf8 } from './util.js';

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;
const DOLLAR = 0x24;
const TOPIC_MAX = 65535;

/**
 * Whether t is a valid topic name (§3.1): 1..65535 bytes, no NUL, `+` or `#`.
 * @param {string|Uint8Array} t
 * @returns {boolean}
 */
export function topicValid(t) {
  const b = utf8(t);
  if (b.length < 1 || b.length > TOPIC_MAX) {
    return false;
  }
  for (const c of b) {
    if (c === 0 || c === PLUS || c === HASH) {
      return false;
    }
  }
  return true;
}

/**
 * Whether f is a valid topic filter (§3.1): 1..65535 bytes without NUL, `+`
 * only as a whole level, `#` only as the whole last level.
 * @param {string|Uint8Array} f
 * @returns {boolean}
 */
export function filterValid(f) {
  const b = utf8(f);
  if (b.length < 1 || b.length > TOPIC_MAX) {
    return false;
  }
  let start = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0) {
      return false;
    }
    if (c === SLASH) {
      start = i + 1;
    } else if (c === PLUS && (i !== start || (i + 1 < b.length && b[i + 1] !== SLASH))) {
      return false;
    } else if (c === HASH && (i !== start || i + 1 !== b.length)) {
      return false;
    }
  }
  return true;
}

/* The levels of s (bytes) as [begin, end) pairs; there is always one. */
function levels(b) {
  const out = [];
  let begin = 0;
  for (let i = 0; i <= b.length; i++) {
    if (i === b.length || b[i] === SLASH) {
      out.push([begin, i]);
      begin = i + 1;
    }
  }
  return out;
}

function isLevel(b, [s, e], c) {
  return e - s === 1 && b[s] === c;
}

function levelEqual(a, [as, ae], b, [bs, be]) {
  if (ae - as !== be - bs) {
    return false;
  }
  for (let i = 0; i < ae - as; i++) {
    if (a[as + i] !== b[bs + i]) {
      return false;
    }
  }
  return true;
}

/**
 * Whether a filter matches a topic (§3.1, MQTT 3.1.1 §4.7): `+` is one
 * level (also an empty one), `#` any number of levels including none (so
 * `a/#` matches `a`), and a topic starting with `$` is not matched by a
 * filter whose first level is `+` or `#`. Neither argument is validated:
 * check them with filterValid / topicValid.
 * @param {string|Uint8Array} filter
 * @param {string|Uint8Array} topic
 * @returns {boolean}
 */
export function filterMatches(filter, topic) {
  const f = utf8(filter);
  const t = utf8(topic);
  if (t.length > 0 && t[0] === DOLLAR && f.length > 0 && (f[0] === PLUS || f[0] === HASH)) {
    return false;
  }
  const fl = levels(f);
  const tl = levels(t);
  for (let i = 0; i < fl.length; i++) {
    if (isLevel(f, fl[i], HASH)) {
      return true;
    }
    if (i >= tl.length) {
      return false;
    }
    if (!isLevel(f, fl[i], PLUS) && !levelEqual(f, fl[i], t, tl[i])) {
      return false;
    }
  }
  return fl.length === tl.length;
}

const RANK_HASH = 1;
const RANK_PLUS = 2;
const RANK_LITERAL = 3;
const RANK_END = 4;

function rank(b, lv) {
  if (lv === undefined) {
    return RANK_END;
  }
  if (isLevel(b, lv, HASH)) {
    return RANK_HASH;
  }
  return isLevel(b, lv, PLUS) ? RANK_PLUS : RANK_LITERAL;
}

/**
 * Compares how specific two filters are (§4.1): level by level from the
 * left, the first difference decides; a literal beats `+`, `+` beats `#`,
 * a filter that has ended beats `#`. Two filters that match one topic are
 * never equal unless identical; for others, literal bytes keep the order
 * total (as libsecmq does).
 * @param {string|Uint8Array} a
 * @param {string|Uint8Array} b
 * @returns {number} > 0 when a is more specific, < 0 when b is, 0 when equal.
 */
export function compareSpecificity(a, b) {
  const ab = utf8(a);
  const bb = utf8(b);
  const al = levels(ab);
  const bl = levels(bb);
  const n = Math.max(al.length, bl.length);
  for (let i = 0; i < n; i++) {
    const ra = rank(ab, al[i]);
    const rb = rank(bb, bl[i]);
    if (ra !== rb) {
      return ra > rb ? 1 : -1;
    }
    if (ra === RANK_LITERAL) {
      const [as, ae] = al[i];
      const [bs, be] = bl[i];
      const m = Math.min(ae - as, be - bs);
      for (let k = 0; k < m; k++) {
        if (ab[as + k] !== bb[bs + k]) {
          return ab[as + k] > bb[bs + k] ? -1 : 1;
        }
      }
      if (ae - as !== be - bs) {
        return ae - as < be - bs ? 1 : -1;
      }
    }
  }
  return 0;
}
