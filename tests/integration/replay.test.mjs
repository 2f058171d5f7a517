// `mcpwarden replay`: a session recorded by the real daemon (real eBPF
// steering, the official SDK client and the reference server, the embedded
// PostgreSQL) replayed as a timeline, as JSON Lines, and followed live; a
// hostile argument cannot reach the terminal raw; an unknown session is an
// error.
//
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/replay.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CLI_BIN, MCP_DIR, cgroupRelPath, makeCgroup, runClient, spawnInCgroup, startServer, startDaemon,
  uniqueName, cleanupAll, waitExit, until, auditSettled,
} from './helpers.mjs';

let srv;
let d;
let cg;
let session; // the 'full' scenario's
const MESSAGE = `replay ${process.pid}`;
const HOSTILE = '\u001b[31mred\nline2';

const TIME = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z +[+-]\d+\.\d{3}s`;
const re = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function replay(...args) {
  return d.cli(['replay', ...args], { env: { NO_COLOR: '' } });
}

before(async () => {
  srv = await startServer();
  cg = makeCgroup(uniqueName('mw-replay'));
  d = await startDaemon({
    servers: [{ name: 'everything', address: `127.0.0.1:${srv.port}` }],
    default: 'allow',
    rules: [{
      name: 'no-forbidden-echo',
      server: 'everything',
      tool: 'echo',
      args: { pointer: '/message', regex: 'forbidden' },
      action: 'deny',
      message: 'no forbidden words',
    }],
  });
  const r = await d.cli(['enforce', cgroupRelPath(cg)]);
  assert.equal(r.code, 0, r.stderr);
  const out = await runClient(srv.url, { cgroup: cg, scenario: 'full', includeSession: true, message: MESSAGE });
  session = out.session_id;
  assert.ok(session, 'the client reported no session id');
  await auditSettled(d);
});

after(async () => {
  await srv?.stop();
  await cleanupAll();
});

test('replay SESSION: the timeline of the full scenario, in order, with who, decisions, results and latencies', async () => {
  const r = await replay(session);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const lines = r.stdout.trimEnd().split('\n');
  const who = `root\\(0\\) node\\[\\d+\\] ${re(cgroupRelPath(cg))}`;
  const find = (pattern, what) => {
    const i = lines.findIndex((l) => new RegExp(pattern).test(l));
    assert.ok(i >= 0, `no ${what} line in:\n${r.stdout}`);
    return i;
  };
  for (const l of lines) assert.match(l, new RegExp(`^${TIME}  `), `a line without its time: ${l}`);
  assert.match(lines[0], /^\S+ +\+0\.000s  /, 'offsets start at the first event');

  // the opening initialize, recorded before the server named the session
  const init = find(`^${TIME}  ${who}  → initialize  mcpwarden-test-client 1\\.0\\.0, protocol \\S+  allow by \\(default\\)$`,
    'initialize request');
  const initOk = find(`^${TIME}  ${who}  ← initialize  \\d+\\.\\d ms  \\S+ \\S+, protocol \\S+$`, 'initialize response');
  const list = find(`  → tools/list  allow by \\(default\\)$`, 'tools/list request');
  const listOk = find(`  ← tools/list  \\d+\\.\\d ms  \\d+ tools$`, 'tools/list response');
  const echo = find(`^${TIME}  ${who}  → tools/call echo  ${re(JSON.stringify({ message: MESSAGE }))}  allow by \\(default\\)$`,
    'echo call');
  const echoOk = find(`^${TIME}  ${who}  ← tools/call echo  \\d+\\.\\d ms  Echo: ${re(MESSAGE)}$`, 'echo result');
  assert.ok(init < initOk && initOk < list && list < listOk && listOk < echo && echo < echoOk,
    `out of order:\n${r.stdout}`);
  find('  → notifications/initialized  allow by \\(default\\)$', 'notifications/initialized');
  // (keys in the order of jsonb, which the views return)
  find('  → tools/call trigger-long-running-operation  \\{"steps":4,"duration":2\\}  allow', 'long-running call');
  find('  ← notifications/progress  ', 'progress notification from the server');
  find('  → resources/read demo://resource/static/document/instructions\\.md  allow', 'resources/read');
  find('  ← resources/read demo://resource/static/document/instructions\\.md  \\d+\\.\\d ms  1 content: ', 'read result');
  assert.ok(!r.stdout.includes('\u001b'), 'no colour when stdout is not a terminal');
});

test('replay --json: one object per line, every field, full values', async () => {
  const r = await replay(session, '--json');
  assert.equal(r.code, 0, r.stderr);
  const objs = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
  const keys = Object.keys(objs[0]).sort();
  for (const o of objs) assert.deepEqual(Object.keys(o).sort(), keys, 'every line has every field');
  for (const k of ['host', 'seq', 'ts', 'ts_us', 'offset_ms', 'kind', 'direction', 'session_id', 'method', 'tool',
    'request_method', 'request_tool', 'arguments', 'params', 'result', 'error', 'summary', 'decision', 'rule',
    'refused', 'latency_ms', 'uid', 'user_name', 'pid', 'comm', 'cgroup', 'http_status', 'detail']) {
    assert.ok(keys.includes(k), `no field ${k}`);
  }
  const seqs = objs.map((o) => o.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'ordered by seq');
  const call = objs.find((o) => o.kind === 'request' && o.tool === 'echo');
  assert.ok(call, 'the echo call');
  assert.equal(call.method, 'tools/call');
  assert.deepEqual(call.arguments, { message: MESSAGE });
  assert.equal(call.params.name, 'echo');
  assert.equal(call.decision, 'allow');
  assert.equal(call.rule, '(default)');
  assert.equal(call.refused, false);
  assert.equal(call.uid, 0);
  assert.equal(call.user_name, 'root');
  assert.equal(call.comm, 'node');
  assert.equal(call.cgroup, cgroupRelPath(cg));
  assert.equal(call.direction, 'c2s');
  assert.equal(call.session_id, session);
  assert.match(call.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  const res = objs.find((o) => o.kind === 'response' && o.request_seq === call.seq);
  assert.ok(res, 'the echo result');
  assert.equal(res.request_method, 'tools/call');
  assert.equal(res.request_tool, 'echo');
  assert.equal(res.result.content[0].text, `Echo: ${MESSAGE}`);
  assert.equal(res.summary, `Echo: ${MESSAGE}`);
  assert.equal(typeof res.latency_ms, 'number');
  assert.ok(res.latency_ms >= 0);
  assert.ok(res.offset_ms > call.offset_ms);
  // the handshake: recorded without a session, replayed with it
  const init = objs[0];
  assert.equal(init.method, 'initialize');
  assert.equal(init.session_id, null);
  assert.equal(init.params.clientInfo.name, 'mcpwarden-test-client');
  assert.equal(objs[1].request_method, 'initialize');

  // the same connection's session-less events, by connection
  const c = await replay('--conn', String(init.conn_id), '--json');
  assert.equal(c.code, 0, c.stderr);
  const conn = c.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.ok(conn.some((o) => o.seq === init.seq), 'the initialize is on its connection');
  assert.ok(conn.every((o) => o.session_id === null && o.conn_id === init.conn_id));
});

test('replay --width: summaries cut with an ellipsis', async () => {
  const r = await replay(session, '--width', '10');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /  → tools\/call echo  \{"message…  allow by \(default\)\n/);
  assert.match(r.stdout, /  ← tools\/call echo  \d+\.\d ms  Echo: rep…\n/);
  const bad = await replay(session, '--width', 'wide');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--width: 'wide' is not a width/);
});

test('replay of an unknown session: exit 1 with a clear message', async () => {
  const name = uniqueName('no-such-session');
  const r = await replay(name);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `mcpwarden: no session '${name}' in the audit trail\n`);
  const f = await replay(name, '--follow');
  assert.equal(f.code, 1, 'follow does not wait for a session that is not there');
  const u = await d.cli(['replay']);
  assert.equal(u.code, 2, 'no session: usage');
});

// A client that keeps its session open: prints it, then makes its calls
// when the trigger file appears (its content is the echo's message).
const LIVE = String.raw`
import fs from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
const [url, trigger] = process.argv.slice(1);
const client = new Client({ name: 'mcpwarden-replay-live', version: '1.0.0' }, { capabilities: {} });
const transport = new StreamableHTTPClientTransport(new URL(url));
await client.connect(transport);
process.stdout.write('session ' + transport.sessionId + '\n');
while (!fs.existsSync(trigger)) await new Promise((r) => setTimeout(r, 50));
const message = fs.readFileSync(trigger, 'utf8');
const r = await client.callTool({ name: 'echo', arguments: { message } });
process.stdout.write('echo ' + JSON.stringify(r.content) + '\n');
try {
  await client.callTool({ name: 'echo', arguments: { message: 'a forbidden word' } });
  process.stdout.write('not refused\n');
} catch (e) {
  process.stdout.write('refused ' + e.code + '\n');
}
process.stdout.write('done\n');
setInterval(() => {}, 1000);
`;

test('replay --follow: a live session\'s new calls appear within seconds; hostile arguments are escaped; SIGINT exits 0', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-replay-'));
  const trigger = path.join(dir, 'go');
  const live = spawnInCgroup(cg, process.execPath, ['--input-type=module', '-e', LIVE, srv.url, trigger],
    { cwd: MCP_DIR });
  let follow;
  try {
    const sid = await until(() => live.out.match(/^session (\S+)$/m)?.[1], `the live client's session (${live.err})`);
    assert.notEqual(sid, 'undefined');
    await auditSettled(d);
    follow = spawn(CLI_BIN, ['-c', d.configPath, 'replay', sid, '--follow'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '' } });
    follow.out = '';
    follow.err = '';
    follow.stdout.setEncoding('utf8').on('data', (x) => { follow.out += x; });
    follow.stderr.setEncoding('utf8').on('data', (x) => { follow.err += x; });
    await until(() => /  ← initialize  /.test(follow.out), `the session so far (${follow.err})`, 15000);
    assert.ok(!/tools\/call/.test(follow.out), 'no call yet');

    const t0 = Date.now();
    fs.writeFileSync(trigger, HOSTILE);
    await until(() => /^done$/m.test(live.out), `the live client's calls (${live.err})`);
    assert.match(live.out, /^refused -32003$/m);
    await until(() => /  ← tools\/call echo  .*\n[^]*← tools\/call echo  .*error -32003/.test(follow.out),
      `the new calls in the followed timeline:\n${follow.out}\n${follow.err}`, 10000);
    assert.ok(Date.now() - t0 < 10000);
    // escaped: the ESC sequence and the newline are visible, not acted on
    assert.match(follow.out, new RegExp(`  → tools/call echo  ${re('{"message":"\\u001B[31mred\\nline2"}')}  allow by \\(default\\)\n`));
    assert.match(follow.out, new RegExp(`  ← tools/call echo  \\d+\\.\\d ms  ${re('Echo: \\x1b[31mred\\nline2')}\n`));
    assert.ok(!follow.out.includes('\u001b'), 'no raw ESC reached the output');
    for (const l of follow.out.trimEnd().split('\n')) {
      assert.match(l, new RegExp(`^${TIME}  `), 'the argument\'s newline did not break a line');
    }
    // the refusal
    assert.match(follow.out, /  → tools\/call echo  \{"message":"a forbidden word"\}  deny by no-forbidden-echo\n/);
    assert.match(follow.out, /  ← tools\/call echo  \d+\.\d ms  error -32003: .*  \[answered by mcpwarden: refused by policy\]\n/);
    // each line once
    const lines = follow.out.trimEnd().split('\n');
    assert.equal(new Set(lines).size, lines.length, `a line printed twice:\n${follow.out}`);

    follow.kill('SIGINT');
    const { code, signal } = await waitExit(follow, 5000);
    assert.equal(signal, null);
    assert.equal(code, 0, follow.err);
    assert.equal(follow.err, '');

    // the same, hostile, as JSON: exact values, ASCII-only lines
    const j = await replay(sid, '--json');
    assert.equal(j.code, 0, j.stderr);
    assert.ok(/^[\x20-\x7e\n]*$/.test(j.stdout), 'JSON lines are printable ASCII');
    const call = j.stdout.trimEnd().split('\n').map((l) => JSON.parse(l))
      .find((o) => o.kind === 'request' && o.arguments?.message === HOSTILE);
    assert.ok(call, 'the hostile argument, exact, in JSON');
    const refused = j.stdout.trimEnd().split('\n').map((l) => JSON.parse(l))
      .find((o) => o.refused);
    assert.equal(refused.rule, 'no-forbidden-echo');
    assert.equal(refused.decision, 'deny');
  } finally {
    if (follow && follow.exitCode === null && follow.signalCode === null) follow.kill('SIGKILL');
    live.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
