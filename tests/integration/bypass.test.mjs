// Ways around the steering that are closed: the kernel hooks run where a
// socket was made and for the addresses the daemon knows, so a client in
// an enforced cgroup could reach a protected server through an address
// that appeared after the start, or with a socket made outside its
// cgroup; and a process could be credited with a program it named itself
// after and exec'd once connected. Nor may a caller of the control socket,
// which a process under enforcement reaches, hold the daemon's one thread.
// (A dead daemon's pid, its old socket mark and its free port are
// in daemon.test.mjs, test 5.)
//
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/bypass.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CLI_BIN, auditSettled, eachRequest, makeCgroup, rowsOf, run, runInCgroup, spawnInCgroup, startDaemon, statusJson,
  uniqueName, cleanupAll, cgroupRelPath, until, waitExit,
} from './helpers.mjs';

const NEW_ADDR = '198.18.0.77'; // benchmarking range (RFC 2544): nobody's
const DOWN_ADDR = '198.18.0.78'; // added while the daemon is down
const MANY = 100; // 198.18.1.1 to .100: a host with more addresses than 64
const LATE_ADDR = '198.18.2.1'; // added while a full list is pinned
let d, cg, up;

// Answers every request, on every address (0.0.0.0).
function startUpstream() {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    eachRequest(s, () => {
      const b = JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} });
      s.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n${b}`);
    });
  });
  return new Promise((res) => server.listen(0, '0.0.0.0', () => res({ port: server.address().port, server })));
}

// POSTs a ping to HOST:PORT; prints its pid and the status line.
const CLIENT = String.raw`
const [host, port] = process.argv.slice(1);
const b = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
const s = require('net').connect(Number(port), host, () => s.write('POST /mcp HTTP/1.1\r\nHost: ' + host +
  '\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nConnection: close\r\n' +
  'Content-Length: ' + b.length + '\r\n\r\n' + b));
let got = '';
s.on('data', (c) => { got += c; });
s.on('error', (e) => { got = 'error ' + e.code; });
s.on('close', () => console.log(process.pid + ' ' + got.split('\r\n')[0]));
`;

before(async () => {
  up = await startUpstream();
  d = await startDaemon({ servers: [{ name: 'local', address: `127.0.0.1:${up.port}` }], default: 'allow' });
  cg = makeCgroup(uniqueName('mw-bypass'));
  const r = await d.cli(['enforce', cgroupRelPath(cg)]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await run('ip', ['addr', 'del', `${NEW_ADDR}/32`, 'dev', 'lo']);
  await run('ip', ['addr', 'del', `${DOWN_ADDR}/32`, 'dev', 'lo']);
  await run('ip', ['addr', 'del', `${LATE_ADDR}/32`, 'dev', 'lo']);
  await run('sh', ['-c', `for i in $(seq 1 ${MANY}); do ip addr del 198.18.1.$i/32 dev lo; done 2>/dev/null; true`]);
  await cleanupAll();
  up?.server.close();
});

test('an address added to the host after the start protects the local server too', async () => {
  const r = await run('ip', ['addr', 'add', `${NEW_ADDR}/32`, 'dev', 'lo']);
  assert.equal(r.code, 0, `ip addr add: ${r.stderr}`);
  // the netlink notification is asynchronous: give it a moment (what is
  // asserted is what a client then gets, below)
  await until(() => /protecting \d+ new local address/.test(d.log()), 'the new address noticed', 3000)
    .catch(() => {});
  const c = await runInCgroup(cg, process.execPath, ['-e', CLIENT, NEW_ADDR, String(up.port)], { timeout: 10000 });
  const [pid, ...status] = c.stdout.trim().split(' ');
  assert.equal(status.join(' '), 'HTTP/1.1 200 OK', c.stdout + c.stderr);
  let rows = [];
  await until(async () => {
    rows = await d.sqlObjects(`select method, server from mcpwarden.tool_calls where ${rowsOf({ pid, since: c.since })}`);
    return rows.length === 1;
  }, `the ping through ${NEW_ADDR} recorded (${JSON.stringify(rows)}; ${pid})`, 10000);
  assert.deepEqual(rows, [{ method: 'ping', server: 'local' }]);
  assert.match(d.log(), /protecting 1 new local address/);
});

// Makes a TCP socket, then moves itself into the cgroup (its path) and
// connects the socket to HOST:PORT (127.0.0.1 by default); prints
// "connected" or the error.
const PREMOVE = String.raw`
use Socket;
my ($cg, $port, $host) = @ARGV;
$host //= '127.0.0.1';
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
open(my $f, '>', "$cg/cgroup.procs") or die "cgroup.procs: $!";
print $f "$$\n";
close($f) or die "move: $!";
print connect($s, pack_sockaddr_in($port, inet_aton($host))) ? "connected\n" : "$!\n";
`;

test('a socket made outside the enforced cgroup is refused when a process inside connects it', async () => {
  // the cgroup hooks run for the cgroup a socket was made in: the guard
  // on the root cgroup refuses what they cannot steer
  const r = await run('perl', ['-e', PREMOVE, cg, String(up.port)]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'Operation not permitted');
  const st = JSON.parse((await d.cli(['status', '--json'])).stdout);
  assert.ok(st.kernel.connect_refused_foreign >= 1, JSON.stringify(st.kernel));
});

// Opens N connections to 127.0.0.1:PORT, prints "open" once all are
// connected, and holds them without a word until killed.
const HOLD = String.raw`
const [port, n] = process.argv.slice(1).map(Number);
let up = 0;
for (let i = 0; i < n; i++) {
  require('net').connect(port, '127.0.0.1', () => { if (++up === n) console.log('open'); }).on('error', (e) => {
    console.log('error ' + e.code);
  });
}
setInterval(() => {}, 1000);
`;

test('a connection the daemon holds keeps no kernel record that clients could pile up', async () => {
  // the kernel's records of steered connections are shared by every
  // client: a client holding connections (idle, or in CLOSE_WAIT once the
  // daemon closed them) must not use them up for the others
  const p = spawnInCgroup(cg, process.execPath, ['-e', HOLD, String(up.port), '3']);
  try {
    await until(() => /^open$/m.test(p.out) || (/^error/m.test(p.out) && Promise.reject(new Error(p.out))),
      'the connections open', 10000, 20);
    let st;
    await until(async () => {
      st = JSON.parse((await d.cli(['status', '--json'])).stdout);
      return st.connections.filter((x) => x.pid === p.pid).length === 3;
    }, 'the daemon to hold the three connections', 10000);
    assert.deepEqual(st.kernel_connections.filter((x) => x.pid === p.pid), [],
      'records of connections the daemon has accepted are still in the kernel map');
  } finally {
    p.kill('SIGKILL');
  }
});

test('enforce refuses a cgroup nested deeper than the guard looks', async () => {
  // the guard walks 32 levels of the caller's ancestry: deeper, a socket
  // made outside would not be refused
  const parts = Array.from({ length: 32 }, (_, i) => `l${i}`);
  const top = makeCgroup(uniqueName('mw-deep'));
  const deep = path.join(top, ...parts);
  fs.mkdirSync(deep, { recursive: true });
  try {
    const r = await d.cli(['enforce', deep]);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr + r.stdout, /nested deeper than the guard looks \(32 levels\)/);
  } finally {
    for (let p = deep; p !== top; p = path.dirname(p)) fs.rmdirSync(p);
  }
});

test('enforce refuses a cgroup in a subtree delegated to a user, whose processes could leave it', async () => {
  // delegated as systemd does it (user@UID.service): the subtree's
  // directories and migration files belong to the user
  const top = makeCgroup(uniqueName('mw-deleg'));
  const agent = path.join(top, 'agent');
  fs.mkdirSync(agent);
  try {
    // delegated after it was enforced: status says it is open
    assert.equal((await d.cli(['enforce', agent])).code, 0);
    for (const dir of [top, agent]) {
      for (const f of ['', 'cgroup.procs', 'cgroup.threads', 'cgroup.subtree_control']) {
        fs.chownSync(path.join(dir, f), 65534, 65534);
      }
    }
    const entry = (await statusJson(d)).enforced.find((e) => e.cgroup === agent);
    assert.deepEqual([entry.delegated_to, entry.enforce_instead], ['uid 65534', top], JSON.stringify(entry));
    const text = await d.cli(['status']);
    assert.ok(text.stdout.includes(`OPEN: in a subtree delegated to uid 65534, whose processes can leave it; enforce ${top} instead`),
      text.stdout);
    assert.equal((await d.cli(['release', agent])).code, 0);
    // what enforcing agent would leave open: a process of the user in it
    // moves itself out, to a cgroup nothing steers
    const esc = await runInCgroup(agent, 'setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c',
      'echo $$ > "$1/cgroup.procs" && grep "^0::" /proc/self/cgroup', 'sh', top]);
    assert.equal(esc.stdout.trim(), `0::${cgroupRelPath(top)}`, esc.stderr);
    const r = await d.cli(['enforce', agent]);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr + r.stdout,
      new RegExp(`delegated to uid 65534 .*could move themselves out of enforcement; enforce ${top} instead`));
    // its delegated root can be enforced: the user cannot move a process
    // above it
    const t = await d.cli(['enforce', top]);
    assert.equal(t.code, 0, t.stderr);
    const u = await d.cli(['release', top]);
    assert.equal(u.code, 0, u.stderr);
  } finally {
    fs.rmdirSync(agent);
  }
});

// Takes the name "sleep" (prctl PR_SET_NAME, as perl's $0 does), connects
// to 127.0.0.1:PORT, prints its pid and execs /usr/bin/sleep with the
// socket still open.
const RENAME_EXEC = String.raw`
use Socket;
my ($port) = @ARGV;
$^F = 1000; # no close-on-exec: the connection outlives the exec
$0 = 'sleep';
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
connect($s, pack_sockaddr_in($port, inet_aton('127.0.0.1'))) or die "connect: $!";
$| = 1;
print "$$\n";
exec('/usr/bin/sleep', '10') or die "exec: $!";
`;

test('a process named after a program and exec\'ing it after connect() is not credited with it', async () => {
  // /proc/PID/exe is read at accept; the daemon is held still so that the
  // accept comes after the exec. The kernel recorded the image that
  // connected: the name matches, the image does not.
  process.kill(d.proc.pid, 'SIGSTOP');
  let pid;
  let since;
  try {
    const p = spawnInCgroup(cg, 'perl', ['-e', RENAME_EXEC, String(up.port)]);
    since = p.since;
    pid = Number(await until(() => p.out.match(/^(\d+)\n/)?.[1] ?? (p.exitCode !== null && Promise.reject(
      new Error(`probe exited: ${p.err}`))), 'the probe connected', 5000, 20));
    await until(() => { try { return fs.readlinkSync(`/proc/${pid}/exe`) === '/usr/bin/sleep'; } catch { return false; } },
      'the exec', 5000, 20);
  } finally {
    process.kill(d.proc.pid, 'SIGCONT');
  }
  const rows = await until(async () => {
    const r = await d.sqlObjects(`select comm, exe from mcpwarden.connections where ${rowsOf({ pid, since })}`);
    return r.length ? r : null;
  }, 'the connection recorded', 10000);
  assert.equal(rows[0].comm, 'sleep');
  assert.ok(!rows[0].exe, `credited with ${rows[0].exe}`);
});

// As nobody, in a user and mount namespace of its own, binds perl over
// /usr/bin/sleep and runs it under that name: connects to 127.0.0.1:PORT,
// prints its pid and the status line of a ping's answer.
const BOUND_OVER = String.raw`
use Socket;
my $port = shift;
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
connect($s, pack_sockaddr_in($port, inet_aton('127.0.0.1'))) or die "connect: $!";
my $b = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
send($s, "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" .
  "Accept: application/json, text/event-stream\r\nConnection: close\r\nContent-Length: " . length($b) . "\r\n\r\n$b", 0)
  or die "send: $!";
my $line = <$s>;
$line =~ s/\r?\n$//;
print "$$ $line\n";
`;

test('a program bound over another in a mount namespace of the client\'s own is not credited with its path', async () => {
  // /proc/PID/exe gives the path as the process sees it; the daemon checks
  // that the path names the same file in its own view
  const r = await runInCgroup(cg, 'setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'unshare', '-Urm',
    'sh', '-c', 'mount --bind /usr/bin/perl /usr/bin/sleep && exec /usr/bin/sleep -e "$0" "$1"', BOUND_OVER,
    String(up.port)], { timeout: 10000 });
  assert.equal(r.code, 0, r.stderr);
  const m = r.stdout.trim().match(/^(\d+) HTTP\/1\.1 200/);
  assert.ok(m, `not steered and answered: ${r.stdout}`);
  const rows = await until(async () => {
    const x = await d.sqlObjects(`select comm, exe from mcpwarden.connections where ${rowsOf({ pid: m[1], since: r.since })}`);
    return x.length ? x : null;
  }, 'the connection recorded', 10000);
  assert.equal(rows[0].comm, 'sleep');
  assert.ok(!rows[0].exe, `credited with ${rows[0].exe}`);
});

// probes/setexe.c, built for the test: a process that gives itself
// /usr/bin/sleep as its executable without running it, then connects.
async function buildSetexe() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-setexe-'));
  fs.chmodSync(dir, 0o755);
  const bin = path.join(dir, 'setexe');
  const r = await run('cc', ['-O2', '-o', bin, fileURLToPath(new URL('probes/setexe.c', import.meta.url))]);
  assert.equal(r.code, 0, r.stderr);
  return bin;
}

// The row recorded for the connection of a setexe probe (which prints its
// pid once connected), once it says it took /usr/bin/sleep; kills it.
async function recordedExe(p) {
  try {
    const pid = Number(await until(() => p.out.match(/^(\d+)\n/)?.[1] ?? (p.exitCode !== null && Promise.reject(
      new Error(`probe exited: ${p.err}`))), 'the probe connected', 10000, 20));
    assert.match(p.err, /exe now \/usr\/bin\/sleep/);
    const rows = await until(async () => {
      const x = await d.sqlObjects(`select exe from mcpwarden.connections where ${rowsOf({ pid, since: p.since })}`);
      return x.length ? x : null;
    }, 'the connection recorded', 10000);
    return rows[0];
  } finally {
    p.kill('SIGKILL');
  }
}

for (const mode of ['self', 'vm']) {
  test(`an executable swapped in without exec (PR_SET_MM_MAP, ${mode === 'self' ? 'in a user namespace of its own' :
    'by a CLONE_VM child in one'}) is not credited`, {
    skip: process.arch !== 'x64' && 'the probe unmaps itself with x86-64 code (probes/setexe.c)',
  }, async () => {
    // the address space, its exec count and its start are the same at
    // connect() and at accept, but the file was not opened by an exec
    const bin = await buildSetexe();
    try {
      const p = spawnInCgroup(cg, 'setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', bin, mode,
        '/usr/bin/sleep', String(up.port)]);
      const row = await recordedExe(p);
      assert.ok(!row.exe, `credited with ${row.exe}`);
    } finally {
      fs.rmSync(path.dirname(bin), { recursive: true, force: true });
    }
  });
}

test('a program the kernel opened to run, handed over by binfmt_misc in a user namespace of its own, is not credited', {
  skip: process.arch !== 'x64' && 'the probe unmaps itself with x86-64 code (probes/setexe.c)',
}, async () => {
  // binfmt_misc's "O" flag gives the interpreter the file opened for the
  // exec (__FMODE_EXEC), which PR_SET_MM_MAP takes as the executable:
  // processes in a user namespace of their own are not vouched for
  const bin = await buildSetexe();
  try {
    // the magic: the 8 bytes of /usr/bin/sleep's entry address (offset 24)
    const magic = [...fs.readFileSync('/usr/bin/sleep').subarray(24, 32)]
      .map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
    const mnt = path.join(path.dirname(bin), 'binfmt');
    fs.mkdirSync(mnt);
    const script = 'mount -t binfmt_misc none "$1" && ' +
      `printf '%s' ':mwx:M:24:${magic}::${bin}:O' > "$1/register" && exec /usr/bin/sleep 10`;
    const p = spawnInCgroup(cg, 'setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'unshare', '-Urm',
      'sh', '-c', script, 'sh', mnt], { env: { MW_PORT: String(up.port) } });
    const row = await recordedExe(p);
    assert.ok(!row.exe, `credited with ${row.exe}`);
  } finally {
    fs.rmSync(path.dirname(bin), { recursive: true, force: true });
  }
});

// Connects to HOST:PORT; prints "connected" or the error's code.
const CONNECT = String.raw`
const [host, port] = process.argv.slice(1);
require('net').connect(Number(port), host, () => { console.log('connected'); process.exit(0); })
  .on('error', (e) => { console.log(e.code); process.exit(0); });
`;

test('an address added while the daemon is down does not reach the local server unrecorded', async () => {
  // nobody follows the host's addresses while the daemon is down: the
  // local server's port is refused at any address it had not listed
  const old = d;
  await old.stop();
  try {
    const r = await run('ip', ['addr', 'add', `${DOWN_ADDR}/32`, 'dev', 'lo']);
    assert.equal(r.code, 0, `ip addr add: ${r.stderr}`);
    const c = await runInCgroup(cg, process.execPath, ['-e', CONNECT, DOWN_ADDR, String(up.port)], { timeout: 10000 });
    assert.equal(c.stdout.trim(), 'EPERM', c.stdout + c.stderr);
    // and so is a socket made outside the cgroup, connected from inside
    const f = await run('perl', ['-e', PREMOVE, cg, String(up.port), DOWN_ADDR]);
    assert.equal(f.stdout.trim(), 'Operation not permitted', f.stdout + f.stderr);
    // outside the enforced cgroup the address answers: it was the
    // enforcement that refused
    const o = await run(process.execPath, ['-e', CONNECT, DOWN_ADDR, String(up.port)], { timeout: 10000 });
    assert.equal(o.stdout.trim(), 'connected', o.stdout + o.stderr);
  } finally {
    d = await startDaemon(old.config);
  }
  // back up, the daemon lists the address and the call is recorded
  const c = await runInCgroup(cg, process.execPath, ['-e', CLIENT, DOWN_ADDR, String(up.port)], { timeout: 10000 });
  const [pid, ...status] = c.stdout.trim().split(' ');
  assert.equal(status.join(' '), 'HTTP/1.1 200 OK', c.stdout + c.stderr);
  await until(async () => (await d.sqlObjects(`select 1 from mcpwarden.tool_calls where ${rowsOf({ pid, since: c.since })}`))
    .length === 1, `the ping through ${DOWN_ADDR} recorded`, 10000);
});

// Connects to HOST:PORT and holds the connection; prints "connected".
const HOLD_AT = String.raw`
const [host, port] = process.argv.slice(1);
const s = require('net').connect(Number(port), host, () => console.log('connected'));
s.on('error', (e) => console.log(e.code));
setTimeout(() => {}, 60000);
`;

test('a host with more addresses than 64 protects the local server at each, from the start', async () => {
  // a container host has a link-local address per veth; each address of
  // the host is listed once for every local server
  const r = await run('sh', ['-c', `for i in $(seq 1 ${MANY}); do ip addr add 198.18.1.$i/32 dev lo || exit 1; done`]);
  assert.equal(r.code, 0, `ip addr add: ${r.stderr}`);
  const old = d;
  await old.stop();
  d = await startDaemon(old.config);
  const st = await statusJson(d);
  for (const a of ['127.0.0.1', '::1', '0.0.0.0', '::', '198.18.1.1', `198.18.1.${MANY}`]) {
    assert.ok(st.local_addresses.includes(a), `${a} not listed: ${st.local_addresses.length} listed`);
  }
  assert.ok(st.local_addresses.length > MANY, String(st.local_addresses.length));
  const text = await d.cli(['status']);
  assert.match(text.stdout, new RegExp(`\\(local: every local address, ${st.local_addresses.length} listed\\)`));
  for (const addr of ['198.18.1.1', `198.18.1.${MANY}`]) {
    const c = await runInCgroup(cg, process.execPath, ['-e', CLIENT, addr, String(up.port)], { timeout: 10000 });
    const [pid, ...status] = c.stdout.trim().split(' ');
    assert.equal(status.join(' '), 'HTTP/1.1 200 OK', c.stdout + c.stderr);
    await until(async () => (await d.sqlObjects(`select 1 from mcpwarden.tool_calls where ${rowsOf({ pid, since: c.since })}`))
      .length === 1, `the ping through ${addr} recorded`, 10000);
  }
  // enforce finds a connection opened before it at such an address
  const cg2 = makeCgroup(uniqueName('mw-bypass-many'));
  const h = spawnInCgroup(cg2, process.execPath, ['-e', HOLD_AT, `198.18.1.${MANY}`, String(up.port)]);
  await until(() => /^connected$/m.test(h.out), `the holder connected (${h.out}${h.err})`, 10000);
  const e = await d.cli(['enforce', cgroupRelPath(cg2)]);
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stdout, /^1 connection\(s\) to protected servers were open before enforcement/m);
  assert.match(e.stdout, new RegExp(`-> 198\\.18\\.1\\.${MANY}:${up.port}$`, 'm'));
  assert.equal((await d.cli(['release', cgroupRelPath(cg2)])).code, 0);
  h.kill('SIGKILL');

  // a restart over a list full of addresses the host no longer has (a
  // container host's veths come and go): the new list takes their place
  const old2 = d;
  await old2.stop();
  const pinned = path.join(old2.config.bpf_pin_dir, 'local_addrs');
  const batch = path.join(os.tmpdir(), `${uniqueName('mw-addrs')}.batch`);
  const lines = [];
  for (let i = 0; i < 16384 - st.local_addresses.length; i++) {
    const key = ['0xfe', '0x80', ...Array(11).fill('0x00'), '0x0a', `0x${(i >> 8).toString(16)}`, `0x${(i & 255).toString(16)}`];
    lines.push(`map update pinned ${pinned} key ${key.join(' ')} value 0x01`);
  }
  fs.writeFileSync(batch, lines.join('\n') + '\n');
  try {
    const f = await run('bpftool', ['batch', 'file', batch], { timeout: 120000 });
    assert.equal(f.code, 0, f.stderr.slice(0, 500));
  } finally {
    fs.rmSync(batch, { force: true });
  }
  // and one address more, which the full map must take
  const a = await run('ip', ['addr', 'add', `${LATE_ADDR}/32`, 'dev', 'lo']);
  assert.equal(a.code, 0, a.stderr);
  d = await startDaemon(old2.config);
  const st2 = await statusJson(d);
  assert.ok(st2.local_addresses.includes(LATE_ADDR), st2.local_addresses.length);
  const c = await runInCgroup(cg, process.execPath, ['-e', CLIENT, LATE_ADDR, String(up.port)], { timeout: 10000 });
  const [pid, ...status] = c.stdout.trim().split(' ');
  assert.equal(status.join(' '), 'HTTP/1.1 200 OK', c.stdout + c.stderr);
  await until(async () => (await d.sqlObjects(`select 1 from mcpwarden.tool_calls where ${rowsOf({ pid, since: c.since })}`))
    .length === 1, `the ping through ${LATE_ADDR} recorded`, 10000);
});

// In a network namespace of its own: puts ADDR on lo, listens there on
// PORT, connects to it; prints "connected" or the error's code.
const OWN_NETNS = String.raw`
const [addr, port] = process.argv.slice(1);
const srv = require('net').createServer((s) => s.destroy()).listen(Number(port), addr, () => {
  require('net').connect(Number(port), addr, () => { console.log('connected'); process.exit(0); })
    .on('error', (e) => { console.log(e.code); process.exit(0); });
});
`;

test('a client in a network namespace of its own reaches its own addresses on a local server\'s port', async () => {
  // local servers' ports are refused at unlisted addresses only in the
  // daemon's namespace, where the daemon follows the addresses
  const addr = '198.18.0.79';
  const r = await runInCgroup(cg, 'unshare', ['-n', 'sh', '-c',
    `ip link set lo up && ip addr add ${addr}/32 dev lo && exec "$0" -e "$1" ${addr} ${up.port}`,
    process.execPath, OWN_NETNS], { timeout: 10000 });
  assert.equal(r.stdout.trim(), 'connected', r.stdout + r.stderr);
});

test('a process under enforcement cannot release it, reload or accept tools; every such command is recorded with who asked', async () => {
  // root inside the enforced cgroup, through the operator's own CLI
  await auditSettled(d);
  const [[since]] = await d.sql('SELECT coalesce(max(seq), 0) FROM mcpwarden.events');
  const sub = path.join(cg, 'sub');
  fs.mkdirSync(sub);
  const inside = async (where, args) => runInCgroup(where, CLI_BIN, ['-c', d.configPath, ...args], { timeout: 15000 });
  try {
    for (const [where, args] of [[cg, ['release', cgroupRelPath(cg)]], [sub, ['release', cgroupRelPath(cg)]],
      [cg, ['reload']], [cg, ['policy', 'accept-tools', 'local']]]) {
      const r = await inside(where, args);
      assert.notEqual(r.code, 0, `${args[0]} from ${where} was carried out: ${r.stdout}`);
      assert.match(r.stderr, new RegExp(`${args.at(-1) === 'local' ? 'accept-tools' : args[0]} refused: the caller is under enforcement \\(cgroup ${cg}\\)`));
    }
    // nor by signal: the sender is judged as a caller is
    const hup = await runInCgroup(cg, 'sh', ['-c', `kill -HUP ${d.proc.pid} && sleep 1`], { timeout: 10000 });
    assert.equal(hup.code, 0, hup.stderr);
    await until(() => /ALERT \(AC-3\): reload by uid 0 pid \d+ \(sh\) refused/.test(d.log()), 'SIGHUP refused', 5000);
    // reading is not weakening
    const st = await inside(cg, ['status']);
    assert.equal(st.code, 0, st.stderr);
    assert.match(d.log(), /ALERT \(AC-3\): release by uid 0 pid \d+ \(mcpwarden\) refused/);
    // still enforced: a client inside is steered (recorded), not direct
    const c = await runInCgroup(cg, process.execPath, ['-e', CLIENT, '127.0.0.1', String(up.port)], { timeout: 10000 });
    assert.match(c.stdout, /HTTP\/1\.1 200 OK/, c.stdout + c.stderr);
    const enforced = (await statusJson(d)).enforced.map((e) => e.cgroup);
    assert.ok(enforced.includes(cg), `no longer enforced: ${enforced}`);
  } finally {
    fs.rmdirSync(sub);
  }
  // the operator, outside: a cgroup enforced and released, on record
  const other = makeCgroup(uniqueName('mw-bypass-op'));
  assert.equal((await d.cli(['enforce', cgroupRelPath(other)])).code, 0);
  assert.equal((await d.cli(['release', cgroupRelPath(other)])).code, 0);
  const bad = await d.cli(['release', 'mw-no-such-cgroup']);
  assert.notEqual(bad.code, 0);
  await auditSettled(d);
  const rows = await d.sqlObjects(`SELECT command, decision, detail, uid, pid, comm, cgroup
    FROM mcpwarden.control_actions WHERE seq > ${since} ORDER BY seq`);
  const self = fs.readFileSync('/proc/self/cgroup', 'utf8').match(/^0::(.*)$/m)[1];
  const rel = cgroupRelPath; // "/a/b", as in /proc/PID/cgroup
  const seen = rows.map((r) => [r.command, r.decision, r.comm, r.uid, r.cgroup]);
  assert.deepEqual(seen, [
    ['release', 'deny', 'mcpwarden', 0, rel(cg)],
    ['release', 'deny', 'mcpwarden', 0, `${rel(cg)}/sub`],
    ['reload', 'deny', 'mcpwarden', 0, rel(cg)],
    ['accept-tools', 'deny', 'mcpwarden', 0, rel(cg)],
    ['reload', 'deny', 'sh', 0, rel(cg)],
    ['enforce', 'allow', 'mcpwarden', 0, self],
    ['release', 'allow', 'mcpwarden', 0, self],
    ['release', 'error', 'mcpwarden', 0, self],
  ], JSON.stringify(rows, null, 1));
  assert.ok(rows.every((r) => r.pid > 0));
  const ids = await d.sqlObjects(`SELECT DISTINCT user_name, cgroup_id FROM mcpwarden.control_actions
    WHERE seq > ${since} AND cgroup = '${rel(cg)}'`);
  assert.deepEqual(ids, [{ user_name: 'root', cgroup_id: fs.statSync(cg).ino }]);
  assert.match(rows[0].detail, /^release refused: the caller is under enforcement/);
  assert.equal(rows[6].detail, `release ${other}`);
  // before(): the enforcement this file runs under
  const first = await d.sqlObjects(`SELECT decision, comm, cgroup FROM mcpwarden.control_actions
    WHERE detail = 'enforce ${cg}'`);
  assert.deepEqual(first, [{ decision: 'allow', comm: 'mcpwarden', cgroup: self }]);
  // and the chain holds them like any other event
  const v = await d.cli(['audit', 'verify']);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});

test('a process named with bytes that are not UTF-8, or that drive a terminal, is still listed by status, defanged', async () => {
  // it vanished from the answer (no JSON string), and raw escapes reached
  // the operator's terminal
  const held = spawnInCgroup(cg, 'perl', ['-MIO::Socket::INET', '-e', `
    $0 = "\\xff\\x1b[31mevil";
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => ${up.port}) or die "connect: $!";
    print "ready\\n"; STDOUT->flush; sleep 30;`]);
  try {
    await until(() => /ready/.test(held.out), 'the client connected', 10000);
    let conn;
    await until(async () => {
      conn = (await statusJson(d)).connections.find((c) => c.pid === held.pid);
      return conn;
    }, 'the held connection in status', 10000);
    assert.equal(conn.comm, '\\xff\\x1b[31mevil');
    const text = await d.cli(['status']);
    assert.equal(text.code, 0, text.stderr);
    assert.ok(text.stdout.includes('\\xff\\x1b[31mevil'), text.stdout);
    assert.ok(!text.stdout.includes('\x1b'), 'an escape reached the terminal');
  } finally {
    held.kill('SIGKILL');
  }
});

// Holds the control socket SOCK open from where it runs, sending HALF (if
// any) and no line feed; prints "connected", then, when the daemon closes
// it, how long it was open and what it was told.
const HOLDER = String.raw`
const [sock, half] = process.argv.slice(1);
let t0, got = '';
const s = require('net').connect(sock, () => {
  t0 = Date.now();
  if (half) s.write(half);
  console.log('connected');
});
s.on('data', (c) => { got += c; });
s.on('error', (e) => { got += 'error ' + e.code; });
s.on('close', () => console.log(JSON.stringify({ ms: Date.now() - t0, got })));
`;

// CLIENT, timed: prints the milliseconds from connect() to the answer's end.
const TIMED_CLIENT = String.raw`
const [host, port] = process.argv.slice(1);
const b = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
const t0 = Date.now();
const s = require('net').connect(Number(port), host, () => s.write('POST /mcp HTTP/1.1\r\nHost: ' + host +
  '\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nConnection: close\r\n' +
  'Content-Length: ' + b.length + '\r\n\r\n' + b));
let got = '';
s.on('data', (c) => { got += c; });
s.on('error', (e) => { got = 'error ' + e.code; });
s.on('close', () => console.log((Date.now() - t0) + ' ' + got.split('\r\n')[0]));
`;

test('a control caller that sends nothing, or half a line, holds up neither MCP traffic nor status; it is told and closed after 2 s', async (t) => {
  // root in a container under enforcement may ask for status: the daemon
  // served one caller at a time, on its only thread, up to 2 s each
  const sock = path.join(d.stateDir, 'control.sock');
  const silent = spawnInCgroup(cg, process.execPath, ['-e', HOLDER, sock]);
  const half = spawnInCgroup(cg, process.execPath, ['-e', HOLDER, sock, '{"cmd":"sta']);
  await until(() => /connected/.test(silent.out) && /connected/.test(half.out), 'the control socket held', 10000);
  const t0 = Date.now();
  const [call, st] = await Promise.all([
    runInCgroup(cg, process.execPath, ['-e', TIMED_CLIENT, '127.0.0.1', String(up.port)], { timeout: 10000 }),
    d.cli(['status']).then((r) => ({ ...r, ms: Date.now() - t0 })),
  ]);
  const m = call.stdout.match(/^(\d+) (.*)$/m);
  assert.ok(m, call.stdout + call.stderr);
  assert.match(m[2], /HTTP\/1\.1 200 OK/, call.stdout);
  assert.ok(Number(m[1]) < 1000, `the proxied call took ${m[1]} ms`);
  assert.equal(st.code, 0, st.stderr);
  assert.ok(st.ms < 1000, `status took ${st.ms} ms`);
  t.diagnostic(`proxied call ${m[1]} ms, status ${st.ms} ms`);
  // and the holders are told and closed at their deadline, not later
  for (const p of [silent, half]) {
    await waitExit(p, 10000);
    const r = JSON.parse(p.out.split('\n').find((l) => l.startsWith('{')));
    assert.equal(r.got, '{"ok":false,"error":"no request line within 2 s"}\n');
    assert.ok(r.ms >= 1500 && r.ms < 3500, `closed after ${r.ms} ms`);
    t.diagnostic(`control caller closed after ${r.ms} ms`);
  }
});
