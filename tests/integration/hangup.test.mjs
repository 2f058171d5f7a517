// A peer that hangs up while the daemon still has work on the connection.
// epoll reports a hang-up (or a reset) to a socket every turn, whatever it
// asked for: acted on wrongly, the daemon turns in a busy loop for as long
// as the connection lives. Each case measures the daemon's CPU time. A
// peer that takes nothing of what waits for it is given up after
// send_timeout_ms (2 s here), one that finished and waits for an answer that
// never comes gets 504 after idle_timeout_ms (3 s here). And many connections of one user that hold
// bodies cannot take the room every other user's need.
//
// One daemon for the file (default limits: an 8 MiB JSON body is held
// whole; max_buffered_bytes at its least, 64 MiB, a user's share 16 MiB), a raw upstream written here (half-open allowed; /never is never
// answered, /big is a 7 MB JSON answer sent with the server's FIN), one
// that never reads, clients that are perl or node scripts in the enforced
// cgroup.
//
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/hangup.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  eachRequest, makeCgroup, runInCgroup, spawnInCgroup, startDaemon, uniqueName, cleanupAll, cgroupRelPath, cpuShare,
  until,
} from './helpers.mjs';

const SEND_TIMEOUT_MS = 2000;
const IDLE_TIMEOUT_MS = 3000;
const MiB = 1024 * 1024;
let d, cg, up, hole;

function startUpstream() {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    eachRequest(s, (head) => {
      const path = head.split(' ')[1];
      if (path.startsWith('/never')) return;
      if (path === '/die') return s.destroy();
      const text = path === '/big' ? 'B'.repeat(7000000) : 'ok';
      const b = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text }] } });
      const r = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n${b}`;
      if (path === '/big') s.end(r);
      else s.write(r);
    });
  });
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({ port: server.address().port, server })));
}

// Connects with a 4 KiB receive buffer, sends the requests (hex), then
// "close" (the answers meet a closed socket: a reset) or "half" (a
// half-close, and nothing read); exits after ms.
const CLIENT = String.raw`
use Socket;
my ($port, $hex, $how, $ms) = @ARGV;
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
setsockopt($s, SOL_SOCKET, SO_RCVBUF, pack('i', 4096)) or die "SO_RCVBUF: $!";
connect($s, pack_sockaddr_in($port, inet_aton('127.0.0.1'))) or die "connect: $!";
send($s, pack('H*', $hex), 0) or die "send: $!";
if ($how eq 'close') { close($s); } else { shutdown($s, 1); }
select(undef, undef, undef, $ms / 1000);
`;

const post = (path, id) => {
  const body = JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' });
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\nContent-Type: application/json\r\n` +
    `Accept: application/json, text/event-stream\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
};

async function status() {
  const r = await d.cli(['status', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

// Accepts and never reads.
function startHole() {
  const server = net.createServer({ pauseOnConnect: true }, (s) => s.on('error', () => {}));
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({ port: server.address().port, server })));
}

before(async () => {
  up = await startUpstream();
  hole = await startHole();
  d = await startDaemon({
    servers: [{ name: 'raw', address: `127.0.0.1:${up.port}` }, { name: 'hole', address: `127.0.0.1:${hole.port}` }],
    default: 'allow',
    limits: { send_timeout_ms: SEND_TIMEOUT_MS, idle_timeout_ms: IDLE_TIMEOUT_MS, max_buffered_bytes: 64 * MiB },
  });
  cg = makeCgroup(uniqueName('mw-hangup'));
  const r = await d.cli(['enforce', cgroupRelPath(cg)]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await cleanupAll();
  up?.server.close();
  hole?.server.close();
});

test('1. a client that resets while an answer is still owed is dropped at once, without a busy loop', async () => {
  // two pipelined requests and a close: the first answer meets the closed
  // socket (a reset); the second is never answered
  const active0 = (await status()).proxy.active;
  const hex = Buffer.from(post('/mcp', 1) + post('/never', 2)).toString('hex');
  const r = await runInCgroup(cg, 'perl', ['-e', CLIENT, String(up.port), hex, 'close', '0'], { timeout: 10000 });
  assert.equal(r.code, 0, r.stderr);
  const share = await cpuShare(d.proc.pid, 3000);
  assert.ok(share < 0.2, `the daemon used ${(share * 100).toFixed(0)}% of a core for a client that reset`);
  assert.equal((await status()).proxy.active, active0, 'the reset connection is still open');
});

test('2. a client that half-closes and reads nothing costs no CPU, and is closed after send_timeout_ms', async () => {
  // the 7 MB answer is held whole and judged, the server's FIN read; what
  // the client does not read waits (the server side leaves the loop) for
  // send_timeout_ms, then the connection goes, buffers and all
  const active0 = (await status()).proxy.active;
  const hex = Buffer.from(post('/big', 3)).toString('hex');
  const client = runInCgroup(cg, 'perl', ['-e', CLIENT, String(up.port), hex, 'half', '8000'], { timeout: 20000 });
  await new Promise((res) => setTimeout(res, 500));
  const share = await cpuShare(d.proc.pid, SEND_TIMEOUT_MS - 700);
  assert.ok(share < 0.2, `the daemon used ${(share * 100).toFixed(0)}% of a core for a client that does not read`);
  await until(async () => (await status()).proxy.active === active0,
    'the connection of the client that reads nothing to close', SEND_TIMEOUT_MS + 3000);
  assert.match(d.log(), /the client read nothing in send_timeout_ms/);
  const r = await client;
  assert.equal(r.code, 0, r.stderr);
});

// POSTs a ping padded to 7 MB to 127.0.0.1:PORT (Connection: close); prints
// what comes back.
const BIG_POST = String.raw`
const port = Number(process.argv[1]);
const body = JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'ping', params: { pad: 'p'.repeat(7000000) } });
const s = require('net').connect(port, '127.0.0.1', () => s.write('POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:' + port +
  '\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nConnection: close\r\n' +
  'Content-Length: ' + body.length + '\r\n\r\n' + body));
let got = '';
s.on('data', (c) => { got += c; if (/read nothing/.test(got)) s.destroy(); });
s.on('error', () => {});
s.on('close', () => process.stdout.write(got));
`;

test('3. a server that reads nothing of a request: 502 with the reason after send_timeout_ms', async () => {
  const t0 = Date.now();
  const r = await runInCgroup(cg, process.execPath, ['-e', BIG_POST, String(hole.port)], { timeout: 20000 });
  const waited = Date.now() - t0;
  assert.match(r.stdout, /^HTTP\/1\.1 502 [^]*the server read nothing of the request in send_timeout_ms/,
    r.stdout.slice(0, 500));
  assert.ok(waited >= SEND_TIMEOUT_MS && waited < SEND_TIMEOUT_MS + 5000, `answered after ${waited} ms`);
});

// Sends the request (hex), then reads 1 KiB every 50 ms for ms; prints
// the bytes read and whether the daemon closed.
const SLOW_READER = String.raw`
use Socket;
use Time::HiRes qw(sleep time);
my ($port, $hex, $ms) = @ARGV;
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
connect($s, pack_sockaddr_in($port, inet_aton('127.0.0.1'))) or die "connect: $!";
send($s, pack('H*', $hex), 0) or die "send: $!";
my ($got, $closed, $end) = (0, 0, time + $ms / 1000);
while (time < $end) {
  my $n = sysread($s, my $buf, 1024);
  if (!$n) { $closed = 1; last; }
  $got += $n;
  sleep(0.05);
}
print "$got $closed\n";
`;

test('4. a client that reads slowly but steadily is not taken for one that reads nothing', async () => {
  // a full socket turns writable only once much of its buffer drained: the
  // daemon's send() can fail for longer than send_timeout_ms while the
  // client still takes about 20 KB/s
  const hex = Buffer.from(post('/big', 5)).toString('hex');
  const ms = 2 * SEND_TIMEOUT_MS + 2000;
  const r = await runInCgroup(cg, 'perl', ['-e', SLOW_READER, String(up.port), hex, String(ms)], { timeout: ms + 10000 });
  assert.equal(r.code, 0, r.stderr);
  const [got, closed] = r.stdout.trim().split(' ').map(Number);
  assert.equal(closed, 0, `the daemon closed a client that was reading (${got} bytes read)`);
  assert.ok(got > 50000, `${got} bytes read`);
});

// GET /mcp with Connection: close to 127.0.0.1:PORT; prints what comes back.
const GET_CLOSE = String.raw`
const port = Number(process.argv[1]);
const s = require('net').connect(port, '127.0.0.1', () => s.write('GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:' + port +
  '\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n'));
let got = '';
s.on('data', (c) => { got += c; });
s.on('error', () => {});
s.on('close', () => process.stdout.write(got));
`;

// Opens CONNS connections to 127.0.0.1:PORT, each pipelining 32 GETs of
// /never with a 60 KB query (never answered); stays.
const PIPELINER = String.raw`
const [port, conns] = process.argv.slice(1).map(Number);
const q = 'q'.repeat(60000);
for (let i = 0; i < conns; i++) {
  const s = require('net').connect(port, '127.0.0.1', () => {
    for (let j = 0; j < 32; j++)
      s.write('GET /never?' + q + ' HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
  });
  s.on('error', () => {});
}
setInterval(() => {}, 1000);
`;

// Sends a request head and SIZE bytes of its body, never the rest; stays.
const HOLDER = String.raw`
const [port, size] = process.argv.slice(1).map(Number);
const s = require('net').connect(port, '127.0.0.1', () => s.write('POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:' + port +
  '\r\nContent-Type: application/json\r\nContent-Length: ' + (size + 1000) + '\r\n\r\n' +
  '{"jsonrpc":"2.0","id":9,"method":"ping","params":{"pad":"' + 'h'.repeat(size - 50)));
s.on('error', () => {});
setInterval(() => {}, 1000);
`;

test('5. one user\'s connections holding bodies leave the others room: past a quarter of max_buffered_bytes, 503', async () => {
  // each connection's body is bounded (8 MiB); 4,096 connections of them
  // are not: what all hold is bounded, and one uid holds a quarter of it
  // (a buffer grows by doubling: 3 MiB of a body hold 4 MiB)
  const holders = [0, 1, 2].map(() => spawnInCgroup(cg, process.execPath, ['-e', HOLDER, String(up.port),
    String(3 * MiB)]));
  try {
    await until(async () => (await status()).proxy.buffered_bytes >= 12 * MiB, 'the three bodies held', 15000);
    const root = await runInCgroup(cg, process.execPath, ['-e', BIG_POST, String(up.port)], { timeout: 20000 });
    assert.match(root.stdout,
      /^HTTP\/1\.1 503 [^]*uid 0's connections hold all the message bytes they may \(16777216: a quarter of limits\.max_buffered_bytes\)/,
      root.stdout.slice(0, 500));
    // refused at its head, before its body was taken; a JSON-RPC error
    assert.match(root.stdout, /\r\nContent-Type: application\/json\r\n[^]*"error":\{"code":/, root.stdout.slice(0, 500));
        // another user's 7 MB request fits in its own share
    const nobody = await runInCgroup(cg, 'setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups',
      process.execPath, '-e', BIG_POST, String(up.port)], { timeout: 20000 });
    assert.match(nobody.stdout, /^HTTP\/1\.1 200 /, nobody.stdout.slice(0, 500));
    assert.ok((await status()).proxy.buffers_full >= 1);
  } finally {
    for (const h of holders) h.kill('SIGKILL');
  }
  await until(async () => (await status()).proxy.buffered_bytes < MiB, 'the held bodies given back', 10000);
  const again = await runInCgroup(cg, process.execPath, ['-e', BIG_POST, String(up.port)], { timeout: 20000 });
  assert.match(again.stdout, /^HTTP\/1\.1 200 /, again.stdout.slice(0, 500));
  const rows = await d.sqlObjects("select uid, http_path, detail from mcpwarden.http_errors where http_status = 503");
  assert.ok(rows.some((r) => r.uid === 0 && r.http_path === '/mcp' &&
    /^refused request: .*limits\.max_buffered_bytes/.test(r.detail)), JSON.stringify(rows));
});

// Opens N connections, each sending a head of 60 KB that never ends;
// prints how many got a 503 (and the first one), after 4 s.
const HEADS = String.raw`
const net = require('net');
const [port, n] = process.argv.slice(1).map(Number);
let refused = 0, first = '';
for (let i = 0; i < n; i++) {
  const s = net.connect(port, '127.0.0.1', () => s.write('POST /mcp HTTP/1.1\r\nHost: x\r\nX-Pad: ' + 'a'.repeat(60000)));
  let got = '';
  s.on('data', (c) => { got += c; if (/^HTTP\/1\.1 503 /.test(got) && !s.counted) { s.counted = true; refused++; first ||= got; } });
  s.on('error', () => {});
}
setTimeout(() => { console.log(JSON.stringify({ refused, first })); process.exit(0); }, 4000);
`;

test('5b. heads that never end count too: past a user\'s quarter of max_buffered_bytes, 503', async () => {
  // 320 heads of 60 KB (a buffer of 64 KiB each): 20 MiB, past the
  // 16 MiB one uid may hold
  const r = await runInCgroup(cg, process.execPath, ['-e', HEADS, String(up.port), '320'], { timeout: 30000 });
  const { refused, first } = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.ok(refused >= 1, `no head was refused: ${r.stdout.slice(0, 300)}${r.stderr.slice(0, 300)}`);
  assert.match(first, /uid 0's connections hold all the message bytes they may/, first.slice(0, 400));
  assert.ok(refused < 320, 'every head refused');
  await until(async () => (await status()).proxy.buffered_bytes < MiB, 'the heads given back', 10000);
});

test('6. a client that finished while its answer never comes gets 504 and is dropped after idle_timeout_ms', async () => {
  // a killed client's FIN looks like a half-close: with nothing moving
  // either way its exchanges would be held for ever
  const active0 = (await status()).proxy.active;
  const hex = Buffer.from(post('/never', 6)).toString('hex');
  const t0 = Date.now();
  const client = runInCgroup(cg, 'perl', ['-e', CLIENT, String(up.port), hex, 'half', '8000'], { timeout: 20000 });
  await until(async () => (await status()).proxy.active > active0, 'the connection accepted', 5000, 50);
  await until(async () => (await status()).proxy.active === active0, 'the finished client\'s connection to close',
    IDLE_TIMEOUT_MS + 3000, 100);
  const waited = Date.now() - t0;
  assert.ok(waited >= IDLE_TIMEOUT_MS - 500, `closed after ${waited} ms`);
  assert.match(d.log(), /the client finished sending and no answer came in idle_timeout_ms/);
  assert.equal((await client).code, 0);
  // a live client that only half-closed learns why
  const rows = await d.sqlObjects("select count(*)::int as n from mcpwarden.http_errors where http_status = 504 " +
    "and detail like 'the client finished sending%'");
  assert.ok(rows[0].n >= 1, JSON.stringify(rows));
});

test('6b. so is one whose FIN waits behind requests the daemon no longer reads (a full pipeline)', async () => {
  // 33 requests: the daemon stops reading at 32 in flight, and only the
  // socket's TCP state (CLOSE_WAIT) tells that the client finished
  const active0 = (await status()).proxy.active;
  let reqs = '';
  for (let i = 0; i < 33; i++) reqs += post('/never', 100 + i);
  const client = runInCgroup(cg, 'perl', ['-e', CLIENT, String(up.port), Buffer.from(reqs).toString('hex'), 'half',
    String(IDLE_TIMEOUT_MS + 5000)], { timeout: 20000 });
  await until(async () => (await status()).proxy.active > active0, 'the connection accepted', 5000, 50);
  await until(async () => (await status()).proxy.active === active0, 'the finished client\'s connection to close',
    IDLE_TIMEOUT_MS + 3000, 100);
  assert.equal((await client).code, 0);
});

// Sends the requests (hex) and prints everything that comes back, until
// the daemon closes (or 8 s).
const READ_ALL = String.raw`
const s = require('net').connect(Number(process.argv[1]), '127.0.0.1', () => s.write(Buffer.from(process.argv[2], 'hex')));
let got = '';
s.on('data', (c) => { got += c.toString('latin1'); });
s.on('close', () => { process.stdout.write(got); process.exit(0); });
s.on('error', () => {});
setTimeout(() => { process.stdout.write(got + '\n[timeout]'); process.exit(0); }, 8000);
`;

test('6c. a server that fails with answers queued: each request is answered in its place', async () => {
  // forwarded, answered here (not JSON), forwarded; the server hangs up on
  // the first: its 502 must come first, not the local answer
  const bad = 'POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
    'Accept: application/json, text/event-stream\r\nContent-Length: 4\r\n\r\nnope';
  const hex = Buffer.from(post('/die', 61) + bad + post('/never', 62)).toString('hex');
  const r = await runInCgroup(cg, process.execPath, ['-e', READ_ALL, String(up.port), hex], { timeout: 20000 });
  const statuses = [...r.stdout.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
  assert.equal(statuses[0], 502, r.stdout.slice(0, 600));
  if (statuses.length > 1) assert.equal(statuses[1], 400, r.stdout.slice(0, 600));
  assert.ok(!r.stdout.includes('[timeout]'), 'the connection was left open');
});

test('7. requests without a body count too: a user whose queued exchanges fill its quarter gets 503 for the next', async () => {
  // 10 connections x 32 pipelined GETs with 60 KB targets, never answered:
  // their exchanges hold about 19 MiB, past root's 16 MiB
  const p = spawnInCgroup(cg, process.execPath, ['-e', PIPELINER, String(up.port), '10']);
  try {
    await until(async () => (await status()).proxy.buffers_full > 0 &&
      (await status()).proxy.buffered_bytes > 15 * MiB, 'root\'s quarter filled by exchanges', 15000);
    const st = await status();
    assert.ok(st.proxy.buffered_bytes < 17 * MiB, `held ${st.proxy.buffered_bytes} bytes past root's 16 MiB`);
    const get = await runInCgroup(cg, process.execPath, ['-e', GET_CLOSE, String(up.port)], { timeout: 10000 });
    assert.match(get.stdout, /^HTTP\/1\.1 503 [^]*uid 0's connections hold all the message bytes they may/,
      get.stdout.slice(0, 500));
  } finally {
    // (its connections go when the kernel gives up on the orphaned
    // sockets, whose unsent requests the daemon no longer reads)
    p.kill('SIGKILL');
  }
});
