// A peer that hangs up while the daemon still has work on the connection.
// epoll reports a hang-up (or a reset) to a socket every turn, whatever it
// asked for: acted on wrongly, the daemon turns in a busy loop for as long
// as the connection lives. Each case measures the daemon's CPU time.
//
// One daemon for the file (default limits: an 8 MiB JSON body is held
// whole), a raw upstream written here (half-open allowed; /never is never
// answered, /big is a 7 MB JSON answer sent with the server's FIN), clients
// that are perl scripts in the enforced cgroup.
//
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/hangup.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  eachRequest, makeCgroup, runInCgroup, startDaemon, uniqueName, cleanupAll, cgroupRelPath, cpuShare,
} from './helpers.mjs';

let d, cg, up;

function startUpstream() {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    eachRequest(s, (head) => {
      const path = head.split(' ')[1];
      if (path === '/never') return;
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

before(async () => {
  up = await startUpstream();
  d = await startDaemon({ servers: [{ name: 'raw', address: `127.0.0.1:${up.port}` }], default: 'allow' });
  cg = makeCgroup(uniqueName('mw-hangup'));
  const r = await d.cli(['enforce', cgroupRelPath(cg)]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await cleanupAll();
  up?.server.close();
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

test('2. a client that half-closes and reads nothing costs no CPU once the server has answered and closed', async () => {
  // the 7 MB answer is held whole and judged, the server's FIN read; what
  // the client does not read waits, and the server side leaves the loop
  const hex = Buffer.from(post('/big', 3)).toString('hex');
  const client = runInCgroup(cg, 'perl', ['-e', CLIENT, String(up.port), hex, 'half', '6000'], { timeout: 20000 });
  await new Promise((res) => setTimeout(res, 1500));
  const share = await cpuShare(d.proc.pid, 3000);
  const r = await client;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(share < 0.2, `the daemon used ${(share * 100).toFixed(0)}% of a core for a client that does not read`);
});
