// The daemon end to end, as a user sees it: real eBPF steering from an
// enforced cgroup, the official SDK client and the reference server, the
// audit trail read back with SQL, and the operator CLI.
//
// One reference server per transport (Streamable HTTP, legacy HTTP+SSE), a
// raw TCP "sink" upstream of our own, and one daemon protecting all three are
// shared by the tests (before/after); the splice test runs its own daemon.
// The tests run in file order (node --test runs a file's tests one after
// another); the restart test replaces the shared daemon with a new one on the
// same state_dir and bpf_pin_dir, so it comes late.
//
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/daemon.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  eachRequest, MCP_DIR, cgroupRelPath, makeCgroup, removeCgroup, rowsOf, run, runInCgroup, spawnInCgroup,
  startServer, runClient, startDaemon, uniqueName, cleanupAll,
} from './helpers.mjs';

const NODE = process.execPath;
const NODE_EXE = fs.realpathSync(NODE);
const CLIENT = path.join(MCP_DIR, 'client.mjs');

// What the full scenario of client.mjs sends, in order (tools/call: tool).
const FULL_CALLS = [
  ['initialize', null], ['tools/list', null], ['tools/call', 'echo'],
  ['tools/call', 'trigger-long-running-operation'], ['resources/list', null],
  ['resources/read', null], ['resources/read', null], ['resources/subscribe', null],
  ['tools/call', 'toggle-subscriber-updates'], ['tools/call', 'toggle-subscriber-updates'],
  ['resources/unsubscribe', null],
];

// ------------------------------------------------------------ small scripts

// Sends stdin's bytes on one TCP connection to HOST PORT and prints one JSON
// line: {pid, local, response, error}. Stops at the end of the first complete
// response (Content-Length), at EOF, or after 8 s.
const RAW_HTTP = String.raw`
const net = require('net');
const [host, port] = process.argv.slice(1);
const out = { pid: process.pid, local: null, response: '', error: null, timedOut: false };
const input = [];
process.stdin.on('data', (c) => input.push(c));
process.stdin.on('end', () => {
  const chunks = [];
  const s = net.connect({ host, port: Number(port) });
  const t = setTimeout(() => { out.timedOut = true; s.destroy(); }, 8000);
  const complete = () => {
    const b = Buffer.concat(chunks);
    const end = b.indexOf('\r\n\r\n');
    if (end < 0) return false;
    const m = b.subarray(0, end).toString('latin1').match(/\r\ncontent-length:\s*(\d+)/i);
    return m !== null && b.length >= end + 4 + Number(m[1]);
  };
  s.on('connect', () => {
    out.local = s.localAddress + ' ' + s.localPort;
    s.write(Buffer.concat(input), (e) => { if (e && !out.error) out.error = e.code || e.message; });
  });
  s.on('data', (c) => { chunks.push(c); if (complete()) s.destroy(); });
  s.on('error', (e) => { if (!out.error) out.error = e.code || e.message; });
  s.on('close', () => {
    clearTimeout(t);
    out.response = Buffer.concat(chunks).toString('utf8');
    process.stdout.write(JSON.stringify(out) + '\n');
  });
});
`;

// Opens one TCP connection to HOST PORT, sends base64 B64 (optional) and
// holds the connection open, reporting on stdout: "connected ADDR PORT",
// "endpoint" once an SSE endpoint event arrived, "eof", "error CODE",
// "closed" (then exits).
const HOLDER = String.raw`
const net = require('net');
const [host, port, b64] = process.argv.slice(1);
let got = '';
const s = net.connect({ host, port: Number(port) }, () => {
  process.stdout.write('connected ' + s.localAddress + ' ' + s.localPort + '\n');
  if (b64) s.write(Buffer.from(b64, 'base64'));
});
s.on('data', (c) => {
  const had = got.includes('event: endpoint');
  got = (got + c.toString('utf8')).slice(-4096);
  if (!had && got.includes('event: endpoint')) process.stdout.write('endpoint\n');
});
s.on('end', () => process.stdout.write('eof\n'));
s.on('error', (e) => process.stdout.write('error ' + (e.code || e.message) + '\n'));
s.on('close', () => { process.stdout.write('closed\n'); process.exit(0); });
`;

// ------------------------------------------------------------------ helpers

let srv; // Streamable HTTP reference server (dual-stack bind)
let legacy; // legacy HTTP+SSE reference server
let sink; // raw TCP upstream of our own: counts every byte it receives
let d; // the shared daemon (replaced by the restart test)
let cgA; // the shared enforced cgroup
let cgAName;
let directFull; // client.mjs full scenario, direct, Streamable HTTP
let directLegacy; // same, legacy transport
const extraDaemons = [];

async function until(fn, what, ms = 10000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Polls QUERY (rows as objects) until PRED(rows); fails with the last rows. */
async function waitRows(dm, query, pred, what, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const rows = await dm.sqlObjects(query);
    if (pred(rows)) return rows;
    if (Date.now() > deadline) {
      assert.fail(`${what}: not recorded within ${ms} ms; rows now: ${JSON.stringify(rows).slice(0, 4000)}`);
    }
    await sleep(100);
  }
}

async function statusJson(dm = d) {
  const r = await dm.cli(['status', '--json']);
  assert.equal(r.code, 0, `status --json failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Waits until the daemon has written everything it accepted (and, unless
 *  told otherwise, holds no proxied connection). */
async function settled(dm = d, { idle = true } = {}) {
  return until(async () => {
    const s = await statusJson(dm);
    return s.audit.queued === 0 && s.audit.submitted === s.audit.written &&
      (!idle || s.proxy.active === 0) && s;
  }, 'the daemon to settle (audit queue drained, no active connection)');
}

async function rowCounts(dm = d) {
  const [r] = await dm.sql(`select
    (select count(*) from mcpwarden.tool_calls), (select count(*) from mcpwarden.messages),
    (select count(*) from mcpwarden.http_errors), (select count(*) from mcpwarden.connections)`);
  const [toolCalls, messages, httpErrors, connections] = r.map(Number);
  return { toolCalls, messages, httpErrors, connections };
}

/**
 * Runs client.mjs inside CGROUP and resolves {pid, out (its JSON)}; the pid
 * is the client's own (sh execs it, and setpriv execs node for asNobody).
 */
async function clientIn(cgroup, url, opts = {}) {
  const { scenario = 'echo', message, legacy: leg, includeSession, asNobody, timeout = 30000 } = opts;
  const args = [CLIENT, url, '--scenario', scenario, '--timeout', String(timeout - 2000)];
  if (message !== undefined) args.push('--message', message);
  if (leg) args.push('--legacy');
  if (includeSession) args.push('--include-session');
  const [cmd, cargs] = asNobody
    ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', NODE, ...args]]
    : [NODE, args];
  const p = spawnInCgroup(cgroup, cmd, cargs);
  const closed = new Promise((res) => p.on('close', (code, signal) => res({ code, signal })));
  const t = setTimeout(() => { try { process.kill(-p.pid, 'SIGKILL'); } catch { /* gone */ } }, timeout);
  const { code, signal } = await closed;
  clearTimeout(t);
  if (code !== 0) {
    const e = new Error(`client.mjs ${url} in ${cgroup} failed (exit ${code ?? signal}): ${p.err.trim()}`);
    e.stderr = p.err;
    throw e;
  }
  return { pid: p.pid, out: JSON.parse(p.out), since: p.since };
}

/** Sends PAYLOAD raw over TCP from inside CGROUP; resolves the script's JSON
 *  plus {status, headers, body} parsed from the first response. */
// connect() to 127.0.0.1:PORT from a child process, optionally given pid
// PID (through ns_last_pid) or with SO_MARK (36) set first; prints the
// child's pid and "connected" or the error.
const CONNECT_PROBE = String.raw`
use Socket;
my ($port, $pid, $mark) = @ARGV;
if ($pid) {
  open(my $f, '>', '/proc/sys/kernel/ns_last_pid') or die "ns_last_pid: $!";
  print $f $pid - 1;
  close $f;
}
my $child = fork() // die "fork: $!";
if (!$child) {
  socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
  setsockopt($s, SOL_SOCKET, 36, pack('i', $mark)) or die "SO_MARK: $!" if $mark;
  my $ok = connect($s, pack_sockaddr_in($port, inet_aton('127.0.0.1')));
  print "$$ " . ($ok ? 'connected' : "$!") . "\n";
  exit 0;
}
waitpid($child, 0);
`;

async function connectProbe(cgroup, port, { pid = 0, mark = 0 }) {
  const r = await runInCgroup(cgroup, 'perl', ['-e', CONNECT_PROBE, String(port), String(pid), String(mark)],
    { timeout: 10000 });
  assert.equal(r.code, 0, `connect probe failed: ${r.stderr}`);
  const m = r.stdout.trim().match(/^(\d+) (.*)$/);
  assert.ok(m, r.stdout);
  return { pid: Number(m[1]), result: m[2] };
}

async function rawHttp(cgroup, host, port, payload) {
  const r = await runInCgroup(cgroup, NODE, ['-e', RAW_HTTP, host, String(port)],
    { input: payload, timeout: 20000 });
  assert.equal(r.code, 0, `raw client failed: ${r.stderr}`);
  const o = JSON.parse(r.stdout);
  o.since = r.since;
  const m = o.response.match(/^HTTP\/1\.1 (\d{3})[^\r\n]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/);
  o.status = m ? Number(m[1]) : null;
  o.headers = m ? m[2] : '';
  o.body = m ? m[3] : '';
  return o;
}

function spawnHolder(cgroup, host, port, request) {
  const args = ['-e', HOLDER, host, String(port)];
  if (request) args.push(Buffer.from(request).toString('base64'));
  return spawnInCgroup(cgroup, NODE, args);
}

const sseRequest = (port) =>
  `GET /sse HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`;

function startSink() {
  const st = { conns: 0, bytes: 0, requests: [] };
  const sockets = new Set();
  const server = net.createServer((s) => {
    st.conns++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.on('data', (chunk) => { st.bytes += chunk.length; });
    eachRequest(s, (head, body) => {
      st.requests.push({ head, body });
      let id = null;
      try { id = JSON.parse(body).id ?? null; } catch { /* not JSON */ }
      const resp = JSON.stringify({ jsonrpc: '2.0', id, result: { sink: true } });
      s.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(resp)}\r\n\r\n${resp}`);
    });
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({
      port: server.address().port,
      st,
      close: () => new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
    }));
  });
}

const serversConfig = () => [
  { name: 'everything', address: `127.0.0.1:${srv.port}` },
  { name: 'legacy', address: `127.0.0.1:${legacy.port}` },
  { name: 'sink', address: `127.0.0.1:${sink.port}` },
];

async function enforce(dm, cgroup, extra = []) {
  const r = await dm.cli(['enforce', ...extra, cgroup]);
  assert.equal(r.code, 0, `enforce ${cgroup} failed: ${r.stdout}${r.stderr}\ndaemon log:\n${dm.log()}`);
  assert.match(r.stdout, new RegExp(`^enforcing ${cgroup}$`, 'm'));
  return r;
}

/** The identity columns every row of a client's connection must carry. */
function assertIdentity(row, { pid, uid, gid, user, cgroup }) {
  const ctx = JSON.stringify(row);
  assert.equal(Number(row.tgid), pid, `tgid: ${ctx}`);
  assert.equal(Number(row.pid), pid, `pid (the connecting thread is node's main thread): ${ctx}`);
  assert.equal(Number(row.uid), uid, `uid: ${ctx}`);
  assert.equal(Number(row.gid), gid, `gid: ${ctx}`);
  assert.equal(row.user_name, user, `user_name: ${ctx}`);
  assert.equal(row.comm, 'node', `comm: ${ctx}`);
  assert.equal(row.exe, NODE_EXE, `exe: ${ctx}`);
  assert.equal(row.cgroup, cgroupRelPath(cgroup), `cgroup: ${ctx}`);
}

const IDENT_COLS = 'pid, tgid, uid, gid, user_name, comm, exe, cgroup';

// -------------------------------------------------------------------- setup

before(async () => {
  [srv, legacy, sink] = await Promise.all([startServer(), startServer({ legacy: true }), startSink()]);
  // The reference outputs (direct, no daemon) while the daemon starts.
  const directs = Promise.all([runClient(srv.url), runClient(legacy.url, { legacy: true })]);
  d = await startDaemon({ servers: serversConfig() });
  [directFull, directLegacy] = await directs;
  cgAName = uniqueName('mw-test-daemon');
  cgA = makeCgroup(cgAName);
  await enforce(d, cgA);
});

after(async () => {
  // The current shared daemon first (the restart test leaves the stopped one
  // tracked too), then everything else the helpers started.
  try {
    for (const x of [...extraDaemons, d]) await x?.cleanup();
  } finally {
    await sink?.close();
    await cleanupAll();
  }
});

// -------------------------------------------------------------------- tests

test('1. a client in an enforced cgroup is recorded with its kernel identity', async () => {
  const message = `identity check ${uniqueName('m')}`;
  const c = await clientIn(cgA, srv.url, { scenario: 'full', message, includeSession: true });
  assert.deepEqual(c.out.echo.content, [{ type: 'text', text: `Echo: ${message}` }]);

  const rows = await waitRows(d,
    `select seq, session_id, server, method, tool, arguments, response, is_error, latency_ms, decision,
            ${IDENT_COLS} from mcpwarden.tool_calls where ${rowsOf(c)} order by seq`,
    (r) => r.length >= FULL_CALLS.length && r.every((x) => x.is_error !== null),
    `the ${FULL_CALLS.length} requests and responses of client pid ${c.pid}`);
  assert.deepEqual(rows.map((r) => [r.method, r.tool]), FULL_CALLS,
    'each request of the scenario recorded once, in order');
  for (const r of rows) {
    assertIdentity(r, { pid: c.pid, uid: 0, gid: 0, user: 'root', cgroup: cgA });
    assert.equal(r.server, 'everything');
    assert.equal(r.is_error, false, JSON.stringify(r));
    assert.ok(r.latency_ms > 0, `latency_ms ${r.latency_ms} for ${r.method}`);
  }
  // Every request after initialize belongs to the client's session.
  for (const r of rows.slice(1)) assert.equal(r.session_id, c.out.session_id, `${r.method}: session_id`);

  const [init, list, echo] = rows;
  assert.equal(init.arguments.clientInfo.name, 'mcpwarden-test-client');
  assert.equal(init.response.serverInfo.name, 'mcp-servers/everything');
  assert.ok(list.response.tools.some((t) => t.name === 'echo'), 'tools/list response lists echo');
  assert.deepEqual(echo.arguments, { message });
  assert.deepEqual(echo.response.content, [{ type: 'text', text: `Echo: ${message}` }]);

  // The same identity from an unprivileged user (setpriv execs node: same pid).
  const m2 = `as nobody ${uniqueName('m')}`;
  const n = await clientIn(cgA, srv.url, { scenario: 'echo', message: m2, asNobody: true });
  assert.deepEqual(n.out.echo.content, [{ type: 'text', text: `Echo: ${m2}` }]);
  const nrows = await waitRows(d,
    `select method, tool, arguments, response, is_error, latency_ms, ${IDENT_COLS}
       from mcpwarden.tool_calls where ${rowsOf(n)} order by seq`,
    (r) => r.some((x) => x.tool === 'echo' && x.is_error !== null), `the echo call of nobody's client pid ${n.pid}`);
  assert.deepEqual(nrows.map((r) => r.method), ['initialize', 'tools/call']);
  for (const r of nrows) assertIdentity(r, { pid: n.pid, uid: 65534, gid: 65534, user: 'nobody', cgroup: cgA });
  const necho = nrows.find((r) => r.tool === 'echo');
  assert.equal(necho.arguments.message, m2);
  assert.equal(necho.response.content[0].text, `Echo: ${m2}`);
  assert.equal(necho.is_error, false);
  assert.ok(necho.latency_ms > 0);
});

test('1b. a client in a child cgroup of an enforced cgroup is recorded with the child path', async () => {
  const sub = makeCgroup(`${cgAName}/agent`);
  const message = `child cgroup ${uniqueName('m')}`;
  const c = await clientIn(sub, srv.url, { scenario: 'echo', message });
  assert.equal(c.out.echo.content[0].text, `Echo: ${message}`);
  const rows = await waitRows(d,
    `select tool, arguments, ${IDENT_COLS} from mcpwarden.tool_calls where ${rowsOf(c)} and tool = 'echo'`,
    (r) => r.length === 1, `the echo call of client pid ${c.pid} in ${sub}`);
  assert.equal(rows[0].arguments.message, message);
  assertIdentity(rows[0], { pid: c.pid, uid: 0, gid: 0, user: 'root', cgroup: sub });
});

test('2. a client outside any enforced cgroup is not touched and adds no rows', async () => {
  await settled();
  const s0 = await statusJson();
  const n0 = await rowCounts();
  const free = makeCgroup(uniqueName('mw-test-free'));
  const m1 = `outside cgroup ${uniqueName('m')}`;
  const m2 = `outside root ${uniqueName('m')}`;
  const a = await clientIn(free, srv.url, { scenario: 'echo', message: m1 });
  assert.equal(a.out.echo.content[0].text, `Echo: ${m1}`);
  // The test runner's own cgroup (not enforced either).
  const b = await runClient(srv.url, { scenario: 'echo', message: m2 });
  assert.equal(b.echo.content[0].text, `Echo: ${m2}`);
  const v6 = await runClient(`http://[::1]:${srv.port}/mcp`, { scenario: 'list' });
  assert.deepEqual(v6.tools, directFull.tools);

  await sleep(300);
  const s1 = await settled();
  assert.deepEqual(await rowCounts(), n0, 'no new rows');
  const hits = await d.sql(`select count(*) from mcpwarden.messages
    where params->'arguments'->>'message' in ('${m1}', '${m2}') or (${rowsOf(a)})`);
  assert.equal(hits[0][0], '0');
  assert.equal(s1.kernel.connect_redirected, s0.kernel.connect_redirected, 'no connection redirected');
  assert.equal(s1.proxy.accepted, s0.proxy.accepted, 'no connection accepted by the daemon');
});

test('3. the full scenario through the daemon equals the direct one (Streamable HTTP and legacy HTTP+SSE)', async () => {
  const s = await clientIn(cgA, srv.url, { scenario: 'full' });
  assert.deepEqual(s.out, directFull, 'Streamable HTTP: output through the daemon differs from the direct one');
  const l = await clientIn(cgA, legacy.url, { scenario: 'full', legacy: true });
  assert.deepEqual(l.out, directLegacy, 'legacy HTTP+SSE: output through the daemon differs from the direct one');

  // Both went through the daemon: every request is recorded, and so are the
  // server's notifications (progress on the POST's SSE response or the
  // legacy SSE stream; logging and resources/updated on the GET stream).
  for (const [c, server] of [[s, 'everything'], [l, 'legacy']]) {
    const rows = await waitRows(d,
      `select method, tool, server, is_error from mcpwarden.tool_calls where ${rowsOf(c)} order by seq`,
      (r) => r.length >= FULL_CALLS.length && r.every((x) => x.is_error !== null),
      `the requests of ${server} client pid ${c.pid}`);
    assert.deepEqual(rows.map((r) => [r.method, r.tool]), FULL_CALLS, `${server}: requests recorded`);
    assert.ok(rows.every((r) => r.server === server && r.is_error === false), JSON.stringify(rows));
    const notes = await waitRows(d,
      `select method, count(*)::int as n from mcpwarden.messages
        where ${rowsOf(c)} and kind = 'notification' and direction = 's2c' group by method order by method`,
      (r) => r.some((x) => x.method === 'notifications/resources/updated'),
      `the server notifications to ${server} client pid ${c.pid}`);
    const byMethod = Object.fromEntries(notes.map((x) => [x.method, x.n]));
    assert.equal(byMethod['notifications/progress'], 4, `${server}: progress notifications ${JSON.stringify(notes)}`);
    assert.ok(byMethod['notifications/message'] >= 2, `${server}: logging notifications ${JSON.stringify(notes)}`);
  }
});

test('4. IPv6: a client connecting to http://[::1]:PORT/mcp is recorded', async () => {
  const message = `over ipv6 ${uniqueName('m')}`;
  const c = await clientIn(cgA, `http://[::1]:${srv.port}/mcp`, { scenario: 'echo', message });
  assert.equal(c.out.echo.content[0].text, `Echo: ${message}`);
  const rows = await waitRows(d,
    `select tool, arguments, response, is_error, server, client_addr, server_addr, ${IDENT_COLS}
       from mcpwarden.tool_calls where ${rowsOf(c)} and tool = 'echo'`,
    (r) => r.length === 1 && r[0].is_error !== null, `the IPv6 echo call of client pid ${c.pid}`);
  const [r] = rows;
  assert.equal(r.arguments.message, message);
  assert.equal(r.response.content[0].text, `Echo: ${message}`);
  assert.equal(r.server, 'everything');
  assertIdentity(r, { pid: c.pid, uid: 0, gid: 0, user: 'root', cgroup: cgA });
  assert.equal(r.server_addr, `[::1]:${srv.port}`, 'the original IPv6 destination');
  assert.match(r.client_addr, /^\[::1\]:\d+$/);
});

test('6. release restores direct access at once; nothing more is recorded', async () => {
  const cg = makeCgroup(uniqueName('mw-test-release'));
  await enforce(d, cg);
  const m1 = `before release ${uniqueName('m')}`;
  const c1 = await clientIn(cg, srv.url, { scenario: 'echo', message: m1 });
  await waitRows(d, `select 1 from mcpwarden.tool_calls where ${rowsOf(c1)} and arguments->>'message' = '${m1}'`,
    (r) => r.length === 1, 'the echo call before release');

  const r = await d.cli(['release', cg]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^released ${cg}$`, 'm'));
  const st = await statusJson();
  assert.ok(!st.enforced.some((e) => e.cgroup === cg), `${cg} still listed as enforced`);
  assert.ok(st.enforced.some((e) => e.cgroup === cgA), `${cgA} no longer listed as enforced`);

  await settled();
  const s0 = await statusJson();
  const n0 = await rowCounts();
  const m2 = `after release ${uniqueName('m')}`;
  const c2 = await clientIn(cg, srv.url, { scenario: 'echo', message: m2 }); // no pause after release
  assert.equal(c2.out.echo.content[0].text, `Echo: ${m2}`);
  await sleep(300);
  const s1 = await settled();
  assert.deepEqual(await rowCounts(), n0, 'rows were added after release');
  assert.equal(s1.proxy.accepted, s0.proxy.accepted, 'the daemon accepted a connection after release');
  assert.equal(s1.kernel.connect_redirected, s0.kernel.connect_redirected);
});

test('7. malformed HTTP gets a 400 with a reason, is recorded, and the daemon keeps serving', async () => {
  const host = `Host: 127.0.0.1:${srv.port}\r\n`;
  const cases = [
    {
      what: 'Content-Length and Transfer-Encoding',
      payload: `POST /mcp HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 5\r\n` +
        'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      // http-parser refuses this itself ("unexpected content-length header")
      reason: /content-length/i,
    },
    {
      what: 'two different Content-Length',
      payload: `POST /mcp HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 2\r\n` +
        'Content-Length: 3\r\n\r\n{}',
      reason: /content-length/i,
    },
    {
      what: 'a garbage request line',
      payload: '\x01\x02GARBAGE \xff nonsense\r\n\r\n',
      reason: /malformed request: invalid HTTP method/,
    },
    {
      what: 'an oversized header (100 KiB, limit 64 KiB)',
      payload: `GET /mcp HTTP/1.1\r\n${host}X-Big: ${'a'.repeat(100 * 1024)}\r\n\r\n`,
      reason: /too large/,
      statuses: [400, 431],
    },
  ];
  const logLen = srv.log().length;
  const n0 = await rowCounts();
  for (const k of cases) {
    const r = await rawHttp(cgA, '127.0.0.1', srv.port, k.payload);
    assert.ok((k.statuses ?? [400]).includes(r.status),
      `${k.what}: want ${k.statuses ?? 400}, got ${r.status} (error ${r.error}): ${JSON.stringify(r.response.slice(0, 500))}`);
    assert.match(r.body, k.reason, `${k.what}: the response gives the reason`);
    const rows = await waitRows(d,
      `select http_status, detail, server, ${IDENT_COLS} from mcpwarden.http_errors where ${rowsOf(r)}`,
      (x) => x.length >= 1, `the http_errors row for ${k.what}`);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0].http_status, r.status);
    assert.match(rows[0].detail, k.reason);
    assert.equal(rows[0].server, 'everything');
    assertIdentity(rows[0], { pid: r.pid, uid: 0, gid: 0, user: 'root', cgroup: cgA });
  }
  assert.equal(srv.log().slice(logLen), '', 'a malformed request reached the server');
  assert.equal((await rowCounts()).toolCalls, n0.toolCalls, 'a malformed request was recorded as a tool call');

  assert.equal(d.proc.exitCode, null, `the daemon exited:\n${d.log()}`);
  assert.equal(d.proc.signalCode, null, `the daemon died:\n${d.log()}`);
  const message = `after malformed ${uniqueName('m')}`;
  const c = await clientIn(cgA, srv.url, { scenario: 'echo', message });
  assert.equal(c.out.echo.content[0].text, `Echo: ${message}`);
  await waitRows(d, `select 1 from mcpwarden.tool_calls where ${rowsOf(c)} and tool = 'echo'`,
    (x) => x.length === 1, 'the echo call after the malformed requests');
});

test('8. an invalid JSON-RPC body gets a 400, is recorded, and never reaches the server', async () => {
  const post = (body) => `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${sink.port}\r\n` +
    'Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const cases = [
    { what: 'a body that is not JSON', body: 'this is {not json', reason: /invalid JSON/i },
    {
      what: 'duplicate keys',
      body: '{"jsonrpc":"2.0","id":1,"method":"tools/call",' +
        '"params":{"name":"echo","arguments":{"message":"a","message":"b"}}}',
      reason: /duplicate/i,
    },
    {
      what: 'duplicate method key',
      body: '{"jsonrpc":"2.0","id":2,"method":"tools/list","method":"tools/call","params":{}}',
      reason: /duplicate/i,
    },
  ];
  const bytes0 = sink.st.bytes;
  for (const k of cases) {
    const r = await rawHttp(cgA, '127.0.0.1', sink.port, post(k.body));
    assert.equal(r.status, 400, `${k.what}: ${JSON.stringify(r.response.slice(0, 500))}`);
    const err = JSON.parse(r.body);
    assert.equal(err.jsonrpc, '2.0');
    assert.match(err.error.message, k.reason, `${k.what}: the JSON-RPC error gives the reason`);
    const rows = await waitRows(d,
      `select http_status, http_method, http_path, detail, server, ${IDENT_COLS}
         from mcpwarden.http_errors where ${rowsOf(r)}`,
      (x) => x.length >= 1, `the http_errors row for ${k.what}`);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0].http_status, 400);
    assert.equal(rows[0].http_method, 'POST');
    assert.equal(rows[0].http_path, '/mcp');
    assert.equal(rows[0].server, 'sink');
    assert.match(rows[0].detail, k.reason);
    assertIdentity(rows[0], { pid: r.pid, uid: 0, gid: 0, user: 'root', cgroup: cgA });
    const calls = await d.sql(`select count(*) from mcpwarden.tool_calls where ${rowsOf(r)}`);
    assert.equal(calls[0][0], '0', `${k.what} recorded as a tool call`);
  }
  await settled();
  assert.equal(sink.st.bytes, bytes0, `the server received ${sink.st.bytes - bytes0} bytes of rejected requests: ` +
    JSON.stringify(sink.st.requests.slice(-3)));

  // The same path with a valid body does reach the sink (so the check above can fail).
  const body = '{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}}';
  const ok = await rawHttp(cgA, '127.0.0.1', sink.port, post(body));
  assert.equal(ok.status, 200, ok.response);
  assert.deepEqual(JSON.parse(ok.body), { jsonrpc: '2.0', id: 7, result: { sink: true } });
  assert.equal(sink.st.requests.at(-1).body, body);
  await waitRows(d, `select method, server from mcpwarden.tool_calls where ${rowsOf(ok)}`,
    (x) => x.length === 1 && x[0].method === 'tools/list' && x[0].server === 'sink', 'the valid request to the sink');
});

test('9. enforce reports connections opened before enforcement; --kill-existing closes them', async () => {
  const cg = makeCgroup(uniqueName('mw-test-pre'));
  const h = spawnHolder(cg, '127.0.0.1', legacy.port, sseRequest(legacy.port));
  await until(() => /^endpoint$/m.test(h.out), `the holder's SSE stream to the server (out: ${h.out}${h.err})`);
  const lport = h.out.match(/^connected \S+ (\d+)$/m)[1];
  const line = new RegExp(`^  pid ${h.pid} node 127\\.0\\.0\\.1:${lport} -> 127\\.0\\.0\\.1:${legacy.port}$`, 'm');

  let r = await enforce(d, cg);
  assert.match(r.stdout, /^1 connection\(s\) to protected servers were open before enforcement \(not recorded; --kill-existing closes them\):$/m);
  assert.match(r.stdout, line);
  await sleep(500);
  assert.ok(!/closed|eof/.test(h.out), `enforce without --kill-existing closed the connection: ${h.out}`);

  r = await d.cli(['release', cg]);
  assert.equal(r.code, 0, r.stderr);
  r = await enforce(d, cg, ['--kill-existing']);
  assert.match(r.stdout, /^1 connection\(s\) to protected servers were open before enforcement and have been closed:$/m);
  assert.match(r.stdout, line);
  await until(() => /^closed$/m.test(h.out), `the holder to see its connection closed (out: ${h.out})`, 5000);

  // That connection was never steered, hence never recorded; new ones are.
  const conns = await d.sql(`select count(*) from mcpwarden.connections where ${rowsOf(h)}`);
  assert.equal(conns[0][0], '0');
  const message = `after kill-existing ${uniqueName('m')}`;
  const c = await clientIn(cg, srv.url, { scenario: 'echo', message });
  await waitRows(d, `select 1 from mcpwarden.tool_calls where ${rowsOf(c)} and arguments->>'message' = '${message}'`,
    (x) => x.length === 1, 'the echo call in the newly enforced cgroup');
  assert.equal((await d.cli(['release', cg])).code, 0);
});

test('9b. a connection whose holder then left for a network namespace of its own is listed and closed too', async () => {
  // The socket stays in the namespace it was made in, which the holder's
  // /proc/PID/net no longer shows: bash connects, then unshare execs cat
  // (same pid) reading the socket as its stdin, and cat exits at EOF. As
  // root with unshare -n, and as nobody with unshare -Un where the host
  // lets users make namespaces (Debian does).
  const cg = makeCgroup(uniqueName('mw-test-netns'));
  const holder = (pre, flags) => {
    const argv = [...pre, 'bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${sink.port} && exec unshare ${flags} cat <&3 3<&-`];
    return spawnInCgroup(cg, argv[0], argv.slice(1));
  };
  const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
  const hs = [holder([], '-n')];
  if ((await run(nobody[0], [...nobody.slice(1), 'unshare', '-Un', 'true'])).code === 0) hs.push(holder(nobody, '-Un'));
  const hostNet = fs.readlinkSync('/proc/self/ns/net');
  for (const h of hs) {
    await until(() => {
      try {
        return fs.readFileSync(`/proc/${h.pid}/comm`, 'utf8') === 'cat\n' &&
          fs.readlinkSync(`/proc/${h.pid}/ns/net`) !== hostNet;
      } catch { return false; }
    }, `holder ${h.pid} in a network namespace of its own (err: ${h.err})`);
  }
  const line = (h) => new RegExp(`^  pid ${h.pid} cat 127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:${sink.port}$`, 'm');

  let r = await enforce(d, cg);
  assert.match(r.stdout, new RegExp(`^${hs.length} connection\\(s\\) to protected servers were open before enforcement \\(not recorded; --kill-existing closes them\\):$`, 'm'), r.stdout);
  for (const h of hs) assert.match(r.stdout, line(h));
  for (const h of hs) assert.equal(h.exitCode, null, `enforce without --kill-existing closed the connection: ${h.err}`);

  r = await d.cli(['release', cg]);
  assert.equal(r.code, 0, r.stderr);
  r = await enforce(d, cg, ['--kill-existing']);
  assert.match(r.stdout, new RegExp(`^${hs.length} connection\\(s\\) to protected servers were open before enforcement and have been closed:$`, 'm'), r.stdout);
  for (const h of hs) {
    assert.match(r.stdout, line(h));
    await until(() => h.exitCode !== null, `holder ${h.pid} to see EOF (err: ${h.err})`, 5000);
    assert.equal(h.exitCode, 0, h.err);
  }
  assert.equal((await d.cli(['release', cg])).code, 0);
});

test('10. status lists the enforced cgroup, the protected servers and a live connection; counters move', async () => {
  const s0 = await statusJson();
  const h = spawnHolder(cgA, '127.0.0.1', legacy.port, sseRequest(legacy.port));
  try {
    await until(() => /^endpoint$/m.test(h.out), `the holder's SSE stream through the daemon (out: ${h.out}${h.err})`);
    const s1 = await statusJson();
    assert.ok(s1.enforced.some((e) => e.cgroup === cgA), JSON.stringify(s1.enforced));
    for (const sv of serversConfig()) {
      assert.ok(s1.servers.some((x) => x.name === sv.name && x.address === sv.address),
        `server ${sv.name} ${sv.address} not in ${JSON.stringify(s1.servers)}`);
    }
    const conn = s1.connections.find((x) => x.pid === h.pid);
    assert.ok(conn, `no live connection of pid ${h.pid} in ${JSON.stringify(s1.connections)}`);
    assert.equal(conn.server, 'legacy');
    assert.equal(conn.uid, 0);
    assert.equal(conn.comm, 'node');
    assert.equal(conn.cgroup, cgroupRelPath(cgA));
    for (const k of ['accepted', 'http_requests', 'bytes_from_clients', 'bytes_from_servers']) {
      assert.ok(s1.proxy[k] > s0.proxy[k], `proxy.${k} did not move: ${s0.proxy[k]} -> ${s1.proxy[k]}`);
    }
    assert.ok(s1.proxy.active >= 1, `proxy.active ${s1.proxy.active}`);
    assert.ok(s1.kernel.connect_redirected > s0.kernel.connect_redirected, 'kernel connect_redirected did not move');
    // busy polling is on by default: the daemon's first batches open
    // windows (later ones only while windows catch events)
    assert.equal(s1.busy_poll.window_us, 50);
    assert.ok(s1.busy_poll.windows > 0, `busy_poll ${JSON.stringify(s1.busy_poll)}`);
    assert.ok(s1.busy_poll.caught <= s1.busy_poll.windows, `busy_poll ${JSON.stringify(s1.busy_poll)}`);

    const t = await d.cli(['status']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /^busy polling for 50 us after a batch: \d+ windows, \d+ caught an event$/m);
    assert.match(t.stdout, new RegExp(`^enforced cgroups:\\n(  .*\\n)*  ${cgA}\\n`, 'm'));
    assert.match(t.stdout, new RegExp(`^  legacy +127\\.0\\.0\\.1:${legacy.port}\\b`, 'm'));
    assert.match(t.stdout, new RegExp(`^  #\\d+ node pid ${h.pid} uid 0 \\S+ \\(${cgroupRelPath(cgA)}\\) -> legacy$`, 'm'));
  } finally {
    try { process.kill(h.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  await until(async () => !(await statusJson()).connections.some((x) => x.pid === h.pid),
    'the closed connection to leave status');
});

/** Whether status lists CG as enforced (by its links) and not as waiting. */
async function enforcedNow(dm, cg) {
  const s = await statusJson(dm);
  return s.enforced.some((e) => e.cgroup === cg) && !(s.waiting ?? []).some((w) => w.cgroup === cg);
}

/** Polls status until CG is enforced; resolves the ms it took, or null
 *  after MS (not a failure here: what the client then does says more). */
async function waitEnforced(dm, cg, ms = 5000) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await enforcedNow(dm, cg)) return Date.now() - t0;
    await sleep(20);
  }
  return null;
}

/** Runs an echo client in CG and waits for its call in the trail. */
async function echoRecorded(dm, cg, what) {
  const message = `${what} ${uniqueName('m')}`;
  const c = await clientIn(cg, srv.url, { scenario: 'echo', message });
  assert.equal(c.out.echo.content[0].text, `Echo: ${message}`);
  const rows = await waitRows(dm,
    `select tool, arguments, ${IDENT_COLS} from mcpwarden.tool_calls where ${rowsOf(c)} and tool = 'echo'`,
    (r) => r.length === 1, `the echo call of client pid ${c.pid} (${what}): it connected directly`);
  assertIdentity(rows[0], { pid: c.pid, uid: 0, gid: 0, user: 'root', cgroup: cg });
  return c;
}

test('13. an enforced cgroup removed and made again at its path (a unit restart) is enforced again', async () => {
  const name = uniqueName('mw-test-remade');
  let cg = makeCgroup(name);
  await enforce(d, cg);
  const id0 = fs.statSync(cg).ino;
  await echoRecorded(d, cg, 'before removal');

  // systemd's stop and start: rmdir, then mkdir (a new cgroup, a new id)
  await removeCgroup(cg);
  cg = makeCgroup(name);
  const id1 = fs.statSync(cg).ino;
  assert.notEqual(id1, id0, 'the cgroup made again has a new id');
  const took = await waitEnforced(d, cg);
  await echoRecorded(d, cg, 'in the cgroup made again');
  assert.ok(took !== null, 'status does not list the cgroup made again as enforced');
  const st = await statusJson();
  assert.ok(st.enforced.some((e) => e.cgroup === cg && e.id === id1), JSON.stringify(st.enforced));
  assert.match(d.log(), new RegExp(`enforce ${cg} again: the cgroup was made again \\(id ${id1}, was ${id0}\\)`));
  // on record as an enforce the daemon carried out itself
  const acts = await waitRows(d,
    `select command, decision, pid, comm from mcpwarden.control_actions
      where detail like 'enforce ${cg} again: the cgroup was made again%'`,
    (r) => r.length === 1, 'the control event of the enforce carried out again');
  assert.deepEqual(acts[0], { command: 'enforce', decision: 'allow', pid: d.proc.pid, comm: 'mcpwardend' });

  // Gone: status says it waits (JSON and text); release forgets it.
  await removeCgroup(cg);
  const w = await until(async () => (await statusJson()).waiting?.find((x) => x.cgroup === cg),
    'status to show the removed cgroup as waiting');
  assert.deepEqual(w, { cgroup: cg, last_id: id1, state: 'waiting' });
  assert.ok(!(await statusJson()).enforced.some((e) => e.cgroup === cg));
  assert.match(d.log(), new RegExp(`ALERT \\(AC-3\\): the enforced cgroup ${cg} is gone \\(id ${id1}\\)`));
  const t = await d.cli(['status']);
  assert.match(t.stdout, new RegExp(`^  ${cg}\\n    WAITING: the cgroup is gone \\(was id ${id1}\\); ` +
    'enforced again as soon as it is made again$', 'm'));
  const r = await d.cli(['release', cgroupRelPath(cg)]);
  assert.equal(r.code, 0, `release of a cgroup that is gone: ${r.stdout}${r.stderr}`);
  assert.match(r.stdout, new RegExp(`^released ${cg}$`, 'm'));
  assert.ok(!(await statusJson()).waiting.some((x) => x.cgroup === cg), 'still waiting after release');
  // ...and made again after the release, it is not enforced
  cg = makeCgroup(name);
  await settled();
  const n0 = await rowCounts();
  const m = `released while gone ${uniqueName('m')}`;
  const c = await clientIn(cg, srv.url, { scenario: 'echo', message: m });
  assert.equal(c.out.echo.content[0].text, `Echo: ${m}`);
  await sleep(1500); // past a re-check of the daemon's
  assert.ok(!(await enforcedNow(d, cg)), 'a released cgroup was enforced again when made again');
  await settled();
  assert.deepEqual(await rowCounts(), n0, 'rows were added for a released cgroup');
});

test('13b. a slice removed with its unit and both made again: the unit is enforced again', async () => {
  const slice = uniqueName('mw-test-slice');
  makeCgroup(slice);
  let unit = makeCgroup(`${slice}/agent.service`);
  await enforce(d, unit);
  // the watch above the unit goes with the slice, and the next one up
  // must see the slice come back, then the unit (made at once: mkdir -p)
  await removeCgroup(unit);
  await removeCgroup(path.dirname(unit));
  await until(async () => (await statusJson()).waiting?.some((x) => x.cgroup === unit),
    'status to show the unit as waiting');
  makeCgroup(slice);
  unit = makeCgroup(`${slice}/agent.service`);
  const took = await waitEnforced(d, unit);
  await echoRecorded(d, unit, 'in a unit made again with its slice');
  assert.ok(took !== null, 'status does not list the unit made again as enforced');
  assert.equal((await d.cli(['release', unit])).code, 0);
});

test('13c. a removed enforced cgroup does not block release of another (its links turned defunct)', async () => {
  const a = makeCgroup(uniqueName('mw-test-keep'));
  const b = makeCgroup(uniqueName('mw-test-gone'));
  await enforce(d, a);
  await enforce(d, b);
  await removeCgroup(b);
  // the kernel frees the cgroup and detaches its links soon after; the
  // daemon drops such links every 10 s, and a release meanwhile must not
  // take them for pins it cannot read
  await sleep(1500);
  const r = await d.cli(['release', a]);
  assert.equal(r.code, 0, `release refused: ${r.stdout}${r.stderr}`);
  assert.equal((await d.cli(['release', b])).code, 0);
  assert.ok(!(await statusJson()).waiting.some((x) => x.cgroup === b));
});

test('14. across a restart of the daemon: a cgroup gone waits, and one made again while down is enforced at start', async () => {
  const name = uniqueName('mw-test-remade-restart');
  let cg = makeCgroup(name);
  let ds = await startDaemon({ servers: serversConfig() });
  const config = ds.config;
  extraDaemons.push(ds);
  try {
    await enforce(ds, cg);
    const id0 = fs.statSync(cg).ino;

    // removed, then the daemon restarted while it is away
    await removeCgroup(cg);
    assert.deepEqual(await ds.stop(), { code: 0, signal: null }, ds.log());
    ds = await startDaemon(config);
    extraDaemons.push(ds);
    const w = await until(async () => (await statusJson(ds)).waiting?.find((x) => x.cgroup === cg),
      'status after the restart to show the cgroup as waiting');
    assert.deepEqual(w, { cgroup: cg, last_id: id0, state: 'waiting' });
    assert.match(ds.log(), new RegExp(`ALERT \\(AC-3\\): the enforced cgroup ${cg} is gone \\(id ${id0}\\)`));
    cg = makeCgroup(name);
    const id1 = fs.statSync(cg).ino;
    const took = await waitEnforced(ds, cg);
    await echoRecorded(ds, cg, 'made again after the restart');
    assert.ok(took !== null, 'status does not list the cgroup made again as enforced');

    // removed and made again while the daemon is down: enforced at its start
    assert.deepEqual(await ds.stop(), { code: 0, signal: null }, ds.log());
    await removeCgroup(cg);
    cg = makeCgroup(name);
    const id2 = fs.statSync(cg).ino;
    ds = await startDaemon(config);
    extraDaemons.push(ds);
    assert.ok(await enforcedNow(ds, cg), `not enforced at start: ${JSON.stringify((await statusJson(ds)).enforced)}`);
    assert.match(ds.log(), new RegExp(`enforce ${cg} again: the cgroup was made again \\(id ${id2}, was ${id1}\\)`));
    await echoRecorded(ds, cg, 'made again while the daemon was down');
    assert.equal((await ds.cli(['release', cg])).code, 0);
  } finally {
    await ds.cleanup();
  }
});

test('5. restart under enforcement: refused while down, recorded again after, sequence continues', async () => {
  const m1 = `before restart ${uniqueName('m')}`;
  const c1 = await clientIn(cgA, srv.url, { scenario: 'echo', message: m1 });
  await waitRows(d, `select 1 from mcpwarden.tool_calls where ${rowsOf(c1)} and tool = 'echo'`,
    (x) => x.length === 1, 'the echo call before the restart');
  await settled();
  const before1 = await d.sqlObjects('select seq, method, tool, tgid, arguments from mcpwarden.tool_calls order by seq');
  const [[maxBefore]] = await d.sql('select max(seq) from mcpwarden.events');

  const foreign0 = (await statusJson()).kernel.connect_refused_foreign;
  const old = d;
  const ex = await old.stop();
  assert.deepEqual(ex, { code: 0, signal: null }, `SIGTERM: the daemon did not exit cleanly:\n${old.log()}`);
  assert.ok(fs.existsSync(old.config.bpf_pin_dir), 'the bpf pins are gone after the daemon stopped');

  // Down: the enforced cgroup is refused, over IPv4 and IPv6, and never
  // reaches the server directly.
  const logLen = srv.log().length;
  await assert.rejects(runClient(srv.url, { cgroup: cgA, scenario: 'echo', message: 'while down', timeout: 10000 }),
    /EPERM/);
  await assert.rejects(runClient(`http://[::1]:${srv.port}/mcp`, { cgroup: cgA, scenario: 'echo', timeout: 10000 }),
    /EPERM/);
  const raw = await rawHttp(cgA, '127.0.0.1', srv.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(raw.error, 'EPERM', JSON.stringify(raw));
  // Nobody stands in for the daemon: not a process that got its pid
  // back, nor a socket with the mark its upstream sockets once carried,
  // nor a listener on its free port (it would read what is steered).
  let probe;
  for (let i = 0; i < 5 && probe?.pid !== old.proc.pid; i++)
    probe = await connectProbe(cgA, srv.port, { pid: old.proc.pid });
  assert.deepEqual(probe, { pid: old.proc.pid, result: 'Operation not permitted' });
  probe = await connectProbe(cgA, srv.port, { mark: 0x6d770001 });
  assert.equal(probe.result, 'Operation not permitted');
  const squatter = net.createServer((s) => s.destroy());
  let squatted = 0;
  squatter.on('connection', () => squatted++);
  await new Promise((res) => squatter.listen(Number(old.config.listen.split(':')[1]), '127.0.0.1', res));
  try {
    probe = await connectProbe(cgA, srv.port, {});
    assert.equal(probe.result, 'Operation not permitted');
    assert.equal(squatted, 0, 'a connection was steered to a listener that is not the daemon');
  } finally {
    await new Promise((res) => squatter.close(res));
  }
  // Root's listener above was let through; another user may not take the
  // port at all (it would keep the daemon from starting again), at its
  // address or a wildcard, over IPv4 or IPv6.
  const port = Number(old.config.listen.split(':')[1]);
  for (const host of ['127.0.0.1', '0.0.0.0', '::']) {
    const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e',
      `require('net').createServer().on('error', (e) => { console.log(e.code); process.exit(0); })
        .listen(${port}, '${host}', () => { console.log('listening'); process.exit(0); })`], { encoding: 'utf8' });
    assert.equal(r.stdout.trim(), 'EPERM', `nobody listening on ${host}:${port}: ${r.stdout}${r.stderr}`);
  }
  assert.equal(srv.log().slice(logLen), '', 'the server saw a request while the daemon was down');
  // ...while outside the cgroup everything still works.
  await runClient(srv.url, { scenario: 'list' });

  d = await startDaemon(old.config);
  const st = await statusJson();
  // refused for the daemon being down, each once: not also as a socket
  // made outside (the guard on the root cgroup runs after)
  assert.ok(st.kernel.connect_refused_down >= 5, JSON.stringify(st.kernel));
  assert.equal(st.kernel.connect_refused_foreign, foreign0, JSON.stringify(st.kernel));
  assert.ok(st.kernel.bind_refused >= 3, JSON.stringify(st.kernel));
  assert.ok(st.enforced.some((e) => e.cgroup === cgA), `after restart ${cgA} is not enforced: ${JSON.stringify(st.enforced)}`);
  const m2 = `after restart ${uniqueName('m')}`;
  const c2 = await clientIn(cgA, srv.url, { scenario: 'echo', message: m2 });
  assert.equal(c2.out.echo.content[0].text, `Echo: ${m2}`);
  const after2 = await waitRows(d,
    `select seq, method, tool, arguments, response, ${IDENT_COLS} from mcpwarden.tool_calls
      where ${rowsOf(c2)} order by seq`,
    (x) => x.some((r) => r.tool === 'echo' && r.response), 'the echo call after the restart');
  const echo = after2.find((r) => r.tool === 'echo');
  assert.equal(echo.arguments.message, m2);
  assertIdentity(echo, { pid: c2.pid, uid: 0, gid: 0, user: 'root', cgroup: cgA });
  assert.ok(after2.every((r) => Number(r.seq) > Number(maxBefore)), `seq after restart not above ${maxBefore}`);

  // Nothing from before was lost or changed, and the sequence has no holes.
  const kept = await d.sqlObjects(`select seq, method, tool, tgid, arguments from mcpwarden.tool_calls
    where seq <= ${maxBefore} order by seq`);
  assert.deepEqual(kept, before1);
  await settled();
  const [[n, lo, hi]] = await d.sql('select count(*), min(seq), max(seq) from mcpwarden.events');
  assert.equal(lo, '1');
  assert.equal(n, hi, `events seq has holes or duplicates: count ${n}, max ${hi}`);
});

test('12. with busy_poll_us: 0 the loop never polls, and the full scenario gives identical results', async () => {
  const cg = makeCgroup(uniqueName('mw-test-nopoll'));
  const ds = await startDaemon({ busy_poll_us: 0, servers: serversConfig() });
  extraDaemons.push(ds);
  try {
    await enforce(ds, cg);
    const s = await clientIn(cg, srv.url, { scenario: 'full' });
    assert.deepEqual(s.out, directFull, 'no busy polling, Streamable HTTP: output differs from the direct one');
    const l = await clientIn(cg, legacy.url, { scenario: 'full', legacy: true });
    assert.deepEqual(l.out, directLegacy, 'no busy polling, legacy HTTP+SSE: output differs from the direct one');
    const st = await statusJson(ds);
    assert.ok(st.proxy.http_requests > 0, JSON.stringify(st.proxy));
    assert.deepEqual(st.busy_poll, { window_us: 0, windows: 0, caught: 0 });
    const t = await ds.cli(['status']);
    assert.match(t.stdout, /^busy polling off$/m);
  } finally {
    await ds.cleanup();
  }
});

test('11. with splice: true the full scenario gives identical results through the daemon', async () => {
  const cg = makeCgroup(uniqueName('mw-test-splice'));
  const ds = await startDaemon({ splice: true, servers: serversConfig() });
  extraDaemons.push(ds);
  try {
    await enforce(ds, cg);
    const s0 = await statusJson(ds);
    assert.equal(s0.splice, true);
    const s = await clientIn(cg, srv.url, { scenario: 'full' });
    assert.deepEqual(s.out, directFull, 'splice, Streamable HTTP: output differs from the direct one');
    const l = await clientIn(cg, legacy.url, { scenario: 'full', legacy: true });
    assert.deepEqual(l.out, directLegacy, 'splice, legacy HTTP+SSE: output differs from the direct one');
    for (const c of [s, l]) {
      const rows = await waitRows(ds,
        `select method, tool, is_error from mcpwarden.tool_calls where ${rowsOf(c)} order by seq`,
        (r) => r.length >= FULL_CALLS.length && r.every((x) => x.is_error !== null),
        `the requests of client pid ${c.pid} (splice)`);
      assert.deepEqual(rows.map((r) => [r.method, r.tool]), FULL_CALLS);
    }
    const s1 = await statusJson(ds);
    assert.ok(s1.kernel.splice_redirect > 0,
      `splice on, but no message was spliced: kernel counters ${JSON.stringify(s1.kernel)}`);
  } finally {
    await ds.cleanup();
  }
});
