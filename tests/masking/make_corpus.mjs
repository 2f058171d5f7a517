#!/usr/bin/env node
// Writes the labelled corpus of the masking detectors (tests/masking/
// corpus.txt), deterministically (a seeded PRNG):
//
//   node tests/masking/make_corpus.mjs > tests/masking/corpus.txt
//
// Format: one case per line; '#' lines are comments. A value that must be
// masked is written [[detector:value]]; a line without one is a negative
// (anything found there is a false positive). In a line, \n is a newline,
// \t a tab, \\ a backslash. tests/unit/test_mask.c reads it and asserts
// recall 100% and precision >= 99%.
//
// Values are made valid by construction (Luhn check digits, IBAN mod-97
// check digits, SSN areas, JWT headers with "alg"); look-alikes are made
// invalid by construction and checked here, so the labels never come from
// the detectors under test.

let seed = 0x5eed1234;
function rand() { // mulberry32
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (a, b) => a + Math.floor(rand() * (b - a + 1));
const pick = (a) => a[Math.floor(rand() * a.length)];
const chars = (set, n) => Array.from({ length: n }, () => pick(set)).join('');
const DIG = '0123456789';
const UP = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOW = 'abcdefghijklmnopqrstuvwxyz';
const ALNUM = UP + LOW + DIG;
const B64URL = ALNUM + '-_';
const pad = (n, w) => String(n).padStart(w, '0');

function check(cond, what) {
  if (!cond) throw new Error(`make_corpus: self-check failed: ${what}`);
}

const out = [];
const section = (name) => out.push('', `# ---- ${name} ----`);
const line = (s) => {
  check(!/\n/.test(s), 'one line per case');
  out.push(s);
};
const m = (det, v) => `[[${det}:${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}]]`;

// ---- cards -----------------------------------------------------------------
function luhnOk(d) {
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let v = Number(d[d.length - 1 - i]);
    if (i % 2) { v *= 2; if (v > 9) v -= 9; }
    sum += v;
  }
  return sum % 10 === 0;
}
function luhnComplete(body) { // the check digit that makes body+d valid
  for (let c = 0; c < 10; c++) if (luhnOk(body + c)) return body + c;
  throw new Error('no Luhn digit');
}
const BRANDS = [
  ['visa', () => '4', [16, 13, 19]],
  ['mastercard', () => String(int(51, 55)), [16]],
  ['mastercard2', () => String(int(2221, 2720)), [16]],
  ['amex', () => pick(['34', '37']), [15]],
  ['discover', () => pick(['6011', String(int(644, 649)), '65']), [16, 19]],
  ['diners', () => pick(['36', '38', '39', String(int(300, 305))]), [14]],
  ['jcb', () => String(int(3528, 3589)), [16]],
  ['unionpay', () => '62' + pad(int(0, 9), 1) + '7', [16, 19]],
];
function cardDigits(brand, len) {
  const b = BRANDS.find((x) => x[0] === brand);
  const prefix = b[1]();
  const n = len ?? pick(b[2]);
  return luhnComplete(prefix + chars(DIG, n - prefix.length - 1));
}
function grouped(d, sep) {
  if (d.length === 15) return [d.slice(0, 4), d.slice(4, 10), d.slice(10)].join(sep);
  if (d.length === 14) return [d.slice(0, 4), d.slice(4, 10), d.slice(10)].join(sep);
  return d.match(/.{1,4}/g).join(sep);
}
const CARD_CONTEXTS = [
  (v) => `Paid with ${v} today`,
  (v) => `card=${v}`,
  (v) => `{"card": "${v}", "status": "active"}`,
  (v) => `(${v})`,
  (v) => `${v}`,
  (v) => `Customer card on file: ${v}.`,
  (v) => `refund to ${v}, amount 12.50 EUR`,
];
section('cards: valid numbers of every issuer, contiguous and grouped');
for (const [brand] of BRANDS) {
  for (let k = 0; k < 6; k++) {
    const d = cardDigits(brand);
    const v = k % 3 === 0 ? d : grouped(d, k % 3 === 1 ? ' ' : '-');
    line(CARD_CONTEXTS[k % CARD_CONTEXTS.length](m('card', v)));
  }
}
line(`two cards: ${m('card', '4111 1111 1111 1111')} and ${m('card', '5500-0000-0000-0004')}`);
line(`amex ${m('card', '3782 822463 10005')} on file`);
// printed with another separator, one kind throughout: the same card
for (const sep of ['\u00a0', '\u202f', '\u2009', '\u2013', '\u2212', '.', '/', '_', '\t']) {
  line(`card ${m('card', grouped('4111111111111111', sep))} on file`);
}
section('cards: look-alikes');
for (let k = 0; k < 12; k++) { // a valid issuer, Luhn fails
  const d = cardDigits(pick(BRANDS)[0]);
  const bad = d.slice(0, -1) + ((Number(d.slice(-1)) + int(1, 9)) % 10);
  check(!luhnOk(bad), 'a broken check digit');
  line(CARD_CONTEXTS[k % CARD_CONTEXTS.length](k % 2 ? grouped(bad, ' ') : bad));
}
for (let k = 0; k < 10; k++) { // Luhn holds, no issuer starts so
  const d = luhnComplete(pick(['1', '7', '8', '9', '0']) + chars(DIG, 14));
  line(`reference ${d} (internal)`);
}
for (let k = 0; k < 8; k++) { // epoch milliseconds: 13 digits from 1
  line(`"ts": ${int(1500000000000, 1799999999999)}, "ok": true`);
}
for (let k = 0; k < 5; k++) line(`tracking number ${chars(DIG, 20)} shipped`);
line('ISBN 978-3-16-148410-0 in stock');
line('mixed separators 4111-1111 1111-1111 are not one number');
line('mixed separators 4111\u00a01111 1111\u20131111 are not one number');
line('released 2026/12/07, part 4111.1111');
line('path /v1/250/300/4000 and id_250_300_4000 are no phone numbers');
line('row: 250\t300\t4000 (a table)');
line('a longer number 41111111111111110 is not a card');
line('amount 4111111111111111.5 units');
line('ORD4111111111111111X is an order code');

// ---- SSNs ------------------------------------------------------------------
const NEVER = ['078-05-1120', '219-09-9999', '123-45-6789'];
function ssn(sep) {
  for (let k = 0; k < 100; k++) {
    let a = int(1, 899);
    if (a === 666) a = 665;
    const s = `${pad(a, 3)}${sep}${pad(int(1, 99), 2)}${sep}${pad(int(1, 9999), 4)}`;
    if (!NEVER.includes(s.replace(/ /g, '-'))) return s;
  }
  throw new Error('ssn');
}
section('SSNs');
for (let k = 0; k < 30; k++) {
  const v = ssn(k % 3 === 2 ? ' ' : '-');
  line(pick([
    (x) => `SSN ${x}`,
    (x) => `{"ssn": "${x}"}`,
    (x) => `employee ${x} on payroll`,
    (x) => `ssn:${x};`,
  ])(m('ssn', v)));
}
section('SSNs: invalid areas, groups, serials, and look-alikes');
for (const v of ['000-12-3456', '666-12-3456', '900-12-3456', '987-65-4321', '123-00-4567',
  '123-45-0000', ...NEVER, '999-99-9999']) line(`SSN ${v} (not issued)`);
for (let k = 0; k < 6; k++) line(`id ${chars('123456789', 1)}${chars(DIG, 8)} in the batch`);
for (let k = 0; k < 6; k++) line(`due 20${int(10, 30)}-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)}`);
line(`SSN ${m('ssn', '219\u201309\u20139998')} (an en dash)`);
line(`SSN ${m('ssn', '219\u00a009\u00a09998')} (a no-break space)`);
line('mixed 123-45 6780 is not an SSN');
line('part of 555-219-45-6781-1 a longer code');

// ---- IBANs -----------------------------------------------------------------
const IBAN_LEN = { DE: 22, GB: 22, FR: 27, ES: 24, IT: 27, NL: 18, BE: 16, CH: 21, AT: 20, PL: 28,
  SE: 24, NO: 15, DK: 18, FI: 18, IE: 22, PT: 25, LU: 20 };
function mod97(s) {
  const r = s.slice(4) + s.slice(0, 4);
  let rem = 0;
  for (const c of r) {
    const v = /[0-9]/.test(c) ? c : String(c.charCodeAt(0) - 55);
    for (const dd of v) rem = (rem * 10 + Number(dd)) % 97;
  }
  return rem;
}
function iban(cc) {
  const n = IBAN_LEN[cc];
  const bban = cc === 'GB' || cc === 'NL' || cc === 'IE'
    ? chars(UP, 4) + chars(DIG, n - 8) : chars(DIG, n - 4);
  const v = cc + pad(98 - mod97(cc + '00' + bban), 2) + bban;
  checkIban(v);
  return v;
}
function checkIban(v) {
  check(mod97(v) === 1 && v.length === IBAN_LEN[v.slice(0, 2)], `iban ${v}`);
}
const printForm = (v) => v.match(/.{1,4}/g).join(' ');
section('IBANs');
for (const cc of Object.keys(IBAN_LEN)) {
  const v = iban(cc);
  line(`transfer to ${m('iban', v)} today`);
  line(`IBAN: ${m('iban', printForm(iban(cc)))}, thanks`);
}
section('IBANs: look-alikes');
for (const cc of ['DE', 'GB', 'FR', 'NL']) {
  const v = iban(cc);
  const bad = v.slice(0, 2) + pad((Number(v.slice(2, 4)) + 1) % 100, 2) + v.slice(4);
  check(mod97(bad) !== 1, 'a broken IBAN check');
  line(`transfer to ${bad} failed`);
  line(`short ${v.slice(0, -1)} form`);
  line(`lower ${v.toLowerCase()} case`);
}
line('unknown country XX12345678901234567890 code');

// ---- e-mail ------------------------------------------------------------------
section('e-mail addresses');
const names = ['jane', 'john.doe', 'a.b+tag', 'ops-team', 'x_y', 'Billing.Dept', 'u123'];
const domains = ['example.com', 'mail.example.co.uk', 'corp-mail.example.org', 'example.io', 'sub.dom.example.net'];
for (let k = 0; k < 25; k++) {
  const v = `${pick(names)}@${pick(domains)}`;
  line(pick([
    (x) => `contact ${x} for details`,
    (x) => `{"email": "${x}"}`,
    (x) => `<${x}>`,
    (x) => `mailto:${x}`,
    (x) => `${x}.`,
  ])(m('email', v)));
}
section('e-mail look-alikes');
for (const v of ['root@localhost', 'ping @handle on chat', 'a@b', 'name at example dot com',
  'foo@bar.123', 'user@-bad.com', 'ssh git@github', 'see https://user@localhost/x']) line(v);

// ---- phones ------------------------------------------------------------------
section('phone numbers');
const N = () => String(int(2, 9));
for (let k = 0; k < 30; k++) {
  const a = N() + chars(DIG, 2), e = N() + chars(DIG, 2), s = chars(DIG, 4);
  const v = pick([
    `(${a}) ${e}-${s}`, `${a}-${e}-${s}`, `${a}.${e}.${s}`, `${a} ${e} ${s}`,
    `1-${a}-${e}-${s}`, `+1 (${a}) ${e}-${s}`, `+44 20 ${chars(DIG, 4)} ${chars(DIG, 4)}`,
    `+49-30-${chars(DIG, 6)}`, `+33 1 ${chars(DIG, 2)} ${chars(DIG, 2)} ${chars(DIG, 2)} ${chars(DIG, 2)}`,
  ]);
  line(pick([(x) => `call ${x} today`, (x) => `{"phone": "${x}"}`, (x) => `tel: ${x}`])(m('phone', v)));
}
section('phone look-alikes');
for (let k = 0; k < 5; k++) line(`account ${N()}${chars(DIG, 9)} closed`);
for (const v of ['123-456-7890', '212-055-1234', '555-0100', '(123) 456-7890', '+12 34']) line(`dial ${v} never`);

// ---- IP addresses --------------------------------------------------------------
section('IPv4 addresses');
for (let k = 0; k < 20; k++) {
  const v = [int(1, 255), int(0, 255), int(0, 255), int(0, 255)].join('.');
  line(pick([(x) => `host ${x} is up`, (x) => `{"ip": "${x}"}`, (x) => `from ${x}:8080`])(m('ipv4', v)));
}
section('IPv4 look-alikes');
for (const v of ['256.1.1.1', '1.2.3', '01.2.3.4', 'OID 1.3.6.1.4.1.311', 'version v1.2.3.4', 'release 2.10.4',
  'value 1.2.3.4.5 here']) line(v);
section('IPv6 addresses');
for (const v of ['2001:db8::8a2e:370:7334', 'fe80::1:2', '2001:0db8:85a3:0000:0000:8a2e:0370:7334',
  '::ffff:192.0.2.1', '2001:db8:0:0:1:0:0:1', 'fd00:1:2::3']) {
  line(`peer ${m('ipv6', v)} connected`);
  line(`{"addr": "${m('ipv6', v)}"}`);
}
section('IPv6 look-alikes');
for (const v of ['loopback ::1 only', 'a::b short', 'at 12:30:45 UTC', 'MAC 00:1A:2B:3C:4D:5E',
  'std::vector<int>', 'Foo::Bar::baz()', 'ts 2024-01-15T12:30:45Z']) line(v);

// ---- keys and tokens -----------------------------------------------------------
section('AWS keys');
for (let k = 0; k < 8; k++) {
  const id = pick(['AKIA', 'ASIA', 'AIDA', 'AROA']) + chars(UP + DIG, 16);
  line(`aws_access_key_id = ${m('aws_access_key', id)}`);
  let secret = chars(ALNUM + '/+', 40);
  secret = 'a' + 'B' + '3' + secret.slice(3);
  line(pick([
    (x) => `aws_secret_access_key = ${x}`,
    (x) => `AWS secret: ${x}`,
    (x) => `{"SecretAccessKey": "${x}"}`,
    (x) => `AWS_SECRET_ACCESS_KEY=${x}`,
  ])(m('aws_secret_key', secret)));
}
for (let k = 0; k < 3; k++) { // the environment-variable form
  line(`export AWS_SECRET_ACCESS_KEY=${m('aws_secret_key', 'Zq9' + chars(ALNUM + '/+', 37))}`);
}
section('AWS look-alikes');
line(`key AKIA${chars(UP + DIG, 15)} short`);
line(`key akia${chars(LOW + DIG, 16)} lower`);
line(`blob ${'aB3' + chars(ALNUM, 37)} with no context`);
line(`secret sha ${chars('0123456789abcdef', 40)} is lowercase hex`);
line(`AWS_SECRET_ACCESS_KEY=${'aB3' + chars(ALNUM, 37)}== padded, a longer base64 string`);
section('GitHub, GitLab and Slack tokens');
for (let k = 0; k < 6; k++) {
  line(`token ${m('github_token', pick(['ghp_', 'gho_', 'ghs_', 'ghu_', 'ghr_']) + chars(ALNUM, 36))}`);
  line(`GITHUB_TOKEN=${m('github_token', 'github_pat_' + chars(ALNUM + '_', 82))}`);
  line(`gitlab ${m('gitlab_token', 'glpat-' + chars(ALNUM + '_-', 20).replace(/-$/, 'x'))} ok`);
  line(`slack ${m('slack_token', `xox${pick(['b', 'p', 'a'])}-${chars(DIG, 11)}-${chars(ALNUM, 12)}`)}`);
}
section('token look-alikes');
line(`ghp_${chars(ALNUM, 20)} is too short`);
line('glpat-short');
line(`xoxz-${chars(DIG, 12)} unknown kind`);
line('xoxb-123 short');
section('JWTs');
const b64url = (s) => Buffer.from(s).toString('base64url');
for (let k = 0; k < 8; k++) {
  const h = b64url(JSON.stringify({ alg: pick(['HS256', 'RS256', 'ES256']), typ: 'JWT' }));
  const p = b64url(JSON.stringify({ sub: String(int(1, 99999)), iat: int(1600000000, 1800000000) }));
  const jwt = `${h}.${p}.${chars(B64URL, 43)}`;
  line(pick([(x) => `id_token=${x}&state=1`, (x) => `{"jwt": "${x}"}`, (x) => `token ${x} expired`])(m('jwt', jwt)));
}
section('JWT look-alikes');
line(`${b64url('{"typ":"JWT"}')}.${b64url('{"sub":"1"}')}.${chars(B64URL, 30)} has no alg`);
line(`${b64url('{"alg":"HS256"}')}.${b64url('{"sub":"1"}')} two parts only`);
section('PEM private keys');
for (const kind of ['', 'RSA ', 'EC ', 'OPENSSH ', 'ENCRYPTED ']) {
  const body = Array.from({ length: 3 }, () => chars(ALNUM + '+/', 64)).join('\n');
  const pem = `-----BEGIN ${kind}PRIVATE KEY-----\n${body}\n-----END ${kind}PRIVATE KEY-----`;
  line(`key: ${m('pem_private_key', pem)} end`);
}
section('PEM look-alikes');
line(`-----BEGIN PUBLIC KEY-----\\n${chars(ALNUM, 64)}\\n-----END PUBLIC KEY-----`);
line(`-----BEGIN CERTIFICATE-----\\n${chars(ALNUM, 64)}\\n-----END CERTIFICATE-----`);
section('bearer tokens');
for (let k = 0; k < 8; k++) {
  const tok = chars(ALNUM + '._~+/-', int(20, 40)).replace(/^[-.~+/_]/, 'A').replace(/[-.~+/_]$/, 'z');
  line(pick([
    (x) => `Authorization: Bearer ${x}`,
    (x) => `{"authorization": "bearer ${x}"}`,
    (x) => `curl -H 'Authorization: BEARER ${x}' https://api`,
  ])(m('bearer_token', tok)));
}
section('bearer look-alikes');
line('Authorization: Bearer token');
line('the bearer of bad news arrived');
section('credentials in URLs');
for (let k = 0; k < 8; k++) {
  const user = pick(['app', 'admin', 'svc_billing', 'u1']);
  const pw = chars(ALNUM, 8) + pick(['!', '$', '#', '%21']) + chars(ALNUM, 3);
  const url = `${pick(['postgres', 'https', 'mysql', 'amqp'])}://${m('url_credentials', `${user}:${pw}`)}@db${k}.internal:5432/x`;
  line(`DATABASE_URL=${url}`);
}
section('URL look-alikes');
line('https://example.com/path?q=1');
line('ftp://anonymous@localhost/pub');

// ---- negatives that look like data ---------------------------------------------
section('order numbers, dates, amounts, identifiers');
for (let k = 0; k < 40; k++) {
  line(pick([
    () => `order ORD-20${int(10, 30)}-${pad(int(0, 999999), 6)} shipped`,
    () => `invoice INV-${chars(DIG, 8)} paid on 20${int(10, 30)}-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)}`,
    () => `total ${int(1, 999)},${pad(int(0, 999), 3)},${pad(int(0, 999), 3)}.${pad(int(0, 99), 2)} USD`,
    () => `uuid ${chars('0123456789abcdef', 8)}-${chars('0123456789abcdef', 4)}-4${chars('0123456789abcdef', 3)}-a${chars('0123456789abcdef', 3)}-${chars('0123456789abcdef', 12)}`,
    () => `commit ${chars('0123456789abcdef', 40)}`,
    () => `zip ${chars(DIG, 5)}-${chars(DIG, 4)}`,
    () => `at 20${int(10, 30)}-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)}T${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}:${pad(int(0, 59), 2)}Z`,
    () => `build 1.${int(0, 30)}.${int(0, 99)} released`,
    () => `page ${int(1, 500)} of ${int(500, 900)}, ${int(2, 99)} items`,
    () => `epoch ${int(1500000000, 1799999999)} seconds`,
  ])());
}

process.stdout.write([
  '# mcpwarden masking corpus: written by tests/masking/make_corpus.mjs, do not edit.',
  '# [[detector:value]] must be masked, exactly that span; a line without one must',
  '# not be touched. \\n is a newline, \\t a tab, \\\\ a backslash.',
  ...out,
].join('\n') + '\n');
