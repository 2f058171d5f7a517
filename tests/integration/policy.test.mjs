// Issue 3: the daemon enforces the policy. A client in an enforced cgroup
// (the official SDK client, tests/mcp/steps.mjs) talks to an MCP server
// built with the official SDK (tests/mcp/sqlserver.mjs), which keeps a
// ledger of what it really executed: a refused call provably never reached
// it. Decisions, rules and the policy's SHA-256 land in the audit trail;
// tools/list is filtered; server-to-client requests are judged; reloads
// swap the policy atomically and a broken file keeps the old one; tool
// definitions are pinned and a changed one is caught.
//
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/policy.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  MCP_DIR, cgroupRelPath, makeCgroup, runInCgroup, run, spawnInCgroup, startDaemon, startServer,
  uniqueName, cleanupAll,
} from './helpers.mjs';

let d;
let cg;
let sql;
let everything;
let policyFile;

const POLICY = String.raw`default: deny
rules:
  - name: changed-tools
    tool_changed: true
    action: deny
    message: this tool changed since it was reviewed
  - name: protocol
    method: [initialize, ping, "notifications/**", tools/list]
    action: allow
  - name: from-servers
    direction: server
    method: ["notifications/**", ping]
    action: allow
  - name: no-roots-for-sql
    direction: server
    server: sql
    method: roots/list
    action: deny
  - name: no-destructive-sql
    server: sql
    tool: query
    args:
      pointer: /sql
      regex: '\b(drop|truncate|delete)\b'
      ignore_case: true
    action: deny
    message: destructive SQL is not allowed
  - name: secrets-watch
    server: sql
    tool: query
    args: {pointer: /sql, regex: secrets, ignore_case: true}
    mode: audit
    action: deny
  - name: updates-need-approval
    server: sql
    tool: query
    args: {pointer: /sql, prefix: update}
    action: approve
    message: updates need a second pair of eyes
  - name: sql-tools
    server: sql
    tool: [query, ledger, become_evil, ask_roots]
    action: allow
  - name: everything-echo
    server: everything
    tool: echo
    args: {pointer: /message, regex: forbidden}
    action: deny
    message: no forbidden words
  - name: everything-rest
    server: everything
    action: allow
`;

const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');

async function steps(list, { inside = true } = {}) {
  const args = [path.join(MCP_DIR, 'steps.mjs'), sql.url, JSON.stringify(list)];
  const r = inside
    ? await runInCgroup(cg, process.execPath, args, { timeout: 30000 })
    : await run(process.execPath, args, { timeout: 30000 });
  assert.equal(r.code, 0, `steps.mjs failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function ledger() {
  const r = await steps([{ op: 'call', name: 'ledger' }], { inside: false });
  return JSON.parse(r.steps[0].text);
}

// Rows reach the database within a batch interval: poll for them.
async function rows(query, want = 1) {
  let got = [];
  for (let i = 0; i < 60; i++) {
    got = await d.sqlObjects(query);
    if (got.length >= want) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
  return got;
}

before(async () => {
  sql = await startServer({ script: 'sqlserver.mjs', host: '127.0.0.1' });
  everything = await startServer({ legacy: true, host: '127.0.0.1' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-policy-'));
  policyFile = path.join(dir, 'policy.yaml');
  fs.writeFileSync(policyFile, POLICY, { mode: 0o644 });
  d = await startDaemon({
    servers: [
      { name: 'sql', address: `127.0.0.1:${sql.port}` },
      { name: 'everything', address: `127.0.0.1:${everything.port}` },
    ],
    policy: policyFile,
  });
  cg = makeCgroup(uniqueName('mw-policy'));
  const en = await d.cli(['enforce', cgroupRelPath(cg)]);
  assert.equal(en.code, 0, en.stderr);
});

after(async () => {
  await cleanupAll();
  if (policyFile) fs.rmSync(path.dirname(policyFile), { recursive: true, force: true });
});

test('tools/list hides the tools this caller can never call', async () => {
  const through = await steps([{ op: 'list' }]);
  assert.deepEqual(through.steps[0].tools, ['ask_roots', 'become_evil', 'ledger', 'query']);
  const direct = await steps([{ op: 'list' }], { inside: false });
  assert.ok(direct.steps[0].tools.includes('drop_all'), 'the server does list it');
});

test('an allowed call passes and is recorded with its rule and the policy hash', async () => {
  const r = await steps([{ op: 'call', name: 'query', args: { sql: 'select 1 from invoices' } }]);
  assert.deepEqual(r.steps[0], { ok: true, text: 'ok: select 1 from invoices', is_error: false });
  assert.ok((await ledger()).includes('select 1 from invoices'));
  const [row] = await rows("select decision, rule, policy_sha256, is_error from mcpwarden.tool_calls " +
    "where arguments->>'sql' = 'select 1 from invoices' and response is not null");
  assert.deepEqual(row, { decision: 'allow', rule: 'sql-tools', policy_sha256: sha256(POLICY), is_error: false });
});

test('a guardrail on arguments refuses destructive SQL: the client gets the error, the server nothing', async () => {
  const r = await steps([
    { op: 'call', name: 'query', args: { sql: 'DROP TABLE invoices' } },
    { op: 'call', name: 'query', args: { sql: 'select 2' } },
  ]);
  assert.equal(r.steps[0].ok, false);
  assert.equal(r.steps[0].code, -32003);
  assert.match(r.steps[0].message, /no-destructive-sql/);
  assert.match(r.steps[0].message, /destructive SQL is not allowed/);
  assert.deepEqual(r.steps[1].text, 'ok: select 2', 'the session goes on');
  const seen = await ledger();
  assert.ok(!seen.some((q) => /drop/i.test(q)), `the server ran: ${JSON.stringify(seen)}`);
  const [row] = await rows("select decision, rule, is_error, response->>'message' as msg " +
    "from mcpwarden.tool_calls where arguments->>'sql' = 'DROP TABLE invoices' and response is not null");
  assert.equal(row.decision, 'deny');
  assert.equal(row.rule, 'no-destructive-sql');
  assert.equal(row.is_error, true);
  assert.match(row.msg, /destructive SQL/);
});

test('what no rule allows is refused by the default, and approval rules refuse for now', async () => {
  const r = await steps([
    { op: 'call', name: 'drop_all' },
    { op: 'call', name: 'query', args: { sql: 'update invoices set paid = true' } },
  ]);
  assert.equal(r.steps[0].code, -32003);
  assert.match(r.steps[0].message, /\(default\)/);
  assert.equal(r.steps[1].code, -32003);
  assert.match(r.steps[1].message, /approval/);
  assert.match(r.steps[1].message, /second pair of eyes/);
  const seen = await ledger();
  assert.ok(!seen.includes('DROP EVERYTHING') && !seen.some((q) => q.startsWith('update')));
  const got = await rows("select tool, decision, rule from mcpwarden.tool_calls where decision in " +
    "('deny', 'approval_required') and (tool = 'drop_all' or arguments->>'sql' like 'update%') order by seq", 2);
  assert.deepEqual(got, [
    { tool: 'drop_all', decision: 'deny', rule: '(default)' },
    { tool: 'query', decision: 'approval_required', rule: 'updates-need-approval' },
  ]);
});

test('an audit-mode rule records would_deny and lets the call through', async () => {
  const r = await steps([{ op: 'call', name: 'query', args: { sql: 'select * from secrets' } }]);
  assert.equal(r.steps[0].text, 'ok: select * from secrets');
  assert.ok((await ledger()).includes('select * from secrets'));
  const [row] = await rows("select decision, rule from mcpwarden.tool_calls where arguments->>'sql' = " +
    "'select * from secrets'");
  assert.deepEqual(row, { decision: 'would_deny', rule: 'secrets-watch' });
});

test('a server-to-client request the policy refuses never reaches the client', async () => {
  const r = await steps([{ op: 'call', name: 'ask_roots' }]);
  assert.match(r.steps[0].text, /roots failed/);
  assert.equal(r.roots_asked, 0);
  const [row] = await rows("select decision, rule, direction from mcpwarden.messages where method = 'roots/list'");
  assert.deepEqual(row, { decision: 'deny', rule: 'no-roots-for-sql', direction: 's2c' });
});

test('reload swaps the policy; a broken file keeps the one in force', async () => {
  const allowRoots = POLICY.replace('method: roots/list\n    action: deny', 'method: roots/list\n    action: allow');
  fs.writeFileSync(policyFile, allowRoots);
  let rl = await d.cli(['reload']);
  assert.equal(rl.code, 0, rl.stderr);
  let r = await steps([{ op: 'call', name: 'ask_roots' }]);
  assert.match(r.steps[0].text, /file:\/\/\/srv\/data/);
  assert.equal(r.roots_asked, 1);

  fs.writeFileSync(policyFile, allowRoots.replace('action: deny\n    message: destructive', 'action: maybe\n    message: destructive'));
  rl = await d.cli(['reload']);
  assert.notEqual(rl.code, 0);
  assert.match(rl.stderr, /policy\.yaml:\d+:\d+: .*action/);
  const st = JSON.parse((await d.cli(['status', '--json'])).stdout);
  assert.equal(st.policy.sha256, sha256(allowRoots), 'the policy in force stays');
  r = await steps([{ op: 'call', name: 'query', args: { sql: 'truncate invoices' } }]);
  assert.equal(r.steps[0].code, -32003, 'still enforced after a broken reload');

  // A configuration whose servers changed is refused too.
  fs.writeFileSync(policyFile, allowRoots);
  const config = fs.readFileSync(d.configPath, 'utf8');
  fs.writeFileSync(d.configPath, config.replace('servers:\n', 'servers:\n  - name: extra\n    address: 127.0.0.1:9\n'));
  rl = await d.cli(['reload']);
  assert.notEqual(rl.code, 0);
  assert.match(rl.stderr, /servers in .* changed, which takes a restart/);

  // A configuration that lost its policy (a file caught half-written) is
  // refused: running without one takes a restart.
  assert.match(config, /^policy: .*\n/m);
  fs.writeFileSync(d.configPath, config.replace(/^policy: .*\n/m, ''));
  rl = await d.cli(['reload']);
  assert.notEqual(rl.code, 0);
  assert.match(rl.stderr, /has no policy, which a reload does not drop \(that takes a restart\)/);
  r = await steps([{ op: 'call', name: 'query', args: { sql: 'truncate invoices' } }]);
  assert.equal(r.steps[0].code, -32003, 'still enforced');

  // Settings read at start: the policy is swapped, and the operator is told
  // which of the file's changes wait for a restart.
  assert.doesNotMatch(config, /^(busy_poll_us|limits):/m);
  fs.writeFileSync(d.configPath, `${config}\nbusy_poll_us: 7\nlimits:\n  idle_timeout_ms: 12345\n`);
  rl = await d.cli(['reload']);
  assert.equal(rl.code, 0, rl.stderr);
  assert.match(rl.stdout, /policy from .*; .* also changes busy_poll_us, limits\.idle_timeout_ms, which take a restart: the running values stay/);
  const bp = JSON.parse((await d.cli(['status', '--json'])).stdout).busy_poll;
  assert.equal(bp.window_us, 50, 'the running window stays');
  fs.writeFileSync(d.configPath, config);
  rl = await d.cli(['reload']);
  assert.equal(rl.code, 0, rl.stderr);
  assert.doesNotMatch(rl.stdout, /take a restart/);

  // SIGHUP does the same as mcpwarden reload.
  fs.writeFileSync(policyFile, POLICY);
  d.proc.kill('SIGHUP');
  for (let i = 0; i < 50; i++) {
    const s = JSON.parse((await d.cli(['status', '--json'])).stdout);
    if (s.policy.sha256 === sha256(POLICY)) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  r = await steps([{ op: 'call', name: 'ask_roots' }]);
  assert.equal(r.roots_asked, 0);
});

test('a changed tool definition is caught and blocked until an operator accepts it', async () => {
  await steps([{ op: 'list' }]);
  const pinned = await rows("select tool from mcpwarden.tool_changes where kind = 'tool_pinned' " +
    "and server = 'sql' order by tool", 5);
  assert.deepEqual(pinned.map((x) => x.tool), ['ask_roots', 'become_evil', 'drop_all', 'ledger', 'query']);
  // The server turns its query tool's description into a prompt injection.
  const r = await steps([
    { op: 'call', name: 'become_evil' },
    { op: 'list' },
    { op: 'call', name: 'query', args: { sql: 'select 3' } },
  ]);
  assert.equal(r.tools_changed, 1, 'the client was told the list changed');
  assert.deepEqual(r.steps[1].tools, ['ask_roots', 'become_evil', 'ledger'],
    'the changed tool is hidden: the model never reads its new description');
  assert.equal(r.steps[2].code, -32003);
  assert.match(r.steps[2].message, /changed-tools/);
  assert.ok(!(await ledger()).includes('select 3'));
  const direct = await steps([{ op: 'describe', name: 'query' }], { inside: false });
  assert.match(direct.steps[0].description, /id_rsa/, 'the server did change it');
  const [changed] = await rows("select tool, detail from mcpwarden.tool_changes where kind = 'tool_changed'");
  assert.equal(changed.tool, 'query');
  assert.match(changed.detail, /accepted [0-9a-f]{64}, now [0-9a-f]{64}/);

  const acc = await d.cli(['policy', 'accept-tools', 'sql']);
  assert.equal(acc.code, 0, acc.stderr);
  assert.match(acc.stdout, /sql: 1 changed tool definition\(s\) accepted/);
  const after = await steps([{ op: 'list' }, { op: 'call', name: 'query', args: { sql: 'select 4' } }]);
  assert.ok(after.steps[0].tools.includes('query'));
  assert.equal(after.steps[1].text, 'ok: select 4');
  await rows("select 1 from mcpwarden.tool_changes where kind = 'tools_accepted' and server = 'sql'");
  const bad = await d.cli(['policy', 'accept-tools', 'nosuch']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /no server named 'nosuch'/);

  // A listing is the server's: a client that sends one as a result of its
  // own neither pins its tools (filling the server's table, past which
  // its real tools are withheld from everyone) nor restores an accepted
  // definition.
  const fake = Array.from({ length: 1100 }, (_, i) => ({ name: `fake-${i}`, inputSchema: { type: 'object' } }));
  const posted = await rawSession([{ body: { jsonrpc: '2.0', id: 'z', result: { tools: fake } } }]);
  assert.ok(posted[0].status < 300, JSON.stringify(posted[0]));
  const list = await steps([{ op: 'list' }]);
  assert.ok(list.steps[0].tools.includes('query'), JSON.stringify(list.steps[0].tools));
  assert.deepEqual(await d.sql("select tool from mcpwarden.tool_changes where tool like 'fake-%'"), []);
});

test('legacy HTTP+SSE: the refusal arrives on the session stream', async () => {
  const url = `http://127.0.0.1:${everything.port}/sse`;
  const args = [path.join(MCP_DIR, 'client.mjs'), url, '--legacy', '--scenario', 'echo',
    '--message', 'a forbidden word', '--timeout', '10000'];
  const r = await runInCgroup(cg, process.execPath, args, { timeout: 20000 });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /everything-echo/);
  assert.match(r.stderr, /no forbidden words/);
  const ok = await runInCgroup(cg, process.execPath, [path.join(MCP_DIR, 'client.mjs'), url, '--legacy',
    '--scenario', 'echo', '--message', 'fine words'], { timeout: 20000 });
  assert.equal(ok.code, 0, ok.stderr);
});

// Raw HTTP from inside the cgroup, for what the SDK client never sends:
// a JSON-RPC batch (protocol 2025-03-26) and an Accept of only
// text/event-stream.
const RAW_SESSION = String.raw`
const url = process.argv[1];
const calls = JSON.parse(process.argv[2]);
const hdr = { 'content-type': 'application/json', accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-03-26' };
const init = await fetch(url, { method: 'POST', headers: hdr, body: JSON.stringify({ jsonrpc: '2.0', id: 0,
  method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {},
  clientInfo: { name: 'raw', version: '1' } } }) });
const sid = init.headers.get('mcp-session-id');
await init.text();
hdr['mcp-session-id'] = sid;
await (await fetch(url, { method: 'POST', headers: hdr,
  body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' })).text();
const out = [];
for (const c of calls) {
  const r = await fetch(url, { method: 'POST', headers: { ...hdr, ...(c.headers ?? {}) }, body: JSON.stringify(c.body) });
  out.push({ status: r.status, type: r.headers.get('content-type'), body: await r.text() });
}
console.log(JSON.stringify(out));
`;

async function rawSession(calls) {
  const r = await runInCgroup(cg, process.execPath,
    ['--input-type=module', '-e', RAW_SESSION, sql.url, JSON.stringify(calls)], { timeout: 20000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const call = (id, sqlText) => ({ jsonrpc: '2.0', id, method: 'tools/call',
  params: { name: 'query', arguments: { sql: sqlText } } });

test('a batch with one refused request is refused whole: an error per request, nothing forwarded', async () => {
  const [r] = await rawSession([{ body: [call(7, 'select 5'), call('eight', 'delete from invoices'),
    { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } }] }]);
  assert.equal(r.status, 200);
  const errors = JSON.parse(r.body);
  assert.equal(errors.length, 2, r.body);
  assert.deepEqual(errors.map((e) => e.id), [7, 'eight']);
  assert.ok(errors.every((e) => e.error.code === -32003));
  assert.match(errors[1].error.message, /no-destructive-sql/);
  assert.match(errors[0].error.message, /refused with its batch/);
  const seen = await ledger();
  assert.ok(!seen.includes('select 5') && !seen.some((q) => /delete/.test(q)), JSON.stringify(seen));
  const got = await rows("select rpc_id, decision, rule from mcpwarden.tool_calls where rpc_id in ('7', '\"eight\"') " +
    'and response is not null order by seq', 2);
  assert.deepEqual(got, [
    { rpc_id: '7', decision: 'allow', rule: 'sql-tools' },
    { rpc_id: '"eight"', decision: 'deny', rule: 'no-destructive-sql' },
  ]);
});

test('a client that accepts only an event stream gets the refusal as an event', async () => {
  const [r] = await rawSession([{ headers: { accept: 'text/event-stream' }, body: call(9, 'truncate t') }]);
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/event-stream/);
  const m = r.body.match(/^event: message\ndata: (.*)\n\n$/);
  assert.ok(m, r.body);
  const err = JSON.parse(m[1]);
  assert.equal(err.id, 9);
  assert.equal(err.error.code, -32003);
});

test('legacy HTTP+SSE: a session another identity\'s stream announced, or none did, is refused on the POST', async () => {
  // the session's stream, held from another enforced cgroup
  const cg2 = makeCgroup(uniqueName('mw-policy-stream'));
  const en = await d.cli(['enforce', cgroupRelPath(cg2)]);
  assert.equal(en.code, 0, en.stderr);
  const holder = String.raw`
const r = await fetch(process.argv[1], { headers: { accept: 'text/event-stream' } });
const rd = r.body.getReader();
let buf = '';
for (;;) {
  const { value, done } = await rd.read();
  if (done) break;
  buf += new TextDecoder().decode(value);
  const m = buf.match(/event: endpoint\r?\ndata: (.*)\r?\n/);
  if (m) { console.log(m[1]); break; }
}
setTimeout(() => process.exit(0), 15000);
`;
  const stream = spawnInCgroup(cg2, process.execPath, ['--input-type=module', '-e', holder,
    `http://127.0.0.1:${everything.port}/sse`]);
  for (let i = 0; i < 100 && !stream.out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 100));
  const endpoint = stream.out.trim();
  assert.match(endpoint, /sessionId=/, `no endpoint event: ${stream.err}`);
  const script = String.raw`
const r = await fetch(process.argv[1], { method: 'POST',
  headers: { 'content-type': 'application/json', ...JSON.parse(process.argv[2]) },
  body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call',
    params: { name: 'echo', arguments: { message: 'a forbidden word' } } }) });
console.log(JSON.stringify({ status: r.status, body: await r.text() }));
`;
  const post = async (target, extra = {}) => {
    const r = await runInCgroup(cg, process.execPath, ['--input-type=module', '-e', script,
      new URL(target, `http://127.0.0.1:${everything.port}`).href, JSON.stringify(extra)], { timeout: 20000 });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  try {
    // the session is the stream's identity's (user and cgroup): a client
    // of another cgroup could answer its elicitations, or act in it
    for (const extra of [{}, { 'mcp-session-id': new URL(endpoint, 'http://x').searchParams.get('sessionId') }]) {
      const out = await post(endpoint, extra);
      assert.equal(out.status, 403, out.body);
      assert.match(out.body, /opened by another identity/);
    }
    // another spelling, or a made-up session: no stream announced it
    for (const target of [endpoint.replace(/sessionId=(.*)$/, (_, v) => `sessionId=${v.toUpperCase()}`),
      '/message?sessionId=no-such-stream']) {
      const o = await post(target);
      assert.equal(o.status, 400, `${target}: ${o.body}`);
      assert.match(o.body, /no event stream of this server announced/);
    }
  } finally {
    stream.kill('SIGKILL');
  }
});

test('Streamable HTTP: a session is the identity\'s that opened it: another naming it is refused', async () => {
  const cg2 = makeCgroup(uniqueName('mw-policy-other'));
  const en = await d.cli(['enforce', cgroupRelPath(cg2)]);
  assert.equal(en.code, 0, en.stderr);
  const go = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mw-session-')), 'go');
  // the owner opens a session, says its id, waits, then works in it
  const owner = spawnInCgroup(cg, process.execPath, [path.join(MCP_DIR, 'steps.mjs'), sql.url,
    JSON.stringify([{ op: 'announce' }, { op: 'wait', file: go }, { op: 'call', name: 'ledger' }]),
    '--timeout', '30000']);
  try {
    for (let i = 0; i < 200 && !/session: \S+\n/.test(owner.err); i++) await new Promise((r) => setTimeout(r, 50));
    const sid = /session: (\S+)\n/.exec(owner.err)?.[1];
    assert.ok(sid && sid !== 'undefined', `no session id: ${owner.err}`);
    // another cgroup's process names it: a call, a stream read again, the end
    const attack = String.raw`
const [url, sid] = process.argv.slice(1);
const out = [];
for (const [method, headers, body] of [
  ['POST', { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'ledger', arguments: {} } })],
  ['GET', { accept: 'text/event-stream', 'last-event-id': '1' }],
  ['DELETE', {}]]) {
  const r = await fetch(url, { method, headers: { ...headers, 'mcp-session-id': sid }, body });
  out.push({ method, status: r.status, body: await r.text() });
}
console.log(JSON.stringify(out));
`;
    const before = (await d.sqlObjects("select count(*)::int as n from mcpwarden.events where kind = 'request' " +
      "and server = 'sql'"))[0].n;
    const r = await runInCgroup(cg2, process.execPath, ['--input-type=module', '-e', attack, sql.url, sid],
      { timeout: 20000 });
    assert.equal(r.code, 0, r.stderr);
    for (const o of JSON.parse(r.stdout)) {
      assert.equal(o.status, 403, `${o.method}: ${o.body}`);
      assert.match(o.body, /opened by another identity/, o.method);
    }
    const refused = await rows("select http_method, http_status from mcpwarden.http_errors where detail like " +
      `'the session was opened by another identity%' and http_path = '${new URL(sql.url).pathname}' order by ts`, 3);
    assert.deepEqual(refused.map((x) => `${x.http_method} ${x.http_status}`), ['POST 403', 'GET 403', 'DELETE 403']);
    // nothing reached the server: no request recorded for it
    const after = (await d.sqlObjects("select count(*)::int as n from mcpwarden.events where kind = 'request' " +
      "and server = 'sql'"))[0].n;
    assert.equal(after, before, 'a request in the session went on');
    // the owner's session still works
    fs.writeFileSync(go, '');
    for (let i = 0; i < 300 && owner.exitCode === null; i++) await new Promise((res) => setTimeout(res, 50));
    assert.equal(owner.exitCode, 0, owner.err);
    const out = JSON.parse(owner.out);
    assert.equal(out.steps[2].ok, true, owner.out);
  } finally {
    owner.kill('SIGKILL');
  }
});
