#!/usr/bin/env node
// SPDX-License-Identifier: BSD-2-Clause
//
// gen_corpus.mjs: writes the labelled test corpus for the masking detectors.
//
//   node tests/masking/gen_corpus.mjs > tests/masking/corpus-reference.txt
//
// The output is deterministic (a seeded mulberry32 PRNG, no clock, no I/O
// besides stdout). Every line is checked before anything is written; the
// script throws (and writes nothing) when a self-check fails.
//
// Corpus format (tests/masking/corpus.txt)
// ----------------------------------------
// - UTF-8, one case per line. Lines starting with '#' are comments; blank
//   lines are ignored. Cases are grouped under '# ---- section ----' lines.
// - Every value that must be masked is written inline as [[detector:value]],
//   e.g. "Paid with [[card:4111 1111 1111 1111]] today". The expected span
//   is exactly `value`.
// - A line with no [[...]] marker is a negative: any detection on it is a
//   false positive.
// - Escapes (outside and inside markers): \n = newline, \t = tab,
//   \\ = backslash. No other escapes. The sequences [[ and ]] appear only
//   as marker delimiters.
// - Detectors: card ssn iban email phone ipv4 ipv6 aws_access_key
//   aws_secret_key github_token gitlab_token slack_token jwt pem_private_key
//   bearer_token url_credentials. Overlaps resolve to the span that starts
//   first, then the longer one, then the detector listed first.
//
// Self-checks
// -----------
// The script carries a reference scanner that implements the detector
// rules the corpus is labelled by (Luhn + issuer ranges, SSN areas, IBAN
// country lengths + mod-97, inet_pton for IPv6, JWT header decoding, ...).
// For every case line it checks that the resolved detections equal the
// labelled spans exactly. The scanner also reports "ambiguous" spans:
// places where reasonable implementations of the rules could disagree
// (a card inside a longer digit group, an IPv6 address followed by a
// sentence's full stop, a 40-character secret right after '=', ...). Such
// a span is allowed only inside a labelled span, so the corpus never
// depends on those choices. Finally the emitted text is parsed back with
// the format above and checked again.

'use strict';

const DETECTORS = [
  'card', 'ssn', 'iban', 'email', 'phone', 'ipv4', 'ipv6', 'aws_access_key',
  'aws_secret_key', 'github_token', 'gitlab_token', 'slack_token', 'jwt',
  'pem_private_key', 'bearer_token', 'url_credentials',
];
const DET_INDEX = Object.fromEntries(DETECTORS.map((d, i) => [d, i]));

// ---------------------------------------------------------------------------
// PRNG
// ---------------------------------------------------------------------------

function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = mulberry32(0x4d57_2403);
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1)); // inclusive
const pick = (arr) => arr[Math.floor(rand() * arr.length)];
const chance = (p) => rand() < p;
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const ALNUM = UPPER + LOWER + DIGITS;
const HEX = '0123456789abcdef';
const B64 = ALNUM + '+/';
const B64URL = ALNUM + '-_';
const chars = (set, n) => {
  let s = '';
  for (let i = 0; i < n; i++) s += set[Math.floor(rand() * set.length)];
  return s;
};
const digits = (n) => chars(DIGITS, n);
const pad = (n, w) => String(n).padStart(w, '0');
// mixed: at least one lower, one upper, one digit (for key-like strings)
const mixed = (set, n) => {
  assert(/[a-z]/.test(set) && /[A-Z]/.test(set) && /[0-9]/.test(set), "mixed() needs all classes");
  for (;;) {
    const s = chars(set, n);
    if (/[a-z]/.test(s) && /[A-Z]/.test(s) && /[0-9]/.test(s)) return s;
  }
};

function assert(cond, msg) {
  if (!cond) throw new Error('self-check failed: ' + msg);
}

// ---------------------------------------------------------------------------
// Validators (the rules the corpus is labelled by)
// ---------------------------------------------------------------------------

function luhnOk(d) {
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let v = d.charCodeAt(d.length - 1 - i) - 48;
    if (i & 1) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
  }
  return d.length > 0 && sum % 10 === 0;
}

function luhnComplete(partial) {
  for (let c = 0; c < 10; c++) if (luhnOk(partial + c)) return partial + c;
  throw new Error('unreachable');
}

function cardIssuerOk(d) {
  const n = d.length;
  const p = (k) => Number(d.slice(0, k));
  if (d[0] === '4') return n === 13 || n === 16 || n === 19; // Visa
  if ((p(2) >= 51 && p(2) <= 55) || (p(4) >= 2221 && p(4) <= 2720))
    return n === 16; // Mastercard
  if (p(2) === 34 || p(2) === 37) return n === 15; // Amex
  if (p(4) === 6011 || (p(3) >= 644 && p(3) <= 649) || p(2) === 65)
    return n >= 16 && n <= 19; // Discover
  if ((p(3) >= 300 && p(3) <= 305) || [36, 38, 39].includes(p(2)))
    return n >= 14 && n <= 19; // Diners
  if (p(4) >= 3528 && p(4) <= 3589) return n >= 16 && n <= 19; // JCB
  if (p(2) === 62) return n >= 16 && n <= 19; // UnionPay
  return false;
}

const cardOk = (d) =>
  /^\d+$/.test(d) && d.length >= 13 && d.length <= 19 && luhnOk(d) &&
  cardIssuerOk(d);

function ssnOk(a, g, s) {
  const area = Number(a), group = Number(g), serial = Number(s);
  if (area === 0 || area === 666 || area >= 900) return false;
  if (group === 0 || serial === 0) return false;
  const all = a + g + s;
  return !['078051120', '219099999', '123456789'].includes(all);
}

// The IBAN registry lengths, used by the reference scanner (broad: any real
// IBAN country). Positives are generated only for the REQUIRED countries.
const IBAN_LEN = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22,
  BR: 29, BY: 28, CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DK: 18, DO: 28,
  EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23,
  GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26,
  IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20,
  LV: 21, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27, MT: 31, MU: 30, NL: 18,
  NO: 15, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, SA: 24,
  SC: 31, SE: 24, SI: 19, SK: 24, SM: 27, ST: 25, SV: 28, TL: 23, TN: 24,
  TR: 26, UA: 29, VA: 22, VG: 24, XK: 20,
};
// BBAN shapes: n = digit, a = upper letter, c = upper letter or digit.
const IBAN_BBAN = {
  DE: 'n18', GB: 'a4n14', FR: 'n10c11n2', ES: 'n20', IT: 'a1n10c12',
  NL: 'a4n10', BE: 'n12', CH: 'n5c12', AT: 'n16', PL: 'n24', SE: 'n20',
  NO: 'n11', DK: 'n14', FI: 'n14', IE: 'a4n14', PT: 'n21', LU: 'n3c13',
};
const IBAN_REQUIRED = Object.keys(IBAN_BBAN);

function mod97(s) {
  // s: the IBAN already rearranged (country + check digits moved last)
  let rem = 0;
  for (const c of s) {
    if (c >= '0' && c <= '9') rem = (rem * 10 + (c.charCodeAt(0) - 48)) % 97;
    else if (c >= 'A' && c <= 'Z')
      rem = (rem * 100 + (c.charCodeAt(0) - 55)) % 97;
    else return -1;
  }
  return rem;
}

const ibanMod97Ok = (iban) => mod97(iban.slice(4) + iban.slice(0, 4)) === 1;

function ibanOk(iban) {
  return /^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban) &&
    IBAN_LEN[iban.slice(0, 2)] === iban.length && ibanMod97Ok(iban);
}

function ibanCheckDigits(cc, bban) {
  const r = mod97(bban + cc + '00');
  return pad(98 - r, 2);
}

function ipv4Ok(s) {
  const p = s.split('.');
  return p.length === 4 && p.every((o) => /^(0|[1-9]\d{0,2})$/.test(o) &&
    Number(o) <= 255);
}

// glibc inet_pton(AF_INET6): the number of 16-bit groups written (an
// embedded IPv4 address counts two), or -1 when it would return 0.
function inetPton6(s) {
  if (!/^[0-9A-Fa-f:.]+$/.test(s)) return -1;
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return -1;
  if (s.includes(':::')) return -1;
  const parts = (str, v4ok) => {
    if (str === '') return [];
    const gs = str.split(':');
    const out = [];
    for (let i = 0; i < gs.length; i++) {
      const g = gs[i];
      if (v4ok && i === gs.length - 1 && g.includes('.')) {
        if (!ipv4Ok(g)) return null;
        out.push('v4', 'v4');
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(g)) out.push(g);
      else return null;
    }
    return out;
  };
  if (dbl === -1) {
    const g = parts(s, true);
    return g && g.length === 8 ? 8 : -1;
  }
  const head = s.slice(0, dbl), tail = s.slice(dbl + 2);
  const h = parts(head, false); // an IPv4 tail only at the very end
  const t = parts(tail, true);
  if (!h || !t) return -1;
  const n = h.length + t.length;
  return n <= 7 ? n : -1;
}

function b64urlDecode(seg) {
  if (!/^[A-Za-z0-9_-]*$/.test(seg) || seg.length % 4 === 1) return null;
  return Buffer.from(seg, 'base64url').toString('utf8');
}

function jwtHeaderOk(seg) {
  const txt = b64urlDecode(seg);
  if (txt === null) return false;
  try {
    const h = JSON.parse(txt);
    return h !== null && typeof h === 'object' && !Array.isArray(h) &&
      typeof h.alg === 'string';
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Reference scanner
// ---------------------------------------------------------------------------

const isDigit = (c) => c !== undefined && c >= '0' && c <= '9';
const isAlpha = (c) => c !== undefined && /^[A-Za-z]$/.test(c);
const isAlnum = (c) => isDigit(c) || isAlpha(c);
const isWord = (c) => isAlnum(c) || c === '_';
const isHex = (c) => c !== undefined && /^[0-9A-Fa-f]$/.test(c);
const isLocal = (c) => c !== undefined && /^[A-Za-z0-9._%+-]$/.test(c);
const isB64 = (c) => c !== undefined && /^[A-Za-z0-9/+]$/.test(c);
const isBearerChar = (c) => c !== undefined && /^[A-Za-z0-9._~+/-]$/.test(c);

function scan(t) {
  const cands = []; // { s, e, det }
  const amb = []; // { s, e, det, why }
  const add = (s, e, det) => cands.push({ s, e, det });
  const ambig = (s, e, det, why) => amb.push({ s, e, det, why });
  const at = (i) => (i >= 0 && i < t.length ? t[i] : undefined);

  // --- card --------------------------------------------------------------
  // A chunk is digit groups joined by single spaces or dashes. Only a whole
  // chunk with one separator kind is a card; a valid run inside a longer
  // chunk (or with mixed separators) is ambiguous.
  for (const m of t.matchAll(/\d+(?:[ -]\d+)*/g)) {
    const cs = m.index, ce = cs + m[0].length;
    const groups = [], seps = [];
    for (const g of m[0].matchAll(/\d+/g)) groups.push([cs + g.index, cs + g.index + g[0].length]);
    for (let k = 1; k < groups.length; k++) seps.push(t[groups[k][0] - 1]);
    for (let i = 0; i < groups.length; i++) {
      for (let j = i; j < groups.length; j++) {
        const s = groups[i][0], e = groups[j][1];
        const d = t.slice(s, e).replace(/\D/g, '');
        if (d.length > 19) break;
        if (!cardOk(d)) continue;
        const same = seps.slice(i, j).every((x) => x === seps[i]);
        const whole = s === cs && e === ce;
        const bAlnum = isAlnum(at(s - 1)) || isAlnum(at(e));
        const bUnder = at(s - 1) === '_' || at(e) === '_';
        const bDot = (at(s - 1) === '.' && isDigit(at(s - 2))) ||
          (at(e) === '.' && isDigit(at(e + 1)));
        const bDash = (at(s - 1) === '-' && isDigit(at(s - 2))) ||
          (at(e) === '-' && isDigit(at(e + 1)));
        if (whole && same && !bAlnum && !bDot && bUnder) {
          ambig(s, e, 'card', "'_' next to a card");
        } else if (whole && same && !bAlnum && !bDot) {
          add(s, e, 'card');
          if (bDash) ambig(s, e, 'card', 'dash-digit next to card');
        } else if (!bAlnum && !bDot) {
          ambig(s, e, 'card', whole ? 'mixed separators' : 'card inside a longer digit group');
        }
      }
    }
  }

  // --- ssn ---------------------------------------------------------------
  for (let i = 0; i + 11 <= t.length; i++) {
    const m = /^(\d{3})([- ])(\d{2})\2(\d{4})/.exec(t.slice(i, i + 11));
    if (!m || !ssnOk(m[1], m[3], m[4])) continue;
    const s = i, e = i + 11;
    const strict = !isWord(at(s - 1)) && !isWord(at(e)) &&
      !(at(s - 1) === '-' && isDigit(at(s - 2))) &&
      !(at(e) === '-' && isDigit(at(e + 1)));
    const spaceish = (at(s - 1) === ' ' && isDigit(at(s - 2))) ||
      (at(e) === ' ' && isDigit(at(e + 1))) ||
      (at(s - 1) === '.' && isDigit(at(s - 2))) ||
      (at(e) === '.' && isDigit(at(e + 1)));
    if (strict) add(s, e, 'ssn');
    else if ((at(s - 1) === '_' || at(e) === '_') && !isAlnum(at(s - 1)) && !isAlnum(at(e)))
      ambig(s, e, 'ssn', "'_' next to an ssn");
    if (strict && spaceish) ambig(s, e, 'ssn', 'digit group next to ssn');
  }
  // mixed separators 123-45 6789 with valid digits: ambiguous
  for (const m of t.matchAll(/(?<![\w])(\d{3})([- ])(\d{2})([- ])(\d{4})(?![\w])/g)) {
    if (m[2] !== m[4] && ssnOk(m[1], m[3], m[5]))
      ambig(m.index, m.index + m[0].length, 'ssn', 'mixed ssn separators');
  }

  // --- iban --------------------------------------------------------------
  for (let i = 0; i + 2 <= t.length; i++) {
    const cc = t.slice(i, i + 2);
    const len = IBAN_LEN[cc];
    if (!len || isWord(at(i - 1))) continue;
    // contiguous
    const flat = t.slice(i, i + len);
    if (flat.length === len && /^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(flat) &&
        !isWord(at(i + len)) && ibanOk(flat))
      add(i, i + len, 'iban');
    // print form: a single space after every 4 characters
    let k = i, got = '';
    while (got.length < len && k < t.length) {
      if (got.length > 0 && got.length % 4 === 0) {
        if (t[k] !== ' ') break;
        k++;
      }
      if (!/[A-Z0-9]/.test(t[k] ?? '')) break;
      got += t[k++];
    }
    if (got.length === len && len > 4 && /^[A-Z]{2}\d{2}/.test(got) &&
        !isWord(at(k)) && ibanOk(got) && t.slice(i, k).includes(' '))
      add(i, k, 'iban');
    // lowercase or dashed forms of a valid IBAN: keep them out (ambiguous)
  }
  for (const m of t.matchAll(/[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]){11,30}/g)) {
    const u = m[0].replace(/[ -]/g, '').toUpperCase();
    for (let n = 15; n <= u.length; n++) {
      const v = u.slice(0, n);
      if (ibanOk(v) && m[0].includes('-'))
        ambig(m.index, m.index + m[0].length, 'iban', 'dashed iban');
    }
  }

  // --- email -------------------------------------------------------------
  for (let a = t.indexOf('@'); a !== -1; a = t.indexOf('@', a + 1)) {
    let s = a;
    while (s > 0 && isLocal(t[s - 1])) s--;
    let e = a + 1;
    while (e < t.length && /[A-Za-z0-9.-]/.test(t[e])) e++;
    let de = e;
    while (de > a + 1 && t[de - 1] === '.') de--;
    const local = t.slice(s, a), dom = t.slice(a + 1, de);
    if (!local || !dom) continue;
    const labels = dom.split('.');
    const labelOk = (l) => /^[A-Za-z0-9-]+$/.test(l) && !l.startsWith('-') && !l.endsWith('-');
    const localOk = local.length <= 64 && !local.startsWith('.') && !local.endsWith('.');
    const tldOk = (l) => /^[A-Za-z]{2,}$/.test(l);
    const domOk = labels.length >= 2 && labels.every(labelOk) && tldOk(labels[labels.length - 1]);
    const after = at(de);
    if (localOk && domOk && after !== '_') {
      add(s, de, 'email');
      continue;
    }
    // a shorter, valid reading that an implementation might take
    let alt = false;
    for (let n = 2; n < labels.length; n++) {
      const ls = labels.slice(0, n);
      if (ls.every(labelOk) && tldOk(ls[n - 1])) alt = true;
    }
    if (domOk || alt || labels.some((l) => /^-|-$/.test(l)) || !localOk)
      if (local.replace(/^\.+|\.+$/g, '') && labels.length >= 2)
        ambig(s, de, 'email', 'malformed email that a lenient parser may take');
  }

  // --- phone: international ----------------------------------------------
  for (let p = t.indexOf('+'); p !== -1; p = t.indexOf('+', p + 1)) {
    if (!isDigit(at(p + 1))) continue;
    let i = p + 1, n = 0, last = i, odd = false;
    const readDigits = () => {
      const st = i;
      while (isDigit(t[i])) i++;
      n += i - st;
      return i > st;
    };
    readDigits();
    last = i;
    for (;;) {
      const save = i;
      let sep = '';
      if (' .-'.includes(t[i] ?? 'x') && t[i] !== undefined) sep = t[i++];
      if (t[i] === '(') {
        i++;
        if (!readDigits() || t[i] !== ')') { i = save; break; }
        i++;
        if (!sep) odd = true;
        if (' .-'.includes(t[i] ?? 'x') && t[i] !== undefined && isDigit(t[i + 1])) {
          continue;
        }
        if (isDigit(t[i])) { odd = true; continue; }
        last = i; // ends with ')': keep it out of the corpus
        odd = true;
        break;
      } else if (sep && isDigit(t[i])) {
        readDigits();
        last = i;
      } else {
        i = save;
        break;
      }
    }
    const s = p, e = last;
    if (n < 8) continue;
    if (n > 15) { ambig(s, e, 'phone', 'more than 15 digits'); continue; }
    if (isWord(at(s - 1)) || isWord(at(e))) {
      if (!isAlpha(at(s - 1)) && !isAlnum(at(e))) ambig(s, e, 'phone', 'underscore');
      continue;
    }
    add(s, e, 'phone');
    if (odd) ambig(s, e, 'phone', 'unusual parenthesis use');
    if (at(s - 1) === '(') ambig(s, e, 'phone', 'phone right after (');
  }

  // --- phone: North American -------------------------------------------------
  {
    const strictRes = [
      /\((\d{3})\) (\d{3})-(\d{4})/y,
      /(\d{3})-(\d{3})-(\d{4})/y,
      /(\d{3})\.(\d{3})\.(\d{4})/y,
      /(\d{3}) (\d{3}) (\d{4})/y,
    ];
    const loose = /\(?(\d{3})\)?[-. ]?(\d{3})[-. ](\d{4})/y;
    for (let q = 0; q < t.length; q++) {
      if (t[q] !== '(' && !isDigit(t[q])) continue;
      let e = -1, nxx = null;
      for (const re of strictRes) {
        re.lastIndex = q;
        const m = re.exec(t);
        if (m) { e = q + m[0].length; nxx = m; break; }
      }
      loose.lastIndex = q;
      const lm = loose.exec(t);
      const nOk = (m) => m[1][0] >= '2' && m[2][0] >= '2';
      if (nxx && nOk(nxx)) {
        const bounded = (s) => !isWord(at(s - 1)) && !isWord(at(e));
        if ((at(q - 1) === '_' || at(e) === '_') && !isAlnum(at(q - 1)) && !isAlnum(at(e)))
          ambig(q, e, 'phone', "'_' next to a phone");
        const implBad = (s) =>
          ((at(s - 1) === '-' || at(s - 1) === '.') && isDigit(at(s - 2))) ||
          ((at(e) === '-' || at(e) === '.') && isDigit(at(e + 1))) ||
          (t[s] !== '(' && at(s - 1) === '(');
        let s = q;
        const pre = t.slice(q - 2, q);
        if ((pre === '1-' || pre === '1 ') && bounded(q - 2)) {
          s = q - 2;
          add(s, e, 'phone');
          if (implBad(s)) ambig(s, e, 'phone', 'digits next to phone');
        }
        if (bounded(q)) {
          add(q, e, 'phone');
          if (implBad(q) && s === q) ambig(q, e, 'phone', 'digits next to phone');
          if (s === q && /^\d[ .-]$/.test(pre) && !(pre === '1-' || pre === '1 '))
            ambig(q, e, 'phone', 'unknown prefix');
          if (s === q && (pre === '1-' || pre === '1 ') && isDigit(at(q - 3)))
            ambig(q, e, 'phone', 'digit before prefix');
        }
      } else if (lm && nOk(lm)) {
        const le = q + lm[0].length;
        if (!isWord(at(q - 1)) && !isWord(at(le)))
          ambig(q, le, 'phone', 'nanp with mixed separators');
      }
    }
  }

  // --- ipv4 --------------------------------------------------------------
  for (const m of t.matchAll(/\d+\.\d+\.\d+\.\d+/g)) {
    // every window of four maximal digit runs
    const runs = [...m[0].matchAll(/\d+/g)].map((r) => [m.index + r.index, m.index + r.index + r[0].length]);
    for (let k = 0; k + 4 <= runs.length; k++) {
      const s = runs[k][0], e = runs[k + 3][1];
      if (!ipv4Ok(t.slice(s, e))) continue;
      if (isAlnum(at(s - 1)) || isAlnum(at(e))) continue;
      if (at(s - 1) === '.' && isDigit(at(s - 2))) continue;
      if (at(s - 1) === '_' || at(e) === '_') { ambig(s, e, 'ipv4', "'_' next to an address"); continue; }
      if (at(e) === '.' && isDigit(at(e + 1))) continue;
      add(s, e, 'ipv4');
    }
  }
  // a dotted quad with more runs around it is handled above (windows)

  // --- ipv6 --------------------------------------------------------------
  for (const m of t.matchAll(/[0-9A-Fa-f:.]+/g)) {
    const run = m[0];
    if (!run.includes(':')) continue;
    const s = m.index, e = s + run.length;
    const bOk = !isAlnum(at(s - 1)) && !isAlnum(at(e));
    const hexRuns = (x) => (x.match(/[0-9A-Fa-f]+/g) || []).length;
    const g = inetPton6(run);
    const mine = g !== -1 ? inetPton6Written(run) : -1;
    if (g !== -1 && bOk) {
      const want = mine >= 3;
      if (want) add(s, e, 'ipv6');
      if (want !== (hexRuns(run) >= 3)) ambig(s, e, 'ipv6', 'group count');
      if (at(s - 1) === '_' || at(e) === '_') ambig(s, e, 'ipv6', 'underscore');
      continue;
    }
    // trimmed readings (sentence end, a stray colon)
    const vs = [run.replace(/\.+$/, ''), run.replace(/:$/, ''), run.replace(/^:(?!:)/, '')];
    for (const v of vs) {
      if (v !== run && v && inetPton6(v) !== -1 && hexRuns(v) >= 3 && bOk)
        ambig(s, e, 'ipv6', 'trimmed reading is an address');
    }
  }

  // --- aws_access_key ----------------------------------------------------
  for (const m of t.matchAll(/(?=((?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|APKA)[A-Z0-9]{16}))/g)) {
    const s = m.index, e = s + 20;
    if (isAlnum(at(s - 1)) || isAlnum(at(e))) continue;
    add(s, e, 'aws_access_key');
    if (at(s - 1) === '_' || at(e) === '_') ambig(s, e, 'aws_access_key', 'underscore');
  }

  // --- aws_secret_key ----------------------------------------------------
  for (const m of t.matchAll(/[A-Za-z0-9/+]+/g)) {
    const s = m.index, e = s + m[0].length;
    if (m[0].length !== 40) continue;
    const k = m[0];
    if (!/[a-z]/.test(k) || !/[A-Z]/.test(k) || !/[0-9]/.test(k)) continue;
    const lineStart = t.lastIndexOf('\n', s - 1) + 1;
    const before = t.slice(lineStart, s);
    let best = Infinity;
    for (const kw of before.matchAll(/aws|secret/gi)) {
      best = Math.min(best, before.length - (kw.index + kw[0].length));
    }
    if (best === Infinity) continue;
    const preEq = at(s - 1) === '=';
    const postEq = at(e) === '=';
    if (best <= 40 && !preEq && !postEq) add(s, e, 'aws_secret_key');
    else if (best <= 100 && !postEq)
      ambig(s, e, 'aws_secret_key', preEq ? "secret right after '='" : 'keyword 41..100 chars away');
  }

  // --- github_token ------------------------------------------------------
  for (const m of t.matchAll(/gh[pousr]_([A-Za-z0-9]+)/g)) {
    const s = m.index, e = s + m[0].length;
    if (isWord(at(s - 1)) || isWord(at(e))) continue;
    const n = m[1].length;
    if (n >= 36 && n <= 251) {
      add(s, e, 'github_token');
      if (at(s - 1) === '-' || at(e) === '-') ambig(s, e, 'github_token', 'dash');
    }
  }
  for (const m of t.matchAll(/github_pat_([A-Za-z0-9_]+)/g)) {
    const s = m.index, e = s + m[0].length;
    if (isWord(at(s - 1))) continue;
    if (m[1].length === 82) {
      add(s, e, 'github_token');
      if (at(s - 1) === '-' || at(e) === '-') ambig(s, e, 'github_token', 'dash');
    }
  }

  // --- gitlab_token / slack_token ------------------------------------------
  for (const m of t.matchAll(/glpat-([A-Za-z0-9_-]+)/g)) {
    const s = m.index, e = s + m[0].length;
    if (isWord(at(s - 1)) || m[1].length < 20) continue;
    add(s, e, 'gitlab_token');
    if (at(s - 1) === '-') ambig(s, e, 'gitlab_token', 'dash');
  }
  for (const m of t.matchAll(/xox[abposr]-([A-Za-z0-9-]+)/g)) {
    const s = m.index, e = s + m[0].length;
    if (isWord(at(s - 1)) || isWord(at(e)) || m[1].length < 10) continue;
    add(s, e, 'slack_token');
    if (at(s - 1) === '-') ambig(s, e, 'slack_token', 'dash');
  }

  // --- jwt ---------------------------------------------------------------
  const jwtChar = (c) => c !== undefined && /^[A-Za-z0-9_.-]$/.test(c);
  for (const m of t.matchAll(/eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g)) {
    const s = m.index, e = s + m[0].length;
    if (jwtChar(at(s - 1)) || jwtChar(at(e))) continue;
    const [h, , sig] = m[0].split('.');
    if (!jwtHeaderOk(h)) continue;
    if (sig.length >= 16) add(s, e, 'jwt');
    else ambig(s, e, 'jwt', 'short or empty signature');
  }

  // --- pem_private_key ---------------------------------------------------
  for (const m of t.matchAll(/-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?)PRIVATE KEY-----/g)) {
    const s = m.index;
    const endTag = `-----END ${m[1]}PRIVATE KEY-----`;
    const ei = t.indexOf(endTag, s + m[0].length);
    // the first END line of any kind (what a lenient reader would take)
    const anyEnd = t.indexOf('-----END ', s + m[0].length);
    if (ei === -1) {
      ambig(s, t.length, 'pem_private_key', 'no matching END line');
      continue;
    }
    const e = ei + endTag.length;
    add(s, e, 'pem_private_key');
    if (anyEnd !== ei) ambig(s, e, 'pem_private_key', 'another END line first');
  }

  // --- bearer_token ------------------------------------------------------
  for (const m of t.matchAll(/bearer([ \t]+)/gi)) {
    const s0 = m.index;
    const s = s0 + m[0].length;
    let e = s;
    while (isBearerChar(t[e])) e++;
    const n = e - s;
    while (t[e] === '=') e++;
    if (n < 16) continue;
    if (isWord(at(s0 - 1))) {
      if (!isAlpha(at(s0 - 1))) ambig(s, e, 'bearer_token', 'digit before Bearer');
      continue;
    }
    if (isWord(at(e))) {
      ambig(s, e, 'bearer_token', 'token runs on');
      continue;
    }
    add(s, e, 'bearer_token');
  }

  // --- url_credentials -----------------------------------------------------
  for (let i = t.indexOf('://'); i !== -1; i = t.indexOf('://', i + 1)) {
    let k = i;
    while (k > 0 && /[A-Za-z0-9+.-]/.test(t[k - 1])) k--;
    const scheme = t.slice(k, i);
    const lowerOk = /[a-z][a-z0-9+.-]*$/.test(scheme);
    const m = /^([^\s:/@]+):([^\s/@]+)@/.exec(t.slice(i + 3));
    if (!m) continue;
    const s = i + 3, e = s + m[1].length + 1 + m[2].length;
    if (lowerOk) add(s, e, 'url_credentials');
    else if (/[A-Za-z]/.test(scheme)) ambig(s, e, 'url_credentials', 'upper-case scheme');
  }

  return { cands, amb };
}

// groups written per the corpus rule: hex groups, an IPv4 tail counts two
function inetPton6Written(s) {
  const v4 = /\d+\.\d+\.\d+\.\d+$/.test(s);
  const hex = s.replace(/\d+\.\d+\.\d+\.\d+$/, '').split(':').filter((x) => x !== '').length;
  return hex + (v4 ? 2 : 0);
}

function resolve(cands) {
  const sorted = [...cands].sort((a, b) =>
    a.s - b.s || (b.e - b.s) - (a.e - a.s) || DET_INDEX[a.det] - DET_INDEX[b.det]);
  const out = [];
  let end = -1;
  for (const c of sorted) {
    if (c.s >= end) {
      out.push(c);
      end = c.e;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Line model: raw text with [[det:value]] markers (real newlines/tabs)
// ---------------------------------------------------------------------------

function parseMarkers(raw) {
  // the simplest reader of the format: '[[' det ':' value ']]'
  let text = '';
  const spans = [];
  let i = 0;
  for (;;) {
    const o = raw.indexOf('[[', i);
    if (o === -1) {
      const rest = raw.slice(i);
      if (rest.includes(']]')) throw new Error('stray ]] in: ' + raw);
      text += rest;
      break;
    }
    const before = raw.slice(i, o);
    if (before.includes(']]')) throw new Error('stray ]] in: ' + raw);
    text += before;
    const colon = raw.indexOf(':', o + 2);
    const close = raw.indexOf(']]', o + 2);
    if (colon === -1 || close === -1 || colon > close) throw new Error('bad marker in: ' + raw);
    const det = raw.slice(o + 2, colon);
    if (!(det in DET_INDEX)) throw new Error(`unknown detector "${det}" in: ${raw}`);
    const value = raw.slice(colon + 1, close);
    if (!value || value.includes('[[')) throw new Error('bad marker value in: ' + raw);
    spans.push({ s: text.length, e: text.length + value.length, det });
    text += value;
    i = close + 2;
  }
  return { text, spans };
}

const M = (det, value) => `[[${det}:${value}]]`;

function checkLine(raw, kind) {
  if (raw.includes('\r')) return 'carriage return';
  if (/^\s*(#|$)/.test(raw)) return 'line would read as a comment or blank';
  let parsed;
  try {
    parsed = parseMarkers(raw);
  } catch (e) {
    return e.message;
  }
  const { text, spans } = parsed;
  if (kind === 'pos' && spans.length === 0) return 'positive line without a marker';
  if (kind === 'neg' && spans.length !== 0) return 'negative line with a marker';
  const { cands, amb } = scan(text);
  const got = resolve(cands);
  const fmt = (l) => l.map((x) => `${x.det}@${x.s}-${x.e}:${JSON.stringify(text.slice(x.s, x.e))}`).join(', ');
  const same = got.length === spans.length &&
    got.every((g, k) => g.s === spans[k].s && g.e === spans[k].e && g.det === spans[k].det);
  if (!same) return `expected [${fmt(spans)}] but the reference finds [${fmt(got)}]`;
  for (const a of amb) {
    if (!spans.some((x) => x.s <= a.s && a.e <= x.e))
      return `ambiguous ${a.det} (${a.why}) at ${JSON.stringify(text.slice(a.s, a.e))}`;
  }
  return null;
}

const escapeLine = (raw) =>
  raw.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\t/g, '\\t');

function unescapeLine(line) {
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] !== '\\') {
      out += line[i];
      continue;
    }
    const c = line[++i];
    if (c === 'n') out += '\n';
    else if (c === 't') out += '\t';
    else if (c === '\\') out += '\\';
    else throw new Error('bad escape in: ' + line);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Output assembly
// ---------------------------------------------------------------------------

const out = []; // { type: 'comment' | 'case', raw, kind }
const seen = new Set();
let kind = null;

function section(title, k) {
  out.push({ type: 'comment', raw: '' });
  out.push({ type: 'comment', raw: `# ---- ${title} ----` });
  kind = k;
}
function note(text) {
  out.push({ type: 'comment', raw: '# ' + text });
}
// a fixed line: must pass as written
function add(raw) {
  const err = checkLine(raw, kind);
  if (err) throw new Error(`self-check failed: ${err}\n  line: ${JSON.stringify(raw)}`);
  if (seen.has(raw)) throw new Error('duplicate line: ' + raw);
  seen.add(raw);
  out.push({ type: 'case', raw, kind });
}
// a generated line: retry with new random values until it passes
function gen(fn, n = 1, tries = 200) {
  for (let k = 0; k < n; k++) {
    let err = null, raw = null;
    for (let t = 0; t < tries; t++) {
      raw = fn(k);
      err = checkLine(raw, kind) || (seen.has(raw) ? 'duplicate' : null);
      if (!err) break;
    }
    if (err) throw new Error(`self-check failed after ${tries} tries: ${err}\n  last: ${JSON.stringify(raw)}`);
    seen.add(raw);
    out.push({ type: 'case', raw, kind });
  }
}

// ---------------------------------------------------------------------------
// Value generators
// ---------------------------------------------------------------------------

const CARD_BRANDS = {
  visa13: () => ['4', 13], visa16: () => ['4', 16], visa19: () => ['4', 19],
  mc5x: () => [String(int(51, 55)), 16], mc2x: () => [String(int(2221, 2720)), 16],
  amex: () => [pick(['34', '37']), 15],
  disc6011: () => ['6011', int(16, 19)], disc64x: () => [String(int(644, 649)), 16],
  disc65: () => ['65', pick([16, 16, 19])],
  diners14: () => [pick(['300', '301', '302', '303', '304', '305', '36', '38', '39']), 14],
  diners16: () => [pick(['36', '38', '39', '300']), 16],
  jcb: () => [String(int(3528, 3589)), pick([16, 16, 19])],
  unionpay: () => ['62', pick([16, 17, 18, 19])],
};

function cardDigits(brand) {
  const [prefix, len] = CARD_BRANDS[brand]();
  const d = luhnComplete(prefix + digits(len - prefix.length - 1));
  assert(cardOk(d), 'generated card ' + d);
  return d;
}

function groupBy(d, sizes, sep) {
  const parts = [];
  let i = 0;
  for (const n of sizes) {
    if (i >= d.length) break;
    parts.push(d.slice(i, i + n));
    i += n;
  }
  if (i < d.length) parts.push(d.slice(i));
  return parts.join(sep);
}

function formatCard(d, style) {
  switch (style) {
    case 'plain': return d;
    case 'space': return groupBy(d, d.length === 15 || d.length === 14 ? [4, 6, 5] : [4, 4, 4, 4], ' ');
    case 'dash': return groupBy(d, d.length === 15 || d.length === 14 ? [4, 6, 5] : [4, 4, 4, 4], '-');
    default: throw new Error(style);
  }
}

function cardPositive(brand, style) {
  return formatCard(cardDigits(brand), style);
}

// Luhn-valid digits whose issuer or length is wrong
function cardBadIssuer(first, len) {
  for (;;) {
    const d = luhnComplete(first + digits(len - first.length - 1));
    if (luhnOk(d) && !cardOk(d)) return d;
  }
}
// valid issuer, Luhn fails
function cardBadLuhn(brand) {
  const d = cardDigits(brand);
  const last = (Number(d[d.length - 1]) + int(1, 9)) % 10;
  const bad = d.slice(0, -1) + last;
  assert(!luhnOk(bad) && !cardOk(bad), 'luhn-invalid card ' + bad);
  return bad;
}

function ssnValid(sep = '-') {
  for (;;) {
    const a = pad(int(1, 899), 3), g = pad(int(1, 99), 2), s = pad(int(1, 9999), 4);
    if (ssnOk(a, g, s)) return `${a}${sep}${g}${sep}${s}`;
  }
}

function bbanFor(cc) {
  let out = '';
  for (const m of IBAN_BBAN[cc].matchAll(/([nac])(\d+)/g)) {
    const set = m[1] === 'n' ? DIGITS : m[1] === 'a' ? UPPER : UPPER + DIGITS + DIGITS;
    out += chars(set, Number(m[2]));
  }
  return out;
}

function ibanValid(cc) {
  const bban = bbanFor(cc);
  const iban = cc + ibanCheckDigits(cc, bban) + bban;
  assert(iban.length === IBAN_LEN[cc], 'iban length ' + iban);
  assert(ibanOk(iban), 'generated iban ' + iban);
  return iban;
}
const ibanPrint = (iban) => iban.replace(/(.{4})(?=.)/g, '$1 ');

const nxx = () => String(int(2, 9)) + digits(2);
const nanpParts = () => [nxx(), nxx(), digits(4)];

function ipv4Random(kind = pick(['any', 'private', 'doc'])) {
  const o = () => String(int(0, 255));
  switch (kind) {
    case 'private': return pick([`10.${o()}.${o()}.${int(1, 254)}`, `192.168.${o()}.${int(1, 254)}`, `172.${int(16, 31)}.${o()}.${int(1, 254)}`]);
    case 'doc': return pick([`192.0.2.${int(1, 254)}`, `198.51.100.${int(1, 254)}`, `203.0.113.${int(1, 254)}`]);
    default: return `${int(1, 223)}.${o()}.${o()}.${o()}`;
  }
}

function hexGroup(maxLen = 4) {
  const n = int(1, maxLen);
  let g = chars(HEX, n);
  if (n > 1 && g[0] === '0' && chance(0.5)) g = '1' + g.slice(1);
  return g;
}

function ipv6Random(style) {
  let g = Array.from({ length: 8 }, () => hexGroup());
  let s;
  if (style === 'full') {
    s = g.map((x) => x.padStart(4, '0')).join(':');
  } else if (style === 'short') {
    s = g.join(':');
  } else if (style === 'compressed') {
    const k = int(1, 5); // groups dropped
    const at = int(0, 8 - k);
    const head = g.slice(0, at), tail = g.slice(at + k);
    s = head.join(':') + '::' + tail.join(':');
  } else if (style === 'doc') {
    const tail = Array.from({ length: int(1, 4) }, () => hexGroup());
    s = '2001:db8:' + (chance(0.5) ? hexGroup() + ':' : '') + ':' + tail.join(':');
  } else if (style === 'v4') {
    s = pick(['::ffff:', '64:ff9b::', '2001:db8::', '::ffff:0:']) + ipv4Random('doc');
  }
  if (chance(0.25)) s = s.toUpperCase();
  return s;
}

const AWS_PREFIXES = ['AKIA', 'ASIA', 'ABIA', 'ACCA', 'AGPA', 'AIDA', 'AROA', 'ANPA', 'ANVA', 'APKA'];
const awsAccess = (p = pick(AWS_PREFIXES)) => p + chars(UPPER + DIGITS + DIGITS, 16);
const awsSecret = () => mixed(B64, 40);

const githubToken = () => {
  const kind = pick(['p', 'p', 'o', 'u', 's', 'r']);
  return `gh${kind}_` + mixed(ALNUM, pick([36, 36, 36, 40, 59, 76]));
};
const githubPat = () => 'github_pat_' + mixed(ALNUM, 22) + '_' + mixed(ALNUM, 59);
const gitlabToken = (n = 20) => 'glpat-' + mixed(ALNUM + '-_', n).replace(/^[-_]/, 'x');
const slackToken = () => {
  const t = pick(['b', 'b', 'p', 'a', 'o', 's', 'r']);
  if (t === 'a') return `xoxa-2-${digits(12)}-${digits(12)}-${mixed(ALNUM, 32)}`;
  if (t === 'p') return `xoxp-${digits(11)}-${digits(12)}-${digits(13)}-${chars(HEX, 32)}`;
  return `xox${t}-${digits(pick([10, 12, 13]))}-${digits(13)}-${mixed(ALNUM, 24)}`;
};

const b64url = (s) => Buffer.from(s, 'utf8').toString('base64url');
const JWT_HEADERS = [
  '{"alg":"HS256","typ":"JWT"}',
  '{"alg":"RS256","typ":"JWT","kid":"k-2024-07"}',
  '{"typ":"JWT","alg":"ES256"}',
  '{"alg":"HS512"}',
  '{"alg":"PS256","kid":"a41c"}',
  '{"kid":"main","alg":"EdDSA","typ":"at+jwt"}',
];
function jwtPayload() {
  const iat = int(1690000000, 1720000000);
  const p = {
    sub: pick(['user-' + int(1000, 99999), 'svc:reporting', 'a7f3e1c2']),
    iat,
    exp: iat + pick([300, 900, 3600, 86400]),
  };
  if (chance(0.5)) p.scope = pick(['read', 'read write', 'admin', 'tools:call']);
  if (chance(0.4)) p.iss = pick(['https://auth.example.com', 'mcpwarden', 'idp']);
  if (chance(0.3)) p.name = pick(['Ana Souza', 'K. Osei', 'Lin Wei']);
  return JSON.stringify(p);
}
function jwtToken(header = pick(JWT_HEADERS)) {
  const sig = chars(B64URL, pick([43, 43, 86, 22, 64]));
  return `${b64url(header)}.${b64url(jwtPayload())}.${sig}`;
}

function pemBody(lines, lead = 'MII') {
  const rows = [];
  for (let i = 0; i < lines; i++) rows.push(chars(B64, 64));
  rows[0] = lead + rows[0].slice(lead.length);
  let last = int(8, 60);
  if (last === 40) last = 44;
  rows.push(chars(B64, last) + pick(['', '=', '==']));
  return rows;
}
function pemPrivate(type = pick(['', 'RSA ', 'EC ', 'DSA ', 'OPENSSH ', 'ENCRYPTED ']), nl = '\n') {
  const lead = type === 'OPENSSH ' ? Buffer.from('openssh-key-v1\0').toString('base64').slice(0, 20) : 'MII';
  const rows = pemBody(int(2, 6), lead);
  const head = [`-----BEGIN ${type}PRIVATE KEY-----`];
  if (type === 'RSA ' && chance(0.3)) {
    head.push('Proc-Type: 4,ENCRYPTED', `DEK-Info: AES-128-CBC,${chars('0123456789ABCDEF', 32)}`, '');
  }
  return [...head, ...rows, `-----END ${type}PRIVATE KEY-----`].join(nl);
}
function pemOther(label) {
  return [`-----BEGIN ${label}-----`, ...pemBody(int(2, 5)), `-----END ${label}-----`].join('\n');
}

function bearerToken() {
  const n = int(20, 64);
  let tok = mixed(ALNUM, n);
  // sprinkle the other allowed characters
  const extra = pick(['', '', '-', '.', '~', '+/', '-.']);
  for (const c of extra) {
    const i = int(4, tok.length - 4);
    tok = tok.slice(0, i) + c + tok.slice(i + 1);
  }
  if (tok.startsWith('eyJ')) tok = 'x' + tok.slice(1);
  return tok + pick(['', '', '', '=', '==']);
}

// ---------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------

function build() {
  // ======================================================================
  // card
  // ======================================================================
  section('card: positives', 'pos');
  const CARD_CTX = [
    (c) => `Paid with ${c} today`,
    (c) => `card=${c}`,
    (c) => `{"pan":"${c}","exp_month":9,"exp_year":2027}`,
    (c) => `Customer read it out (${c}) over the phone`,
    (c) => `${c} was declined by the issuer`,
    (c) => `Card on file: ${c}`,
    (c) => `<td class="pan">${c}</td>`,
    (c) => `charge --source ${c} --amount 42.00`,
    (c) => `"number": "${c}",`,
    (c) => `Billing note: use ${c} for renewals.`,
    (c) => `cc_number\t${c}\tactive`,
    (c) => `Please update the card ${c}, it expires soon`,
    (c) => `Kartennummer: ${c}`,
    (c) => `pan=${c}&amount=12.50&currency=EUR`,
    (c) => `payment_method: ${c}`,
    (c) => `The customer's card is ${c}`,
  ];
  const cardCases = [
    ['visa16', 'space'], ['visa16', 'dash'], ['visa16', 'plain'], ['visa13', 'plain'],
    ['visa19', 'plain'], ['visa19', 'space'], ['mc5x', 'space'], ['mc5x', 'plain'],
    ['mc5x', 'dash'], ['mc2x', 'space'], ['mc2x', 'plain'], ['mc2x', 'dash'],
    ['amex', 'space'], ['amex', 'plain'], ['amex', 'dash'], ['amex', 'space'],
    ['disc6011', 'plain'], ['disc6011', 'space'], ['disc64x', 'dash'], ['disc64x', 'plain'],
    ['disc65', 'space'], ['disc65', 'plain'], ['diners14', 'space'], ['diners14', 'plain'],
    ['diners14', 'dash'], ['diners16', 'space'], ['diners16', 'plain'], ['jcb', 'space'],
    ['jcb', 'plain'], ['jcb', 'dash'], ['unionpay', 'space'], ['unionpay', 'plain'],
    ['unionpay', 'plain'], ['visa16', 'space'], ['mc5x', 'space'], ['visa16', 'plain'],
  ];
  cardCases.forEach(([brand, style], k) => {
    gen(() => CARD_CTX[k % CARD_CTX.length](M('card', cardPositive(brand, style))));
  });
  // hand-written
  add(`Paid with ${M('card', '4111 1111 1111 1111')} today`);
  gen(() => `${M('card', cardPositive('visa16', 'plain'))}`);
  gen(() => `${M('card', cardPositive('mc5x', 'space'))} exp 08/26`);
  gen(() => `Two cards: ${M('card', cardPositive('visa16', 'space'))} and ${M('card', cardPositive('amex', 'space'))}`);
  gen(() => `{"cards":["${M('card', cardPositive('jcb', 'plain'))}","${M('card', cardPositive('disc6011', 'dash'))}"]}`);
  gen(() => `card:${M('card', cardPositive('visa16', 'plain'))};cvv:***`);
  gen(() => `|${M('card', cardPositive('mc2x', 'plain'))}|`);
  gen(() => `Total 1,204.50 charged to ${M('card', cardPositive('visa16', 'dash'))} on 2024-03-05`);
  gen(() => `'${M('card', cardPositive('amex', 'plain'))}'`);

  section('card: negatives (look-alikes)', 'neg');
  note('valid issuer prefix, Luhn check fails');
  for (const [brand, style] of [['visa16', 'space'], ['visa16', 'plain'], ['mc5x', 'dash'], ['mc2x', 'plain'],
    ['amex', 'space'], ['disc6011', 'plain'], ['jcb', 'space'], ['unionpay', 'plain'], ['diners14', 'plain'], ['visa13', 'plain']]) {
    gen(() => pick(CARD_CTX)(formatCard(cardBadLuhn(brand), style)));
  }
  add('Test card 4111 1111 1111 1112 should be rejected');
  note('Luhn-valid, but no issuer starts like this (1, 7, 8, 9, 0)');
  for (const [first, len] of [['1', 16], ['7', 16], ['8', 16], ['9', 16], ['0', 16], ['1', 13], ['7', 15], ['8', 19], ['9', 14], ['00', 16]]) {
    gen(() => pick(CARD_CTX)(formatCard(cardBadIssuer(first, len), pick(['plain', 'space']))));
  }
  note('Luhn-valid, issuer prefix right, length wrong for the issuer');
  for (const [first, len] of [['4', 14], ['4', 15], ['4', 17], ['4', 18], ['51', 15], ['55', 17], ['34', 16], ['37', 14], ['6011', 15], ['3530', 15]]) {
    gen(() => pick(CARD_CTX)(cardBadIssuer(first, len)));
  }
  note('20 or more digits: not a card, nor a card inside it');
  gen(() => `account ref ${luhnComplete('4' + digits(18))}7 closed`);
  gen(() => `trace=${'4' + digits(23)}`);
  gen(() => `IMEI-ish 35${digits(13)} is fifteen digits of a phone, not a card`);
  note('digits touching letters, decimals');
  gen(() => `ref A${cardDigits('visa16')} (prefixed)`);
  gen(() => `sku ${cardDigits('mc5x')}X`);
  gen(() => `amount 0.${cardDigits('visa16')} BTC`);
  gen(() => `ratio ${cardDigits('visa16')}.25`);
  note('double spaces are not a card grouping');
  gen(() => groupBy(cardDigits('visa16'), [4, 4, 4, 4], '  ') + ' (two spaces)');
  note('millisecond timestamps and other 13-19 digit numbers starting with 1');
  add('created_at=1700000000000');
  gen(() => `{"ts":17${digits(11)},"level":"info"}`);
  gen(() => `ts_ns=17${digits(17)}`);
  gen(() => `Snowflake id 1${digits(18)} assigned`);

  // ======================================================================
  // ssn
  // ======================================================================
  section('ssn: positives', 'pos');
  const SSN_CTX = [
    (s) => `SSN: ${s}`, (s) => `ssn=${s}`, (s) => `{"ssn":"${s}"}`,
    (s) => `Employee SSN ${s} on file`, (s) => `${s} (applicant)`,
    (s) => `social security no. ${s}`, (s) => `Taxpayer id: ${s}; filing status single`,
    (s) => `<ssn>${s}</ssn>`, (s) => `SSN\t${s}`, (s) => `Verify identity with ${s}.`,
    (s) => `"tin": "${s}",`, (s) => `The number ${s} belongs to the claimant`,
  ];
  for (let k = 0; k < 22; k++) gen(() => SSN_CTX[k % SSN_CTX.length](M('ssn', ssnValid(k % 3 === 2 ? ' ' : '-'))));
  add(`SSN: ${M('ssn', '001-01-0001')}`);
  add(`edge: ${M('ssn', '665-99-9999')} and ${M('ssn', '667-01-0001')}`);
  add(`edge: ${M('ssn', '899-12-3456')}`);
  add(`${M('ssn', '078-05-1121')} differs from the advertising number by one`);

  section('ssn: negatives', 'neg');
  note('invalid area (000, 666, 900-999), group 00, serial 0000');
  add('SSN: 000-12-3456');
  add('SSN: 666-12-3456');
  add('SSN: 900-12-3456');
  add('SSN: 987 65 4320');
  add('SSN: 999-99-9999');
  add('ssn=123-00-4567');
  add('ssn=234-56-0000');
  add('ssn 345 00 6789');
  note('never issued');
  add('SSN: 078-05-1120');
  add('ssn: 219-09-9999');
  add('Example SSN 123-45-6789 from the form template');
  add('123 45 6789 is the placeholder');
  note('bare nine digits, separators that do not match, longer numbers');
  add('ssn=234567891');
  gen(() => `SSN (no dashes) ${ssnValid('')}`);
  gen(() => `mixed ${ssnValid('-').replace(/-(?=\d{4}$)/, '.')}`);
  add('ref 555-123-45-6789-1');
  gen(() => `part 9-${ssnValid('-')}`);
  gen(() => `part ${ssnValid('-')}-7`);
  gen(() => `code A${ssnValid('-')}`);
  gen(() => `code ${ssnValid('-')}B`);
  note('dates, zip+4, phone fragments');
  add('Born 2024-01-15, enrolled 2019-11-30');
  add('Deliver to 94105-1234 before 1999-12-31');
  add('Line 555-0100 is a fictional number');
  add('Room 12-34-5678 is not a number anyone issues');
  add('Part 1234-56-789 fits nothing');

  // ======================================================================
  // iban
  // ======================================================================
  section('iban: positives', 'pos');
  const IBAN_CTX = [
    (i) => `IBAN: ${i}`, (i) => `Please wire the funds to ${i} by Friday`,
    (i) => `{"iban":"${i}"}`, (i) => `iban=${i}&amount=250`,
    (i) => `Beneficiary account ${i} (EUR)`, (i) => `${i}`,
    (i) => `Empfänger-IBAN ${i}`, (i) => `Compte: ${i}.`,
    (i) => `payout_account\t${i}`, (i) => `<IBAN>${i}</IBAN>`,
  ];
  IBAN_REQUIRED.forEach((cc, k) => {
    gen(() => IBAN_CTX[k % IBAN_CTX.length](M('iban', ibanValid(cc))));
    gen(() => IBAN_CTX[(k + 3) % IBAN_CTX.length](M('iban', ibanPrint(ibanValid(cc)))));
  });
  gen(() => `From ${M('iban', ibanPrint(ibanValid('DE')))} to ${M('iban', ibanPrint(ibanValid('FR')))}`);
  gen(() => `IBAN:${M('iban', ibanValid('GB'))},BIC:${chars(UPPER, 4)}GB2L`);
  gen(() => `${M('iban', ibanPrint(ibanValid('NL')))} is the club account`);

  section('iban: negatives', 'neg');
  note('check digits wrong');
  IBAN_REQUIRED.forEach((cc, k) => {
    gen(() => {
      const v = ibanValid(cc);
      let bad = v.slice(0, 2) + pad((Number(v.slice(2, 4)) + int(1, 96)) % 97 + 2, 2) + v.slice(4);
      if (bad.slice(2, 4) === v.slice(2, 4) || ibanMod97Ok(bad)) bad = v.slice(0, 2) + '00' + v.slice(4);
      assert(!ibanOk(bad), 'bad iban ' + bad);
      return IBAN_CTX[k % IBAN_CTX.length](k % 2 ? ibanPrint(bad) : bad);
    });
  });
  note('mod-97 right, length wrong for the country');
  for (const [cc, delta] of [['DE', -1], ['GB', 1], ['FR', -2], ['NL', 1], ['CH', -1], ['NO', 1]]) {
    gen(() => {
      let bban = bbanFor(cc);
      bban = delta < 0 ? bban.slice(0, delta) : bban + digits(delta);
      const v = cc + ibanCheckDigits(cc, bban) + bban;
      assert(ibanMod97Ok(v) && !ibanOk(v), 'wrong-length iban ' + v);
      return `IBAN: ${chance(0.5) ? ibanPrint(v) : v}`;
    });
  }
  note('mod-97 right, not an IBAN country');
  for (const cc of ['US', 'JP', 'CA', 'AU', 'ZZ']) {
    gen(() => {
      const bban = digits(18);
      const v = cc + ibanCheckDigits(cc, bban) + bban;
      assert(ibanMod97Ok(v) && !ibanOk(v), 'unknown-country iban ' + v);
      return `account ${v}`;
    });
  }
  note('lower case');
  for (const cc of ['DE', 'GB', 'ES']) {
    gen(() => `iban=${ibanValid(cc).toLowerCase()}`);
  }
  gen(() => `IBAN: ${ibanPrint(ibanValid('IT')).toLowerCase()}`);
  note('letters touching it');
  gen(() => `refX${ibanValid('BE')}`);
  gen(() => `${ibanValid('AT')}Z`);

  // ======================================================================
  // email
  // ======================================================================
  section('email: positives', 'pos');
  const LOCALS = ['alice', 'bob.smith', 'j.doe+billing', 'ops-team', 'first_last', 'x', 'm.garcia',
    'support', 'no-reply', 'dev+ci.bot', 'a1b2c3', 'user%relay', 'Zoe.Kim', 'NOREPLY', 'sales.eu',
    'k8s-alerts', 'hr_dept', 'o.nwosu', 'finance-2024', 'z'];
  const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example.com', 'acme-corp.io',
    'dept.example.co.uk', 'corp.example', 'tuxedo-labs.dev', 'hospital.example.org', 'uni-example.edu',
    'shop.example.de', 'x.io', 'EXAMPLE.COM', 'a-b-c.example.museum', 'sub1.sub2.example.travel'];
  const EMAIL_CTX = [
    (e) => `Contact ${e} for access`, (e) => `From: Ana Souza <${e}>`, (e) => `{"email":"${e}"}`,
    (e) => `mailto:${e}`, (e) => `reply-to=${e}`, (e) => `${e}`, (e) => `Send the report to ${e}.`,
    (e) => `cc: ${e}, bcc: none`, (e) => `"${e}" is on the allow list`, (e) => `user\t${e}\tadmin`,
    (e) => `(${e})`, (e) => `Owner: ${e};`,
  ];
  for (let k = 0; k < 26; k++) {
    gen(() => EMAIL_CTX[k % EMAIL_CTX.length](M('email', `${LOCALS[k % LOCALS.length]}@${DOMAINS[k % DOMAINS.length]}`)));
  }
  add(`git remote: ${M('email', 'git@github.com')}:org/repo.git`);
  add(`${M('email', 'a@b.co')}`);
  add(`List: ${M('email', 'one@example.com')},${M('email', 'two@example.org')}`);
  add(`<a href="mailto:${M('email', 'press@example.net')}?subject=Hi">press</a>`);
  add(`${M('email', 'very.long.local-part_with.many.dots@deep.sub.domain.example.com')} signed up`);
  add(`Email ${M('email', 'Mixed.Case+Tag@Example.Org')} twice: ${M('email', 'mixed.case+tag@example.org')}`);
  add(`${M('email', '-dash-start@example.com')} is odd but valid`);
  add(`{"to":["${M('email', 'legal@example.com')}"],"cc":[]}`);
  add(`Questions? Write to ${M('email', 'help@example.com')}!`);

  section('email: negatives', 'neg');
  add('ssh user@localhost');
  add('Thanks @alice and @bob-smith for the review');
  add('a@b');
  add('name at example dot com');
  add('foo@bar.123');
  add('user@example');
  add('user@example.c');
  add('npm install lodash@4.17.21');
  add('pip install "requests>=2.31" and @types/node');
  add('docker pull nginx@sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac');
  add('@example.com is a domain, not an address');
  add('the @ sign alone, or name@ at the end');
  add('john.doe(at)example.com');
  add('decorators like @property and @dataclass(frozen=True)');
  add('Price: 3 @ $4.50 each');
  add('user@host_name.local');
  add('ping me @ 10am');
  add('x@-bad');

  // ======================================================================
  // phone
  // ======================================================================
  section('phone: positives (international)', 'pos');
  const PHONE_CTX = [
    (p) => `Call me at ${p}`, (p) => `tel: ${p}`, (p) => `{"phone":"${p}"}`,
    (p) => `Mobile ${p}, office hours 9-5`, (p) => `Contact: ${p} after 6pm`,
    (p) => `${p}`, (p) => `phone=${p}&verified=true`, (p) => `Fax ${p}.`,
    (p) => `<a href="tel:${p}">call</a>`, (p) => `support line\t${p}`,
  ];
  const INTL = [
    () => `+44 20 ${digits(4)} ${digits(4)}`,
    () => `+44 7${digits(3)} ${digits(6)}`,
    () => { const [a, b, c] = nanpParts(); return `+1 (${a}) ${b}-${c}`; },
    () => { const [a, b, c] = nanpParts(); return `+1-${a}-${b}-${c}`; },
    () => { const [a, b, c] = nanpParts(); return `+1.${a}.${b}.${c}`; },
    () => { const [a, b, c] = nanpParts(); return `+1${a}${b}${c}`; },
    () => `+49-30-${digits(6)}`,
    () => `+49 30 ${digits(8)}`,
    () => `+49 151 ${digits(8)}`,
    () => `+33 1 ${digits(2)} ${digits(2)} ${digits(2)} ${digits(2)}`,
    () => `+33 6 ${digits(2)} ${digits(2)} ${digits(2)} ${digits(2)}`,
    () => `+81 3-${digits(4)}-${digits(4)}`,
    () => `+61 2 ${digits(4)} ${digits(4)}`,
    () => `+91 9${digits(4)} ${digits(5)}`,
    () => `+34 91${digits(1)} ${digits(3)} ${digits(3)}`,
    () => `+39 06 ${digits(4)} ${digits(4)}`,
    () => `+86 10 ${digits(4)} ${digits(4)}`,
    () => `+55 11 9${digits(4)}-${digits(4)}`,
    () => `+353 1 ${digits(3)} ${digits(4)}`,
    () => `+41 44 ${digits(3)} ${digits(2)} ${digits(2)}`,
    () => `+7 495 ${digits(3)}-${digits(2)}-${digits(2)}`,
    () => `+27 21 ${digits(3)} ${digits(4)}`,
    () => `+46 8 ${digits(3)} ${digits(3)} ${digits(2)}`,
    () => `+${int(30, 49)}${digits(9)}`,
  ];
  INTL.forEach((f, k) => gen(() => PHONE_CTX[k % PHONE_CTX.length](M('phone', f()))));
  add(`Office ${M('phone', '+44 20 7946 0321')}`);
  add(`Call ${M('phone', '+1 (415) 555-2671')} or ${M('phone', '+49-30-901820')}`);
  add(`Paris: ${M('phone', '+33 1 42 68 53 00')}`);

  section('phone: positives (North American)', 'pos');
  const NANP = [
    () => { const [a, b, c] = nanpParts(); return `(${a}) ${b}-${c}`; },
    () => { const [a, b, c] = nanpParts(); return `${a}-${b}-${c}`; },
    () => { const [a, b, c] = nanpParts(); return `${a}.${b}.${c}`; },
    () => { const [a, b, c] = nanpParts(); return `${a} ${b} ${c}`; },
    () => { const [a, b, c] = nanpParts(); return `1-${a}-${b}-${c}`; },
    () => { const [a, b, c] = nanpParts(); return `1 ${a} ${b} ${c}`; },
  ];
  for (let k = 0; k < 20; k++) {
    gen(() => PHONE_CTX[(k + 2) % PHONE_CTX.length](M('phone', NANP[k % NANP.length]())));
  }
  add(`Call ${M('phone', '1 (212) 555-0147')} for the front desk`);
  add(`Dial ${M('phone', '212.555.0199')} (this looks like a version number, it is a phone)`);
  add(`Numbers: ${M('phone', '646-555-0101')}, ${M('phone', '(718) 555-0102')}`);

  section('phone: negatives', 'neg');
  note('no separators: not a phone unless it starts with +');
  gen(() => `Call ${nxx()}${nxx()}${digits(4)} now`);
  gen(() => `acct 1${nxx()}${nxx()}${digits(4)}`);
  gen(() => `id=${nxx()}${nxx()}${digits(4)}`);
  note('seven digits, NANP area or exchange starting with 0 or 1');
  add('Info line 555-0100, ext 12');
  add('Dial 555 0199 from inside the building');
  add('Call 123-456-7890 (placeholder)');
  add('Call (123) 456-7890 (placeholder)');
  add('Call 212-055-1234 (exchange starts with 0)');
  add('Call 212 155 1234 (exchange starts with 1)');
  add('Call 012.555.1234 (area starts with 0)');
  note('too few digits after +');
  add('score +12 (was +7)');
  add('offset +0530 and +1-555');
  add('UK prefix +44 20 then nothing');
  note('dates, versions, times, ranges');
  add('2024-01-15 10:30:00');
  add('Released 2023.10.04 as v3.2.1');
  add('pages 212-235, 1999-2004');
  add('Open 9-17, closed 12.30-13.30');
  add('Coordinates 40.7128, -74.0060');
  add('Temperature range -40 to +85 C');
  add('ratio 16:9 and 4:3');

  // ======================================================================
  // ipv4
  // ======================================================================
  section('ipv4: positives', 'pos');
  const IP4_CTX = [
    (a) => `host ${a} responded in 12 ms`, (a) => `ip=${a}`, (a) => `{"remote_addr":"${a}"}`,
    (a) => `Connecting to ${a}:5432`, (a) => `allow from ${a}/24`,
    (a) => `${a} - - [05/Mar/2024:10:22:13 +0000] "GET /health HTTP/1.1" 200 512`,
    (a) => `X-Forwarded-For: ${a}`, (a) => `ssh admin@${a} -p 2222`, (a) => `nameserver ${a}`,
    (a) => `http://${a}:8080/metrics`, (a) => `peer=${a};state=up`, (a) => `<ip>${a}</ip>`,
    (a) => `Blocked ${a} (too many attempts)`, (a) => `gateway\t${a}`,
  ];
  for (let k = 0; k < 22; k++) gen(() => IP4_CTX[k % IP4_CTX.length](M('ipv4', ipv4Random())));
  add(`Edge values ${M('ipv4', '0.0.0.0')} and ${M('ipv4', '255.255.255.255')}`);
  add(`DNS ${M('ipv4', '9.9.9.9')}, ${M('ipv4', '1.0.0.1')}`);
  add(`${M('ipv4', '127.0.0.1')}`);
  add(`A dotted quad is an address even when it names a build: firmware ${M('ipv4', '4.2.0.1')} installed`);
  add(`Route ${M('ipv4', '10.10.10.10')}->${M('ipv4', '10.10.10.11')}`);

  section('ipv4: negatives', 'neg');
  add('256.1.1.1 is out of range');
  add('host 10.0.0.256 is invalid');
  add('only three parts: 1.2.3');
  add('leading zero 01.2.3.4 is not accepted');
  add('leading zeros 192.168.001.010');
  add('OID 1.3.6.1.4.1.311.21.7');
  add('five parts 1.2.3.4.5');
  add('release 2.10.4 ships today');
  add('version v1.2.3.4');
  add('Windows 10.0.19041.1288');
  add('Chrome/120.0.6099.109 Safari/537.36');
  add('node-18.19.0-linux-x64');
  add('amount 1,234,567.89');
  add('ip10.0.0.1 glued to a word');
  add('10.0.0.1x glued to a letter');
  add('10.0.0.1.5 has a fifth part');
  add('Date 15.01.2024, time 10.30');
  add('PI is 3.14159.26535');
  add('section 4.1.2.7a of the RFC');

  // ======================================================================
  // ipv6
  // ======================================================================
  section('ipv6: positives', 'pos');
  const IP6_CTX = [
    (a) => `inet6 ${a}/64 scope global`, (a) => `{"client_ip":"${a}"}`, (a) => `ping6 ${a}`,
    (a) => `X-Real-IP: ${a}`, (a) => `peer ${a} port 443`, (a) => `${a}`,
    (a) => `listen=${a};backlog=128`, (a) => `Connection from ${a} closed`,
    (a) => `addr: ${a}, state: up`, (a) => `src\t${a}\tdst\t-`,
  ];
  const v6styles = ['full', 'short', 'compressed', 'doc', 'v4', 'compressed', 'doc', 'full', 'compressed', 'short', 'v4', 'compressed'];
  for (let k = 0; k < 22; k++) {
    gen(() => {
      const a = ipv6Random(v6styles[k % v6styles.length]);
      assert(inetPton6(a) !== -1, 'generated ipv6 ' + a);
      return IP6_CTX[k % IP6_CTX.length](M('ipv6', a));
    });
  }
  add(`Loopback-mapped ${M('ipv6', '::ffff:192.0.2.1')}`);
  add(`Server ${M('ipv6', '2001:db8::8a2e:370:7334')} and ${M('ipv6', 'FE80:0:0:0:200:F8FF:FE21:67CF')}`);
  add(`${M('ipv6', '1:2:3:4:5:6:7:8')}`);
  add(`three groups are enough: ${M('ipv6', '2001:db8::1')}`);
  add(`"${M('ipv6', 'fd00:a:b::c')}"`);

  section('ipv6: negatives', 'neg');
  add('loopback ::1 is too short to mask');
  add('a::b has two groups');
  add('link-local fe80::1 has only two groups written');
  add('time 12:30:45');
  add('at 23:59:59.999 UTC');
  add('MAC 00:1A:2B:3C:4D:5E');
  add('mac=de:ad:be:ef:00:01');
  add('std::vector<int> v;');
  add('Foo::Bar::baz()');
  add('seven groups 1:2:3:4:5:6:7');
  add('nine groups 1:2:3:4:5:6:7:8:9');
  add('triple colon 2001:db8:::1');
  add('two gaps 2001::db8::1');
  add('five hex digits 12345::1:2');
  add('bad char 2001:db8::g1');
  add('ratio 3:2:1');
  add('bible verse John 3:16');
  add('dead:beef:f00d is three groups but no gap and not eight');
  add('C++ ::operator new and a::b::c');

  // ======================================================================
  // aws_access_key
  // ======================================================================
  section('aws_access_key: positives', 'pos');
  const AK_CTX = [
    (k) => `aws_access_key_id = ${k}`, (k) => `"AccessKeyId": "${k}",`, (k) => `AWS_ACCESS_KEY_ID=${k}`,
    (k) => `Key ${k} was rotated`, (k) => `${k}`, (k) => `access key: ${k} (inactive)`,
    (k) => `credentials: {id: '${k}'}`, (k) => `<AccessKeyId>${k}</AccessKeyId>`,
  ];
  AWS_PREFIXES.forEach((p, k) => gen(() => AK_CTX[k % AK_CTX.length](M('aws_access_key', awsAccess(p)))));
  for (let k = 0; k < 5; k++) gen(() => AK_CTX[(k + 2) % AK_CTX.length](M('aws_access_key', awsAccess())));

  section('aws_access_key: negatives', 'neg');
  gen(() => `aws_access_key_id = AKIA${chars(UPPER + DIGITS, 15)}`);
  gen(() => `aws_access_key_id = AKIA${chars(UPPER + DIGITS, 17)}`);
  gen(() => `key akia${chars(LOWER + DIGITS, 16)} is lower case`);
  gen(() => `key AKIA${chars(UPPER, 6)}${chars(LOWER, 4)}${chars(DIGITS, 6)} has lower-case letters`);
  gen(() => `XAKIA${chars(UPPER + DIGITS, 16)} has a letter in front`);
  gen(() => `AKIA${chars(UPPER + DIGITS, 16)}7 runs on`);
  gen(() => `prefix AKIB${chars(UPPER + DIGITS, 16)} is not an AWS prefix`);
  add('AKIAEXAMPLE is a placeholder');
  gen(() => `AKIA-${chars(UPPER + DIGITS, 16)}`);

  // ======================================================================
  // aws_secret_key
  // ======================================================================
  section('aws_secret_key: positives', 'pos');
  const SK_CTX = [
    (k) => `aws_secret_access_key = ${k}`, (k) => `"SecretAccessKey": "${k}",`,
    (k) => `export AWS_SECRET_ACCESS_KEY="${k}"`, (k) => `secret: ${k}`,
    (k) => `AWS secret key ${k} (rotate quarterly)`, (k) => `--aws-secret-key ${k}`,
    (k) => `aws configure set aws_secret_access_key ${k}`, (k) => `<SecretAccessKey>${k}</SecretAccessKey>`,
    (k) => `client_secret: '${k}'`, (k) => `The AWS key pair secret is ${k}.`,
  ];
  for (let k = 0; k < 14; k++) gen(() => SK_CTX[k % SK_CTX.length](M('aws_secret_key', awsSecret())));

  section('aws_secret_key: negatives', 'neg');
  note('no "aws" or "secret" nearby');
  gen(() => `checksum ${awsSecret()}`);
  gen(() => `token: ${awsSecret()}`);
  gen(() => `{"etag":"${awsSecret()}"}`);
  note('the right context, but not 40 mixed characters');
  gen(() => `secret commit ${chars(HEX, 40)}`);
  gen(() => `aws_secret_access_key = ${chars(LOWER + DIGITS, 40)}`);
  gen(() => `aws secret ${mixed(ALNUM, 39)}`);
  gen(() => `aws secret ${mixed(ALNUM, 41)}`);
  gen(() => `secret: ${chars(UPPER + LOWER, 40)}`);
  gen(() => `secret blob ${awsSecret()}== (base64, longer than a key)`);
  note('context on a different line, or too far away');
  gen(() => `The secret is below.\n${awsSecret()}`);
  gen(() => `aws region is set to eu-west-1 in the profile; the following value is the build cache checksum, unrelated to any credential: ${awsSecret()}`);

  // ======================================================================
  // github_token / gitlab_token / slack_token
  // ======================================================================
  section('github_token: positives', 'pos');
  const TOK_CTX = [
    (t) => `GITHUB_TOKEN=${t}`, (t) => `token ${t}`, (t) => `{"token":"${t}"}`,
    (t) => `Authorization: token ${t}`, (t) => `${t}`, (t) => `gh auth login --with-token <<< ${t}`,
    (t) => `Leaked: '${t}' in config.yml`, (t) => `password\t${t}`,
  ];
  for (let k = 0; k < 10; k++) gen(() => TOK_CTX[k % TOK_CTX.length](M('github_token', githubToken())));
  for (let k = 0; k < 3; k++) gen(() => TOK_CTX[(k + 3) % TOK_CTX.length](M('github_token', githubPat())));
  gen(() => `max length ${M('github_token', 'ghp_' + mixed(ALNUM, 251))}`);
  gen(() => `Authorization: Bearer ${M('github_token', 'ghp_' + mixed(ALNUM, 36))}`);

  section('github_token: negatives', 'neg');
  gen(() => `ghp_${mixed(ALNUM, 35)} is one short`);
  gen(() => `ghp_${mixed(ALNUM, 252)} is too long`);
  gen(() => `ghx_${mixed(ALNUM, 36)}`);
  gen(() => `ghp-${mixed(ALNUM, 36)}`);
  gen(() => `xghp_${mixed(ALNUM, 36)}`);
  gen(() => `ghp_${mixed(ALNUM, 36)}_old`);
  gen(() => `github_pat_${mixed(ALNUM, 22)}_${mixed(ALNUM, 58)}`);
  gen(() => `GHP_${mixed(ALNUM, 36)}`);
  add('ghp_ is the prefix of a personal access token');

  section('gitlab_token: positives', 'pos');
  for (let k = 0; k < 8; k++) gen(() => TOK_CTX[(k + 1) % TOK_CTX.length](M('gitlab_token', gitlabToken(pick([20, 20, 26, 40])))));
  gen(() => `PRIVATE-TOKEN: ${M('gitlab_token', gitlabToken())}`);
  gen(() => `Authorization: Bearer ${M('gitlab_token', 'glpat-' + mixed(ALNUM, 20))}`);

  section('gitlab_token: negatives', 'neg');
  gen(() => `glpat-${mixed(ALNUM, 19)}`);
  gen(() => `glpat_${mixed(ALNUM, 20)}`);
  gen(() => `glptt-${mixed(ALNUM, 20)}`);
  gen(() => `xglpat-${mixed(ALNUM, 20)}`);
  gen(() => `GLPAT-${mixed(ALNUM, 20)}`);
  add('see docs for glpat- tokens');

  section('slack_token: positives', 'pos');
  for (let k = 0; k < 10; k++) gen(() => TOK_CTX[(k + 2) % TOK_CTX.length](M('slack_token', slackToken())));
  gen(() => `SLACK_BOT_TOKEN=${M('slack_token', 'xoxb-' + mixed(ALNUM, 10))}`);
  gen(() => `Authorization: Bearer ${M('slack_token', `xoxp-${digits(11)}-${digits(12)}-${mixed(ALNUM, 20)}`)}`);

  section('slack_token: negatives', 'neg');
  gen(() => `xoxz-${digits(12)}-${mixed(ALNUM, 24)}`);
  gen(() => `xoxb-${mixed(ALNUM, 9)}`);
  gen(() => `xoxb_${digits(12)}-${mixed(ALNUM, 24)}`);
  gen(() => `XOXB-${digits(12)}-${mixed(ALNUM, 24)}`);
  gen(() => `axoxb-${digits(12)}-${mixed(ALNUM, 24)}`);
  add('slack tokens start with xoxb- or xoxp-');

  // ======================================================================
  // jwt
  // ======================================================================
  section('jwt: positives', 'pos');
  const JWT_CTX = [
    (j) => `token=${j}`, (j) => `{"id_token":"${j}"}`, (j) => `Cookie: session=${j}; Path=/; HttpOnly`,
    (j) => `X-Auth: ${j}`, (j) => `https://app.example.com/cb#access_token=${j}&state=xyz`,
    (j) => `${j}`, (j) => `jwt: ${j}`, (j) => `"${j}"`,
  ];
  for (let k = 0; k < 12; k++) gen(() => JWT_CTX[k % JWT_CTX.length](M('jwt', jwtToken(JWT_HEADERS[k % JWT_HEADERS.length]))));
  gen(() => `two tokens ${M('jwt', jwtToken())} ${M('jwt', jwtToken())}`);

  section('jwt: negatives', 'neg');
  note('header decodes to JSON without "alg"');
  gen(() => `token=${b64url('{"typ":"JWT"}')}.${b64url(jwtPayload())}.${chars(B64URL, 43)}`);
  gen(() => `token=${b64url('{"kid":"k1","typ":"JWT"}')}.${b64url(jwtPayload())}.${chars(B64URL, 43)}`);
  note('header is not JSON');
  gen(() => `token=${b64url('{"alg":"HS256"')}.${b64url(jwtPayload())}.${chars(B64URL, 43)}`);
  note('two segments, or a payload that is not eyJ');
  gen(() => `token=${b64url(JWT_HEADERS[0])}.${b64url(jwtPayload())}`);
  gen(() => `token=${b64url(JWT_HEADERS[0])}.${b64url('hello world')}.${chars(B64URL, 43)}`);
  note('glued to other characters');
  gen(() => `x${jwtToken()}`);
  gen(() => `${jwtToken()}.extra`);
  add('eyJ is how base64 of {" begins');

  // ======================================================================
  // pem_private_key
  // ======================================================================
  section('pem_private_key: positives', 'pos');
  for (const type of ['', 'RSA ', 'EC ', 'DSA ', 'OPENSSH ', 'ENCRYPTED ', 'RSA ', '']) {
    gen(() => `key: ${M('pem_private_key', pemPrivate(type))}`);
  }
  gen(() => `${M('pem_private_key', pemPrivate('RSA '))}`);
  gen(() => `{"type":"service_account","private_key":"${M('pem_private_key', pemPrivate('', '\\n'))}\\n","client_email":"${M('email', 'svc@proj-1.iam.example.com')}"}`);
  gen(() => `ssh key ${M('pem_private_key', pemPrivate('OPENSSH '))} (do not share)`);
  gen(() => `bundle: ${M('pem_private_key', pemPrivate('EC '))}\n${pemOther('CERTIFICATE')}`);

  section('pem_private_key: negatives', 'neg');
  gen(() => pemOther('PUBLIC KEY'));
  gen(() => `cert: ${pemOther('CERTIFICATE')}`);
  gen(() => pemOther('RSA PUBLIC KEY'));
  gen(() => pemOther('CERTIFICATE REQUEST'));
  gen(() => pemOther('EC PARAMETERS'));
  gen(() => `ssh-ed25519 ${chars(B64, 68)} alice@laptop`.replace(/alice@laptop/, 'alice-laptop'));
  add('Store the private key in the vault, never in the repo.');

  // ======================================================================
  // bearer_token
  // ======================================================================
  section('bearer_token: positives', 'pos');
  const BEARER_CTX = [
    (t) => `Authorization: Bearer ${t}`, (t) => `authorization: bearer ${t}`,
    (t) => `curl -H "Authorization: Bearer ${t}" https://api.example.com/v1/items`,
    (t) => `BEARER\t${t}`, (t) => `{"headers":{"Authorization":"Bearer ${t}"}}`,
    (t) => `Bearer  ${t}`, (t) => `auth=Bearer ${t};`, (t) => `Bearer ${t}`,
  ];
  for (let k = 0; k < 16; k++) gen(() => BEARER_CTX[k % BEARER_CTX.length](M('bearer_token', bearerToken())));
  gen(() => `Authorization: Bearer ${M('bearer_token', mixed(ALNUM, 16))}`);

  section('bearer_token: negatives', 'neg');
  add('Authorization: Bearer token');
  add('He was the bearer of bad news');
  add('Bearer abc123');
  gen(() => `Authorization: Bearer ${mixed(ALNUM, 15)}`);
  add('Bearer: see the auth docs');
  gen(() => `Authorization: Basic ${Buffer.from('deploy:hunter2-but-longer').toString('base64')}`);
  add('bearer-token-auth is enabled');
  add('Use the Bearer scheme for API calls');
  gen(() => `XBearer ${mixed(ALNUM, 24)}`);
  add('bearer_token: null');

  // ======================================================================
  // url_credentials
  // ======================================================================
  section('url_credentials: positives', 'pos');
  add(`DATABASE_URL=postgres://${M('url_credentials', 'app:s3cr3t!x')}@db.internal:5432/billing`);
  add(`redis://${M('url_credentials', 'default:r3d!s-pw')}@cache.local:6379/0`);
  add(`amqp://${M('url_credentials', 'guest:gu3st#pw')}@rabbit.svc:5672/`);
  add(`mongodb+srv://${M('url_credentials', 'svc:Xy9$kq2')}@cluster0.ab1cd.example.net/app`);
  add(`git clone https://${M('url_credentials', 'deploy:t0k$n')}@git.example.com/org/repo.git`);
  add(`ftp://${M('url_credentials', 'anon:pa$$!')}@ftp.example.org/pub`);
  add(`smtp://${M('url_credentials', 'mailer:m4il!er')}@smtp.example.net:587`);
  add(`ldap://${M('url_credentials', 'cn%3Dadmin:adm!n')}@ldap.example.com`);
  add(`sftp://${M('url_credentials', 'backup:b4ck*up')}@${M('ipv4', '10.0.5.20')}:22/data`);
  add(`jdbc:mysql://${M('url_credentials', 'root:r00t#2024')}@mysql:3306/shop`);
  add(`{"dsn":"postgresql://${M('url_credentials', 'reader:R3ad^only')}@replica-2:5432/db"}`);
  add(`proxy=http://${M('url_credentials', 'proxyuser:pr0xy&pass')}@proxy.corp.example:3128`);
  add(`https://${M('url_credentials', 'x-access-token:ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5')}@github.com/org/repo.git`);
  gen(() => `mysql://${M('url_credentials', `u${digits(3)}:${mixed(ALNUM, 12)}!`)}@db${int(1, 9)}.example.com/app`);
  gen(() => `s3://${M('url_credentials', `${awsAccess()}:${mixed(ALNUM, 20)}#`)}@bucket/x`);
  add(`couchdb://${M('url_credentials', 'admin:pass:with:colons!')}@couch:5984/`);
  add(`wss://${M('url_credentials', 'bot:t%40k3n~1')}@chat.example.com/socket`);

  section('url_credentials: negatives', 'neg');
  add('https://user@localhost/dashboard');
  add('ssh://git@localhost:22/repo.git');
  add('https://user:@localhost/ (empty password)');
  add('https://example.com/login?user=bob&pass=x');
  add('http://localhost:8080/path:with:colons');
  add('see ://x:y!@z for the shape');
  add('user:pass!@host without a scheme');
  add('https://a b:c!@d has a space in the user');
  add('https://bob:pw/x@host has a slash in the password');
  add('file:///etc/passwd');

  // ======================================================================
  // several detectors on one line
  // ======================================================================
  section('mixed: several values per line', 'pos');
  gen(() => `2024-03-05T10:22:13Z INFO login user=${M('email', 'm.garcia@example.com')} ip=${M('ipv4', ipv4Random('doc'))} ua="curl/8.4.0"`);
  gen(() => `{"name":"Lin Wei","email":"${M('email', 'lin.wei@example.org')}","phone":"${M('phone', '+86 10 ' + digits(4) + ' ' + digits(4))}","ssn":"${M('ssn', ssnValid())}"}`);
  gen(() => `order 8812: card ${M('card', cardPositive('visa16', 'space'))}, billing ${M('email', 'billing@acme-corp.io')}, call ${M('phone', NANP[1]())}`);
  gen(() => `AWS creds: ${M('aws_access_key', awsAccess('AKIA'))} / secret ${M('aws_secret_key', awsSecret())}`);
  gen(() => `[default]\naws_access_key_id = ${M('aws_access_key', awsAccess())}\naws_secret_access_key = ${M('aws_secret_key', awsSecret())}`);
  gen(() => `env: GITHUB_TOKEN=${M('github_token', githubToken())} SLACK=${M('slack_token', slackToken())} GITLAB=${M('gitlab_token', gitlabToken())}`);
  gen(() => `GET /api/v1/me from ${M('ipv6', ipv6Random('doc'))} Authorization: Bearer ${M('bearer_token', bearerToken())}`);
  gen(() => `refund ${M('iban', ibanPrint(ibanValid('ES')))} for ${M('email', 'cliente@example.es')} (card ${M('card', cardPositive('mc5x', 'plain'))})`);
  gen(() => `DATABASE_URL=postgres://${M('url_credentials', 'svc:' + mixed(ALNUM, 10) + '!')}@${M('ipv4', ipv4Random('private'))}:5432/app`);
  gen(() => `id_token=${M('jwt', jwtToken())}&email=${M('email', 'ana.souza@example.com')}`);
  gen(() => `peers: ${M('ipv4', ipv4Random())}, ${M('ipv6', ipv6Random('compressed'))}, ${M('ipv4', ipv4Random())}`);
  gen(() => `Contact ${M('email', 'k.osei@example.net')} or ${M('phone', '+233 30 ' + digits(3) + ' ' + digits(4))}; SSN on file ${M('ssn', ssnValid(' '))}`);
  gen(() => `payload={"iban":"${M('iban', ibanValid('PL'))}","swift":"BREXPLPW","amount":"1,250.00"}`);
  gen(() => `tsv\t${M('email', 'z@x.io')}\t${M('phone', NANP[0]())}\t${M('card', cardPositive('amex', 'space'))}`);
  gen(() => `leak report: ${M('github_token', githubPat())} and ${M('aws_access_key', awsAccess('ASIA'))}`);
  gen(() => `webhook https://hooks.example.com/T0/B0 token ${M('slack_token', slackToken())} from ${M('ipv4', ipv4Random('doc'))}`);
  gen(() => `curl -u admin:x https://${M('url_credentials', 'admin:' + mixed(ALNUM, 8) + '#')}@${M('ipv4', ipv4Random('private'))}/api`);
  gen(() => `${M('ssn', ssnValid())},${M('card', cardPositive('disc6011', 'plain'))},${M('email', 'row7@example.com')}`);
  gen(() => `private key for ${M('email', 'ops@example.com')}: ${M('pem_private_key', pemPrivate('EC '))}`);
  gen(() => `X-Forwarded-For: ${M('ipv4', ipv4Random('doc'))}, ${M('ipv6', ipv6Random('full'))}`);
  gen(() => `Kunde ${M('email', 'max.muster@shop.example.de')}, Tel. ${M('phone', '+49 30 ' + digits(8))}, IBAN ${M('iban', ibanPrint(ibanValid('DE')))}`);
  gen(() => `Auth header Bearer ${M('bearer_token', bearerToken())} and session=${M('jwt', jwtToken())}`);
  gen(() => `three cards ${M('card', cardPositive('visa13', 'plain'))}; ${M('card', cardPositive('unionpay', 'space'))}; ${M('card', cardPositive('diners14', 'dash'))}`);
  gen(() => `${M('phone', NANP[4]())} / ${M('phone', INTL[0]())} / ${M('email', 'desk@example.co.uk')}`);
  gen(() => `Bearer ${M('bearer_token', bearerToken())}\tBearer ${M('bearer_token', bearerToken())}`);
  gen(() => `msg="reset for ${M('email', 'o.nwosu@example.com')}" src=${M('ipv4', ipv4Random())} card_last4=1111`);
  gen(() => `secret="${M('aws_secret_key', awsSecret())}" region=eu-west-1 key=${M('aws_access_key', awsAccess('AIDA'))}`);
  gen(() => `mask everything: ${M('email', 'a.b@example.com')} ${M('ipv4', ipv4Random('doc'))} ${M('ssn', ssnValid())} ${M('phone', NANP[3]())}`);

  // ======================================================================
  // general look-alikes: no value on any of these lines
  // ======================================================================
  section('look-alikes: order, invoice and reference numbers', 'neg');
  for (let k = 0; k < 6; k++) gen(() => `Order ORD-${int(2019, 2025)}-${pad(int(1, 999999), 6)} shipped`);
  for (let k = 0; k < 4; k++) gen(() => `Invoice INV-${pad(int(1, 9999), 4)}-${int(2019, 2025)} total $${int(1, 999)},${pad(int(0, 999), 3)}.${pad(int(0, 99), 2)}`);
  gen(() => `PO #${digits(10)} received`);
  gen(() => `Ticket JIRA-${int(100, 99999)} and PR #${int(100, 9999)}`);
  gen(() => `Confirmation code ${chars(UPPER + DIGITS, 6)}, booking ref ${chars(UPPER, 2)}${digits(4)}`);
  gen(() => `customer_id=${digits(8)} account_no=${digits(12)}`);
  gen(() => `routing ${digits(9)} account ${digits(11)}`);
  gen(() => `SKU ${digits(3)}-${digits(3)}-${digits(3)}`);
  gen(() => `Case No. ${int(1, 9)}:${int(10, 24)}-cv-${pad(int(1, 9999), 5)}`);
  add('Order ORD-2024-000123 was split into ORD-2024-000124');

  section('look-alikes: timestamps and dates', 'neg');
  for (let k = 0; k < 4; k++) gen(() => `epoch ${int(1600000000, 1800000000)}`);
  for (let k = 0; k < 4; k++) {
    gen(() => {
      const ms = String(int(1600000000, 1800000000)) + digits(3);
      assert(!cardOk(ms), 'timestamp looks like a card ' + ms);
      return `{"created_ms":${ms}}`;
    });
  }
  gen(() => `ts=${int(2020, 2025)}-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)}T${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}:${pad(int(0, 59), 2)}.${digits(3)}Z`);
  gen(() => `at ${int(2020, 2025)}-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)}T${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}:${pad(int(0, 59), 2)}+05:30`);
  gen(() => `at ${int(2020, 2025)}-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)} ${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}:${pad(int(0, 59), 2)},${digits(3)} -0800`);
  add('Due 15/01/2024, paid 01.02.2024, logged 2024.02.03');
  add('Date: Tue, 05 Mar 2024 10:22:13 GMT');
  add('cron: 0 30 2 * * 1-5');
  add('duration 01:02:03.456');
  add('uptime 12 days, 3:04:05');
  add('Q3 2023 vs Q3 2024: 12.5% growth');
  gen(() => `nanos=${'1' + digits(18)}`);

  section('look-alikes: UUIDs, hashes, ids', 'neg');
  for (let k = 0; k < 6; k++) {
    gen(() => `request_id=${chars(HEX, 8)}-${chars(HEX, 4)}-4${chars(HEX, 3)}-${pick(['8', '9', 'a', 'b'])}${chars(HEX, 3)}-${chars(HEX, 12)}`);
  }
  gen(() => `UUID ${digits(8)}-${digits(4)}-${digits(4)}-${digits(4)}-${digits(12)} (all digits)`);
  for (let k = 0; k < 4; k++) gen(() => `commit ${chars(HEX, 40)}`);
  gen(() => `Merge ${chars(HEX, 7)} into ${chars(HEX, 7)}`);
  gen(() => `sha256: ${chars(HEX, 64)}`);
  gen(() => `md5=${chars(HEX, 32)}`);
  gen(() => `etag: W/"${chars(HEX, 16)}"`);
  gen(() => `trace_id=${chars(HEX, 32)} span_id=${chars(HEX, 16)}`);
  gen(() => `ObjectId("${chars(HEX, 24)}")`);
  gen(() => `ulid ${chars('0123456789ABCDEFGHJKMNPQRSTVWXYZ', 26)}`);
  gen(() => `base64 data: ${Buffer.from('hello, this is plain test text').toString('base64')}`);

  section('look-alikes: ISBN, versions, IP-like strings', 'neg');
  for (let k = 0; k < 4; k++) {
    gen(() => {
      const body = '978' + digits(9);
      let sum = 0;
      for (let i = 0; i < 12; i++) sum += Number(body[i]) * (i % 2 ? 3 : 1);
      const isbn = body + ((10 - (sum % 10)) % 10);
      assert(!cardOk(isbn), 'isbn looks like a card');
      return k % 2 ? `ISBN ${isbn}` : `ISBN ${isbn.slice(0, 3)}-${isbn[3]}-${isbn.slice(4, 6)}-${isbn.slice(6, 12)}-${isbn[12]}`;
    });
  }
  gen(() => `version ${int(0, 9)}.${int(0, 30)}.${int(0, 99)}`);
  gen(() => `v${int(1, 9)}.${int(0, 9)}.${int(0, 9)}.${int(0, 99)}`);
  gen(() => `build ${int(10, 99)}.${int(0, 9)}.${int(1000, 9999)}.${int(10, 999)}`);
  add('python3.11 and gcc-12.2.0 and openssl-3.0.11');
  add('semver ^1.2.3 || ~2.0.0-rc.1');
  add('kernel 6.1.0-18-amd64');
  add('SNMP OID .1.3.6.1.2.1.1.5.0');
  add('lat/long 37.7749,-122.4194');
  add('ipv4-ish 999.999.999.999');
  add('CIDR notation like /24 alone');
  add('tag v2024.03.05.1');

  section('look-alikes: amounts, postal codes, tracking numbers', 'neg');
  add('Total: 1,234,567.89 USD');
  add('Betrag: 12.345.678,90 EUR');
  add('Amount $ 1 234 567.89');
  gen(() => `Balance ${int(1, 9)} ${digits(3)} ${digits(3)},${digits(2)} SEK`);
  add('ZIP 94105-1234');
  add('ship to 10001-0002 and 60614-3318');
  add('Postcode SW1A 1AA, PLZ 10115');
  gen(() => `UPS 1Z${chars(UPPER + DIGITS, 6)}${digits(10)}`);
  gen(() => `USPS 9400 1${digits(3)} ${digits(4)} ${digits(4)} ${digits(4)} ${digits(2)}`);
  gen(() => `FedEx tracking ${digits(12)}`);
  gen(() => `DHL ${digits(10)}`);
  gen(() => `parcel ${digits(4)}-${digits(4)}-${digits(4)}-${digits(4)}-${digits(4)}`);

  section('look-alikes: phone-like and card-like digit runs', 'neg');
  for (let k = 0; k < 4; k++) gen(() => `Call ${nxx()}${nxx()}${digits(4)}`);
  gen(() => `Call 1${nxx()}${nxx()}${digits(4)}`);
  gen(() => `fax 0${digits(2)} ${digits(4)} ${digits(4)}`);
  add('phone ext 4412, room 1204');
  gen(() => `credit limit ${digits(4)} ${digits(4)}`);
  gen(() => `card ending in ${digits(4)}`);
  add('card ending 1111, expires 09/27');
  add('masked ************1111');
  add('masked ****-****-****-1111');
  gen(() => `gift card ${chars(UPPER + DIGITS, 4)}-${chars(UPPER + DIGITS, 4)}-${chars(UPPER + DIGITS, 4)}`);
  gen(() => `test numbers 1234 5678 9012 3456`);
  add('0000 0000 0000 0000');
  add('1111-1111-1111-1111');

  section('look-alikes: prose, code and config', 'neg');
  add('The quick brown fox jumps over the lazy dog.');
  add('Nothing sensitive here: just a plain sentence with numbers 1, 2 and 3.');
  add('for (int i = 0; i < 10; i++) { sum += a[i]; }');
  add('const re = /\\d{3}-\\d{2}-\\d{4}/;');
  add('Path C:\\Users\\build\\AppData\\Local\\Temp');
  add('\\\\fileserver\\share\\reports\\2024');
  add('password: ********');
  add('api_key: <redacted>');
  add('token=REDACTED secret=REDACTED');
  add('AWS region us-east-1, bucket my-bucket-2024');
  add('The secret to good bread is patience.');
  add('Use a strong secret and store it in AWS Secrets Manager.');
  add('<meta name="viewport" content="width=device-width, initial-scale=1.0">');
  add('color: #ff0000; margin: 0 auto; z-index: 9999;');
  add('SELECT * FROM users WHERE id = 42 LIMIT 10;');
  add('localhost:8080 and 127.0.0 (incomplete)');
  add('https://example.com/docs?page=2#section-3');
  add('mailto: nobody');
  add('user: alice, host: example, domain: com');
  add('JSON {"a":1,"b":[1,2,3],"c":null}');
  add('Seat 12A, gate B34, flight LH 400');
  add('\tindented with a tab');
  add('She said "bearer bonds" twice');
  add('eyJhbGciOi is a prefix, nothing more');
  add('ghp_ and glpat- and xoxb- are token prefixes');
  add('AKIA followed by nothing');
  add('BEGIN and END markers without dashes');
  add('Version 1.2.3 released on 2024-01-15 by @maintainer');
  add('Room 101, floor 3, building 7');
}

build();

// ---------------------------------------------------------------------------
// Emit, then parse the emitted text back and check it again
// ---------------------------------------------------------------------------

const HEADER = [
  '# mcpwarden masking detector corpus. GENERATED by tests/masking/gen_corpus.mjs;',
  '# do not edit by hand: node tests/masking/gen_corpus.mjs > tests/masking/corpus-reference.txt',
  '#',
  '# One case per line. [[detector:value]] marks a value that must be masked (the',
  '# expected span is exactly value). A line without a marker is a negative: any',
  '# detection on it is a false positive. Escapes: \\n newline, \\t tab, \\\\ backslash.',
  '# Lines starting with # are comments; blank lines are ignored.',
];

const lines = [...HEADER];
for (const o of out) lines.push(o.type === 'comment' ? o.raw : escapeLine(o.raw));
const textOut = lines.join('\n') + '\n';

// parse back
const perDet = Object.fromEntries(DETECTORS.map((d) => [d, 0]));
let nPos = 0, nNeg = 0;
for (const line of textOut.split('\n')) {
  if (line === '' || line.startsWith('#')) continue;
  const raw = unescapeLine(line);
  const err = checkLine(raw, null);
  if (err) throw new Error('re-parse check failed: ' + err + '\n  line: ' + line);
  const { spans } = parseMarkers(raw);
  if (spans.length === 0) nNeg++;
  else {
    nPos++;
    for (const d of new Set(spans.map((x) => x.det))) perDet[d]++;
  }
  // brackets: the reader must see exactly the markers
  const o = (line.match(/\[\[/g) || []).length, c = (line.match(/\]\]/g) || []).length;
  assert(o === spans.length && c === spans.length, 'unbalanced markers: ' + line);
}
process.stdout.write(textOut);
if (process.env.CORPUS_STATS) {
  process.stderr.write(JSON.stringify({ positives: nPos, negatives: nNeg, perDetector: perDet }, null, 1) + '\n');
}
