// Masking end to end: a real MCP server (tests/mcp/billing.mjs, built with
// the official SDK) returns rows of a real PostgreSQL table holding card
// numbers, SSNs and e-mail addresses; an SDK client in an enforced cgroup
// calls it through mcpwarden. The client and the audit trail must see only
// what the masking rules let through, JSON results and SSE-streamed ones
// alike, and the trail must say what was masked, never the values.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, startDaemon, makeCgroup, uniqueName, cgroupRelPath, runInCgroup, run,
  MCP_DIR, cleanupAll, auditSettled, pgBin, until,
} from './helpers.mjs';

const CUSTOMERS = [
  [1, 'Ada Lovelace', 'ada@example.com', '4111 1111 1111 1111', '219-45-6781',
    'invoice 2024-01-15, order ORD-2024-000123'],
  [2, 'Bob Smith', 'bob.smith@billing.example.org', '5500-0000-0000-0004', '501-23-4567', 'paid'],
  [3, 'Ada Byron', 'ada.b@example.com', '378282246310005', '123-45-6780', 'new'],
];
const CARDS = CUSTOMERS.map((c) => c[3]);
const SSNS = CUSTOMERS.map((c) => c[4]);
const EMAILS = CUSTOMERS.map((c) => c[2]);
// Every way a raw value could show: as stored, and the card's digits alone.
const RAW = [...CARDS, ...CARDS.map((c) => c.replace(/\D/g, '')), ...SSNS, ...EMAILS];

const MASKING = [
  { name: 'billing-to-client', server: 'billing', tool: ['lookup_*', 'card_image'],
    apply: ['client', 'audit'], detectors: ['card'], style: 'partial' },
  // the client sees streamed e-mails partly; the trail, by the rule below, not at all
  { name: 'streamed-emails-partial', server: 'billing', tool: ['stream_*'], apply: ['client'],
    detectors: ['email'], style: 'partial' },
  { name: 'ssn-everywhere', server: 'billing', apply: ['client', 'audit'],
    detectors: ['ssn', 'email'], style: 'full' },
  { name: 'hashed-in-trail', apply: ['audit'], detectors: ['card'], style: 'hash' },
  { name: 'no-credentials-on-record', apply: ['audit'], detectors: ['url_credentials'], style: 'full' },
];
// A database URI with its password: what a refused resources/read names.
const DB_URI = 'postgres://billing:s3cret-Pw0rd@db.internal/billing';

let pgDir;
let billing;
let d;
let cg;

async function asMcpwarden(cmd, args) {
  const r = await run('runuser', ['-u', 'mcpwarden', '--', cmd, ...args], { cwd: '/', timeout: 60000 });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function psqlBilling(query) {
  return asMcpwarden('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-h', pgDir, '-d', 'billing', '-c', query]);
}

async function steps(list, { inside = true } = {}) {
  const args = [path.join(MCP_DIR, 'steps.mjs'), billing.url, JSON.stringify(list), '--timeout', '20000'];
  const r = inside
    ? await runInCgroup(cg, process.execPath, args, { timeout: 30000 })
    : await run(process.execPath, args, { timeout: 30000 });
  assert.equal(r.code, 0, `steps.mjs failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function assertNoRaw(text, where) {
  for (const v of RAW) assert.ok(!text.includes(v), `${where} holds the raw value ${v}`);
}

before(async () => {
  const pw = (() => {
    const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('mcpwarden:'));
    assert.ok(line, 'the mcpwarden user exists (scripts/deps.sh creates it)');
    const f = line.split(':');
    return { uid: Number(f[2]), gid: Number(f[3]) };
  })();
  pgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-billing-pg-'));
  fs.chownSync(pgDir, pw.uid, pw.gid);
  await asMcpwarden(pgBin('initdb'), ['-D', path.join(pgDir, 'data'), '-A', 'trust', '-U', 'mcpwarden',
    '--no-sync']);
  await asMcpwarden(pgBin('pg_ctl'), ['-D', path.join(pgDir, 'data'), '-w', '-l', path.join(pgDir, 'log'),
    '-o', `-c listen_addresses='' -c unix_socket_directories=${pgDir} -c fsync=off`, 'start']);
  await asMcpwarden('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-h', pgDir, '-d', 'postgres', '-c',
    'CREATE DATABASE billing']);
  const values = CUSTOMERS.map((c) => `(${c[0]}, ${c.slice(1).map((v) => `'${v}'`).join(', ')})`).join(',\n');
  await psqlBilling(`CREATE TABLE customers (id int PRIMARY KEY, name text, email text, card text,
    ssn text, note text); INSERT INTO customers VALUES ${values}`);

  process.env.BILLING_PG = `postgresql://mcpwarden@/billing?host=${pgDir}`;
  billing = await startServer({ script: 'billing.mjs', host: '127.0.0.1' });
  d = await startDaemon({
    servers: [{ name: 'billing', address: `127.0.0.1:${billing.port}` }],
    masking: MASKING,
    default: 'allow',
    rules: [{ name: 'no-database-uris', resource: 'postgres://**', action: 'deny' },
      // judged on the method as the client sent it, which the trail masks
      { name: 'no-card-methods', method: 'billing/4111*', action: 'deny' }],
  });
  cg = makeCgroup(uniqueName('mw-masking'));
  const en = await d.cli(['enforce', cgroupRelPath(cg)]);
  assert.equal(en.code, 0, en.stderr);
});

after(async () => {
  await cleanupAll();
  if (pgDir) {
    await run('runuser', ['-u', 'mcpwarden', '--', pgBin('pg_ctl'), '-D', path.join(pgDir, 'data'), '-m',
      'immediate', 'stop'], { cwd: '/', timeout: 30000 }).catch(() => {});
    fs.rmSync(pgDir, { recursive: true, force: true });
  }
});

test('the server really returns the raw rows (called directly, outside the cgroup)', async () => {
  const r = await steps([{ op: 'call', name: 'lookup_customers', args: { name_prefix: 'Ada' }, full: true }],
    { inside: false });
  assert.deepEqual(r.steps[0].structured.rows.map((x) => x.card), [CARDS[0], CARDS[2]]);
});

test('a JSON result reaches the client masked: cards partial, SSNs and e-mails full, the rest intact', async () => {
  const r = await steps([{ op: 'call', name: 'lookup_customers', args: { name_prefix: 'Ada' }, full: true }]);
  const step = r.steps[0];
  assert.equal(step.ok, true);
  const rows = JSON.parse(step.text); // still valid JSON
  assert.deepEqual(rows.map((x) => x.card), ['**** **** **** 1111', '***********0005']);
  assert.deepEqual(rows.map((x) => x.ssn), ['[MASKED:ssn]', '[MASKED:ssn]']);
  assert.deepEqual(rows.map((x) => x.email), ['[MASKED:email]', '[MASKED:email]']);
  assert.equal(rows[0].note, 'invoice 2024-01-15, order ORD-2024-000123');
  assert.deepEqual(step.structured.rows, rows, 'structuredContent masked the same way');
  assertNoRaw(JSON.stringify(r), 'the client output');
});

test('an SSE-streamed result is masked too; an audit-only rule leaves the client its value', async () => {
  const r = await steps([{ op: 'call', name: 'stream_customers', progress: true, full: true }]);
  const step = r.steps[0];
  assert.equal(step.ok, true);
  assert.ok(step.progress >= 1, 'progress notifications came, so the result came on an SSE stream');
  const rows = JSON.parse(step.text);
  assert.equal(rows.length, 3);
  for (const x of rows) assert.equal(x.ssn, '[MASKED:ssn]');
  assert.deepEqual(rows.map((x) => x.email), ['***@******e.com', '***.*****@*******.******e.org',
    '***.*@******e.com']);
  // billing-to-client names lookup_* and card_image only; hashed-in-trail
  // masks cards in the trail alone: the client gets them as stored.
  assert.deepEqual(rows.map((x) => x.card), CARDS);
});

test('a raw argument reaches the server, and the trail keeps it masked', async () => {
  const r = await steps([{ op: 'call', name: 'lookup_customers', args: { card: CARDS[0] }, full: true }]);
  const rows = JSON.parse(r.steps[0].text);
  assert.deepEqual(rows.map((x) => x.id), [1], 'the server found the row: it got the raw card');
  await auditSettled(d);
  const calls = await d.sqlObjects(`SELECT arguments, arguments_masked, masked FROM mcpwarden.tool_calls
    WHERE tool = 'lookup_customers' AND arguments ? 'card'`);
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0].arguments_masked, { card: 1 });
  assert.equal(calls[0].arguments.card, '**** **** **** 1111');
  // the row twice, as text and as structuredContent
  assert.deepEqual(calls[0].masked, { card: 2, ssn: 2, email: 2 });
});

test('the image is passed byte for byte, the text beside it masked', async () => {
  const r = await steps([{ op: 'call', name: 'card_image', full: true }]);
  const [img, txt] = r.steps[0].content;
  const want = Buffer.from('\x89PNG\r\n\x1a\n4111111111111111 not text').toString('base64');
  assert.equal(img.type, 'image');
  assert.equal(img.data, want);
  assert.equal(txt.text, 'card on file: **** **** **** 1111');
});

// Plain HTTP from a process: what fetch() returns, status and body.
async function fetchText(url, { inside = true } = {}) {
  const code = `fetch(${JSON.stringify(url)}).then(async (r) => process.stdout.write(JSON.stringify(
    { status: r.status, type: r.headers.get('content-type'), headers: Object.fromEntries(r.headers),
      body: await r.text() })))`;
  const r = inside
    ? await runInCgroup(cg, process.execPath, ['-e', code], { timeout: 30000 })
    : await run(process.execPath, ['-e', code], { timeout: 30000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('what is not JSON-RPC is masked too: an error page, an SSE event that is not a message', async () => {
  const base = billing.url.replace(/\/mcp$/, '');
  const direct = await fetchText(`${base}/debug`, { inside: false });
  assert.ok(direct.body.includes(CARDS[0]) && direct.body.includes(SSNS[0]), 'the page quotes the raw row');

  const page = await fetchText(`${base}/debug`);
  assert.equal(page.status, 500);
  assert.equal(page.body, 'internal error while billing customer Ada Lovelace: card **** **** **** 1111, '
    + 'ssn [MASKED:ssn]\n');
  assert.equal(page.headers['x-debug-card'], '**** **** **** 1111', 'headers are masked too');
  const json = await fetchText(`${base}/debug-json`);
  assert.equal(json.status, 500);
  assert.equal(json.body, '{"error":"no customer with ssn [MASKED:ssn]"}', 'escapes hide no value');
  const dup = await fetchText(`${base}/debug-dup`);
  assert.equal(dup.status, 502, 'an escaped value in what cannot be masked is refused');
  assert.ok(!dup.body.includes('6781'), dup.body);
  // a server's request whose tool name is masked in place: the daemon
  // records the name it read (ASan: no use after free)
  const sreq = await fetchText(`${base}/server-request`);
  assert.equal(sreq.status, 200, sreq.body);
  assert.match(sreq.body, /"name":"\[MASKED:email\]"/, sreq.body);
  const utf16 = await fetchText(`${base}/debug-utf16`);
  assert.equal(utf16.status, 502, `a page in a charset masking cannot read is refused: ${utf16.body}`);
  assertNoRaw(utf16.body, 'the UTF-16 page');
  const swap = await fetchText(`${base}/debug-swap`);
  assert.equal(swap.status, 502, `a card made by an escape, beside one an escape breaks, is refused: ${swap.body}`);
  assert.ok(!swap.body.includes('1111'), swap.body);
  const lone = await fetchText(`${base}/debug-lone`);
  assert.equal(lone.status, 502, 'a card behind a lone surrogate is refused');
  assert.ok(!lone.body.includes('1111 1111'), lone.body);

  const events = await fetchText(`${base}/events`);
  assert.equal(events.status, 200);
  assert.match(events.type, /text\/event-stream/);
  assertNoRaw(events.body, 'the event stream');
  assert.ok(events.body.startsWith('event: audit\ndata: customer Ada Lovelace: card **** **** **** 1111, '
    + 'ssn [MASKED:ssn]\n\n'), events.body);
  // the id masked, the JSON's escapes read, the field no client reads dropped
  assert.ok(events.body.includes('id: **** **** **** 1111\nevent: audit-json\ndata: {"ssn":"[MASKED:ssn]"}\n\n'),
    events.body);
  // comments (after a byte-order mark too) and unknown fields were never judged: they are not sent
  for (const never of [': note', ': trace', 'x-note', '\ufeff']) assert.ok(!events.body.includes(never), never);
  // the message after them arrives whole
  assert.ok(events.body.includes('data: {"jsonrpc":"2.0","method":"notifications/message",'
    + '"params":{"level":"info","data":"billing ready"}}\n\n'), events.body);

  await auditSettled(d);
  const rows = await d.sqlObjects(`SELECT http_path, http_status, detail, masked FROM mcpwarden.events
    WHERE kind = 'http_error' AND masked IS NOT NULL ORDER BY seq`);
  const sum = (p) => rows.filter((r) => r.http_path === p).reduce((acc, r) => {
    for (const [k, v] of Object.entries(r.masked)) acc[k] = (acc[k] ?? 0) + v;
    return acc;
  }, {});
  const debug = rows.find((r) => r.http_path === '/debug');
  assert.deepEqual(debug.masked, { card: 1, ssn: 1 });
  assert.deepEqual(sum('/debug'), { card: 2, ssn: 1 }, 'the body and the header');
  assert.equal(debug.http_status, 500);
  assert.match(debug.detail, /not JSON-RPC/);
  assert.deepEqual(sum('/debug-json'), { ssn: 1 });
  // the row's card, the retry (dropped: no mask can go there), and the
  // id in its event: not again in the message after it (the client holds
  // it; ids persist)
  assert.ok(!events.body.includes('retry:'), events.body);
  assert.deepEqual(sum('/events'), { card: 3, ssn: 2 });
  assert.equal(events.body.split('id: ').length, 2, events.body);
});

test('a value in a server message\'s method or id, where no mask can go: the message is withheld', async () => {
  const base = billing.url.replace(/\/mcp$/, '');
  const out = await fetchText(`${base}/server-names`);
  assert.equal(out.status, 200, out.body);
  assertNoRaw(out.body, 'the stream');
  assert.ok(!out.body.includes(CARDS[0].replace(/\D/g, '')), out.body);
  assert.match(out.body, /names ok/);
  const rows = await until(async () => {
    const r = await d.sqlObjects("SELECT detail FROM mcpwarden.http_errors WHERE http_path = '/server-names'");
    return r.length >= 5 && r;
  }, 'five withheld messages recorded', 15000);
  for (const r of rows) assert.match(r.detail, /withheld: its method or id holds a value/);
  // A client's own id holding a card: its answer pairs and reaches it as
  // it was sent; the trail masks the id of both by the audit rules.
  // As a number and in a string: the answer (its result masked for the
  // client, so written out again) keeps the id as the client sent it.
  const digits = CARDS[0].replace(/\D/g, '');
  for (const id of [digits, JSON.stringify(`job-${digits}`)]) {
    const call = `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"lookup_customer","arguments":{}}}`;
    const code = `fetch(${JSON.stringify(`${base}/number`)}, { method: 'POST', headers: {
      'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: ${JSON.stringify(call)} }).then(async (r) => process.stdout.write(await r.text()))`;
    const own = await runInCgroup(cg, process.execPath, ['-e', code], { timeout: 30000 });
    assert.equal(own.code, 0, own.stderr);
    assert.ok(own.stdout.startsWith(`{"jsonrpc":"2.0","id":${id},`), own.stdout);
  }
  await auditSettled(d);
  const ids = await d.sqlObjects("SELECT kind, rpc_id FROM mcpwarden.events WHERE http_path = '/number' ORDER BY seq");
  assert.deepEqual(ids.map((x) => x.kind), ['request', 'response', 'request', 'response'], JSON.stringify(ids));
  for (const x of ids) {
    assert.ok(!x.rpc_id.includes(digits.slice(0, 12)), x.rpc_id);
    assert.match(x.rpc_id, /^"[^"]+"$/, 'a masked id is a string');
  }
  // and the trail holds none of them
  const raw = await d.sqlObjects("SELECT count(*)::int AS n FROM mcpwarden.events WHERE " +
    `method LIKE '%${SSNS[0]}%' OR rpc_id LIKE '%${CARDS[0].replace(/\D/g, '').slice(0, 12)}%'`);
  assert.equal(raw[0].n, 0);
});

test('a tool named with a value: its pin events and the log name it masked', async () => {
  const base = billing.url.replace(/\/mcp$/, '');
  for (const [v, id] of [['1', 51], ['2', 52]]) {
    const code = `fetch(${JSON.stringify(`${base}/tools-named?v=${v}`)}, { method: 'POST', headers: {
      'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{"jsonrpc":"2.0","id":${id},"method":"tools/list"}' }).then(async (r) => process.stdout.write(await r.text()))`;
    const r = await runInCgroup(cg, process.execPath, ['-e', code], { timeout: 30000 });
    assert.equal(r.code, 0, r.stderr);
    assertNoRaw(r.stdout, 'the listing');
  }
  await auditSettled(d);
  const rows = await d.sqlObjects(`SELECT kind, tool, masked FROM mcpwarden.events
    WHERE kind IN ('tool_pinned', 'tool_changed') AND tool LIKE 'lookup\\_%' AND tool <> 'lookup_customers'
    ORDER BY seq`);
  assert.deepEqual(rows.map((x) => x.kind), ['tool_pinned', 'tool_changed'], JSON.stringify(rows));
  for (const x of rows) {
    assertNoRaw(x.tool, 'the recorded tool');
    assert.equal(x.tool, 'lookup_[MASKED:ssn]');
    assert.deepEqual(x.masked, { ssn: 1 });
  }
  assert.match(d.log(), /tool lookup_\[MASKED:ssn\]: definition changed/);
  assertNoRaw(d.log(), 'the daemon log');
});

// A JSON-RPC message POSTed from the cgroup: status, headers and body.
async function postInside(target, message, headers = {}) {
  const url = billing.url.replace(/\/mcp$/, target);
  const code = `fetch(${JSON.stringify(url)}, { method: 'POST', headers: ${JSON.stringify({
    'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers })},
    body: ${JSON.stringify(JSON.stringify(message))} }).then(async (r) => process.stdout.write(JSON.stringify(
    { status: r.status, headers: Object.fromEntries(r.headers), body: await r.text() })))`;
  const r = await runInCgroup(cg, process.execPath, ['-e', code], { timeout: 30000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const lookupCall = (id) => ({ jsonrpc: '2.0', id, method: 'tools/call',
  params: { name: 'lookup_customer', arguments: {} } });

test('a client\'s method holding a value: judged as sent, recorded and logged masked; the specification\'s as they are', async () => {
  const odd = await postInside('/number?case=method', { jsonrpc: '2.0', id: 61, method: `billing/${CARDS[0]}` });
  assert.equal(odd.status, 200, odd.body);
  assert.match(odd.body, /no-card-methods/, 'the policy matched the method as sent, card and all');
  const call = await postInside('/number?case=method', lookupCall(62));
  assert.equal(call.status, 200, call.body);
  await auditSettled(d);
  const rows = await d.sqlObjects(`SELECT method, decision, rule, masked FROM mcpwarden.events
    WHERE http_path = '/number?case=method' AND kind = 'request' ORDER BY seq`);
  assert.equal(rows.length, 2, JSON.stringify(rows));
  assertNoRaw(JSON.stringify(rows), 'the recorded methods');
  assert.equal(rows[0].method, 'billing/**** **** **** 1111', 'masked as a string of params is');
  assert.equal(rows[0].decision, 'deny');
  assert.equal(rows[0].rule, 'no-card-methods');
  assert.deepEqual(rows[0].masked, { card: 1 });
  // the specification's methods are kept: the views select on them
  assert.equal(rows[1].method, 'tools/call');
  const calls = await d.sqlObjects(`SELECT tool FROM mcpwarden.tool_calls
    WHERE method = 'tools/call' AND rpc_id = '62'`);
  assert.deepEqual(calls, [{ tool: 'lookup_customer' }]);
  assert.match(d.log(), /billing\/\*{4} \*{4} \*{4} 1111 : .*no-card-methods/, 'the refusal is logged masked');
  assertNoRaw(d.log(), 'the daemon log');
});

test('a session id holding a value: recorded masked, one token per session, its events still together', async () => {
  const [a, b] = [CARDS[0], CARDS[2]].map((c) => c.replace(/\D/g, ''));
  const dashed = a.replace(/(\d{4})(?=\d)/g, '$1-');
  for (const [sid, id] of [[`cli-${a}`, 71], [`cli-${a}`, 72], [`cli-${b}`, 73], [`cli-${dashed}`, 76]]) {
    const r = await postInside('/number?case=session', lookupCall(id), { 'mcp-session-id': sid });
    assert.equal(r.status, 200, r.body);
  }
  await auditSettled(d);
  const rows = await d.sqlObjects(`SELECT kind, rpc_id, session_id, masked FROM mcpwarden.events
    WHERE http_path = '/number?case=session' ORDER BY seq`);
  assert.deepEqual(rows.map((x) => x.kind), ['request', 'response', 'request', 'response', 'request', 'response',
    'request', 'response'], JSON.stringify(rows));
  assertNoRaw(JSON.stringify(rows), 'the recorded sessions');
  for (const x of rows) {
    // a token of the whole id, whatever the rule's style: partial ones
    // would merge sessions
    assert.match(x.session_id, /^masked [0-9a-f]{32}$/);
    assert.ok(x.masked.card >= 1, JSON.stringify(x));
  }
  const sid = Object.fromEntries(rows.map((x) => [`${x.kind} ${x.rpc_id}`, x.session_id]));
  assert.equal(sid['request 71'], sid['request 72'], 'one session, one recorded id');
  assert.equal(sid['response 71'], sid['request 71']);
  assert.notEqual(sid['request 73'], sid['request 71'], 'two sessions, two recorded ids');
  // the card's value is the same, the ids are not: a token of the value
  // alone put another session's requests in this one's
  assert.notEqual(sid['request 76'], sid['request 71'], 'an id differing in separators is another session');
  const calls = await d.sqlObjects(`SELECT rpc_id FROM mcpwarden.tool_calls
    WHERE session_id = '${sid['request 71']}' ORDER BY seq`);
  assert.deepEqual(calls.map((x) => x.rpc_id), ['71', '72'], 'the view groups the session by its masked id');
  const rep = await d.cli(['replay', sid['request 71']], { env: { NO_COLOR: '' } });
  assert.equal(rep.code, 0, rep.stderr);
  assert.equal(rep.stdout.match(/→ tools\/call/g)?.length, 2, rep.stdout);
  assertNoRaw(rep.stdout, 'the replay');

  // a server that names the session after a card: the client gets the id
  // it must send back; the trail has the same masked id for the
  // connection that learnt it and for the one that names it
  const opened = await postInside('/session-card', { jsonrpc: '2.0', id: 74, method: 'ping' });
  assert.equal(opened.headers['mcp-session-id'], `srv-${a}`);
  const named = await postInside('/number?case=srv-session', lookupCall(75), { 'mcp-session-id': `srv-${a}` });
  assert.equal(named.status, 200, named.body);
  await auditSettled(d);
  const learnt = await until(async () => {
    const r = await d.sqlObjects(`SELECT session_id FROM mcpwarden.events WHERE kind = 'conn_close'
      AND conn_id = (SELECT conn_id FROM mcpwarden.events WHERE http_path = '/session-card' LIMIT 1)`);
    return r.length === 1 && r[0];
  }, 'the connection that learnt the session closed', 15000);
  const req = await d.sqlObjects(`SELECT session_id FROM mcpwarden.events
    WHERE http_path = '/number?case=srv-session' AND kind = 'request'`);
  assert.match(learnt.session_id, /^masked [0-9a-f]{32}$/);
  assert.deepEqual(req, [{ session_id: learnt.session_id }]);
  assertNoRaw(d.log(), 'the daemon log');
});

test('an endpoint event whose URL holds a value ends the stream, recorded', async () => {
  // the legacy client waits for its endpoint: a stream that will not
  // give one ends, rather than leave it waiting
  const base = billing.url.replace(/\/mcp$/, '');
  const code = `fetch(${JSON.stringify(`${base}/endpoint-card`)}).then(async (r) => {
    let body = '', error = null;
    try {
      for await (const c of r.body) body += Buffer.from(c).toString();
    } catch (e) { error = String(e.cause?.code ?? e); }
    process.stdout.write(JSON.stringify({ status: r.status, body, error }));
  })`;
  const r = await runInCgroup(cg, process.execPath, ['-e', code], { timeout: 30000 });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.status, 200, out.body);
  assert.ok(!out.body.includes(CARDS[0].replace(/\D/g, '')), out.body);
  assert.doesNotMatch(out.body, /endpoint/, 'no endpoint after the one withheld');
  assert.ok(out.error, 'the stream ended in an error');
  await until(async () => (await d.sqlObjects("SELECT detail FROM mcpwarden.http_errors WHERE " +
    "http_path = '/endpoint-card' AND detail LIKE 'an endpoint event withheld%'")).length === 1,
  'the withheld endpoint recorded', 15000);
});

test('a result that is a bare number is masked whole, for the client and on record; so is the target', async () => {
  // the card in the query too: a target is on record, and carries values
  const url = billing.url.replace(/\/mcp$/, `/number?card=${CARDS[0].replace(/\D/g, '')}`);
  const call = { jsonrpc: '2.0', id: 41, method: 'tools/call', params: { name: 'lookup_customer', arguments: {} } };
  const code = `fetch(${JSON.stringify(url)}, { method: 'POST', headers: { 'content-type': 'application/json',
    accept: 'application/json, text/event-stream' }, body: ${JSON.stringify(JSON.stringify(call))} })
    .then(async (r) => process.stdout.write(await r.text()))`;
  const direct = await run(process.execPath, ['-e', code], { timeout: 30000 });
  assert.equal(JSON.parse(direct.stdout).result, Number(CARDS[0].replace(/\D/g, '')), 'the server sends the digits');
  const r = await runInCgroup(cg, process.execPath, ['-e', code], { timeout: 30000 });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { jsonrpc: '2.0', id: 41, result: '************1111' });
  await auditSettled(d);
  const rows = await d.sqlObjects(`SELECT kind, http_path, result::text AS result, masked FROM mcpwarden.events
    WHERE http_path LIKE '/number?card=%' ORDER BY seq`);
  assert.deepEqual(rows.map((x) => x.kind), ['request', 'response'], JSON.stringify(rows));
  for (const x of rows) {
    assertNoRaw(x.http_path, 'the recorded target');
    assert.match(x.http_path, /^\/number\?card=\S+$/);
  }
  assertNoRaw(rows[1].result, 'the recorded result');
  assert.deepEqual(rows[0].masked, { card: 1 }, 'the target');
  assert.deepEqual(rows[1].masked, { card: 2 }, 'the result and the target');
});

test('a card number written as a real, or in exponent form, is masked as the integer it is', async () => {
  // Python's json.dumps of a float prints 4111111111111111.0
  const digits = CARDS[0].replace(/\D/g, '');
  for (const form of ['real', 'exp']) {
    const url = billing.url.replace(/\/mcp$/, `/number?form=${form}`);
    const call = { jsonrpc: '2.0', id: 42, method: 'tools/call', params: { name: 'lookup_customer', arguments: {} } };
    const code = `fetch(${JSON.stringify(url)}, { method: 'POST', headers: { 'content-type': 'application/json',
      accept: 'application/json, text/event-stream' }, body: ${JSON.stringify(JSON.stringify(call))} })
      .then(async (r) => process.stdout.write(await r.text()))`;
    const direct = await run(process.execPath, ['-e', code], { timeout: 30000 });
    assert.ok(!direct.stdout.includes(`:${digits}}`), `${form}: the server writes no integer: ${direct.stdout}`);
    assert.equal(JSON.parse(direct.stdout).result, Number(digits), `${form}: the server sends the card's value`);
    const r = await runInCgroup(cg, process.execPath, ['-e', code], { timeout: 30000 });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { jsonrpc: '2.0', id: 42, result: '************1111' }, form);
    await auditSettled(d);
    const rows = await d.sqlObjects(`SELECT result::text AS result, masked FROM mcpwarden.events
      WHERE kind = 'response' AND http_path = '/number?form=${form}' ORDER BY seq`);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assertNoRaw(rows[0].result, `${form}: the recorded result`);
    assert.deepEqual(rows[0].masked, { card: 1 }, form);
  }
});

test('a refused read of a URI with a password: the log and the trail name it masked', async () => {
  const r = await steps([{ op: 'read', uri: DB_URI }]);
  assert.equal(r.steps[0].ok, false, 'the policy refuses the read');
  assert.match(r.steps[0].message, /no-database-uris/);
  await auditSettled(d);
  const log = d.log();
  assert.ok(!log.includes('s3cret-Pw0rd'), 'the password is in the daemon log');
  // the password, and what reads as an e-mail address from its middle to
  // the host, are masked as one value
  assert.ok(log.includes('postgres://[MASKED:url_credentials]/billing'),
    'the refusal is logged with the URI masked');
  const events = await d.sql('SELECT e::text FROM mcpwarden.events e');
  assert.ok(!events.map((row) => row[0]).join('\n').includes('s3cret-Pw0rd'), 'the password is in the trail');
});

test('the trail: no raw value in any event, the spool or the log; what was masked is counted; verify passes', async () => {
  await auditSettled(d);
  const events = await d.sql('SELECT e::text FROM mcpwarden.events e ORDER BY seq');
  assert.ok(events.length > 10);
  assertNoRaw(events.map((row) => row[0]).join('\n'), 'mcpwarden.events');
  const spool = path.join(d.stateDir, 'spool');
  for (const f of fs.existsSync(spool) ? fs.readdirSync(spool) : []) {
    assertNoRaw(fs.readFileSync(path.join(spool, f), 'latin1'), `the spool file ${f}`);
  }
  assertNoRaw(d.log(), 'the daemon log');

  // the streamed result: cards hashed in the trail, the same card the same token
  const streamed = await d.sqlObjects(`SELECT response, masked FROM mcpwarden.tool_calls
    WHERE tool = 'stream_customers'`);
  assert.equal(streamed.length, 1);
  assert.deepEqual(streamed[0].masked, { card: 6, ssn: 6, email: 6 });
  const recorded = JSON.parse(streamed[0].response.content[0].text);
  // masked from the server's rows in the trail's style, not from the client's partial view
  for (const x of recorded) assert.equal(x.email, '[MASKED:email]');
  const tokens = recorded.map((x) => x.card);
  for (const t of tokens) assert.match(t, /^\[MASKED:card:[0-9a-f]{16}\]$/);
  assert.equal(new Set(tokens).size, 3, 'different cards, different tokens');
  const again = await steps([{ op: 'call', name: 'stream_customers' }]);
  assert.equal(again.steps[0].ok, true);
  await auditSettled(d);
  const both = await d.sqlObjects(`SELECT response FROM mcpwarden.tool_calls
    WHERE tool = 'stream_customers' ORDER BY seq`);
  assert.equal(both.length, 2);
  assert.deepEqual(JSON.parse(both[1].response.content[0].text).map((x) => x.card), tokens,
    'the same card gives the same token: auditors can join on it');

  const v = await d.cli(['audit', 'verify']);
  assert.equal(v.code, 0, `${v.stdout}${v.stderr}`);
});

test('an evidence package names the masking rules in force, never the key', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-masking-evidence-'));
  const pkg = path.join(dir, 'pkg');
  try {
    const day = new Date().toISOString().slice(0, 10);
    const next = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
    const r = await d.cli(['evidence', 'export', '--since', day, '--until', next, '-o', pkg],
      { timeout: 120000 });
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    const masking = JSON.parse(fs.readFileSync(path.join(pkg, 'masking.json'), 'utf8'));
    assert.equal(masking.masking, 'configured');
    const rules = masking.in_force[0].masking.rules;
    assert.deepEqual(rules.map((x) => [x.name, x.style, x.apply]), MASKING.map((x) =>
      [x.name, x.style, x.apply]));
    assert.deepEqual(rules[0].detectors, ['card']);
    assert.equal(rules[0].tool, 'lookup_*, card_image');
    const key = fs.readFileSync(path.join(d.stateDir, 'masking.key')).toString('hex');
    for (const f of fs.readdirSync(pkg, { recursive: true })) {
      const file = path.join(pkg, f);
      if (!fs.statSync(file).isFile()) continue;
      const text = fs.readFileSync(file, 'latin1');
      assertNoRaw(text, `the package's ${f}`);
      assert.ok(!text.includes(key), `the package's ${f} holds the masking key`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the hash key lives under state_dir, 32 bytes, readable by its owner only', () => {
  const st = fs.statSync(path.join(d.stateDir, 'masking.key'));
  assert.equal(st.size, 32);
  assert.equal(st.mode & 0o777, 0o600);
});
