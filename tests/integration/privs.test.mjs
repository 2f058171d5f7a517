// Once running, the daemon keeps only the capabilities it still needs
// (user/privs.c) and can gain no new ones; enforcement still works. Its
// pin directory is its own: nobody else's, one daemon's, and maps another
// version pinned there with another layout are replaced.
//
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/privs.test.mjs
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  cgroupRelPath, makeCgroup, run, runInCgroup, startDaemon, testPinDir, uniqueName, cleanupAll,
} from './helpers.mjs';

after(cleanupAll);

const CAP_SYS_MODULE = 16n;
const CAP_SYS_RAWIO = 17n;
const CAP_SYS_BOOT = 22n;
const CAP_NET_ADMIN = 12n;
const CAP_BPF = 39n;

test('the running daemon has dropped the capabilities it does not use', async () => {
  const d = await startDaemon({ servers: [{ name: 's', address: '127.0.0.1:9' }] });
  const status = fs.readFileSync(`/proc/${d.proc.pid}/status`, 'utf8');
  const cap = (name) => BigInt('0x' + status.match(new RegExp(`^${name}:\\s+([0-9a-f]+)`, 'm'))[1]);
  const has = (set, c) => ((set >> c) & 1n) === 1n;
  for (const set of ['CapEff', 'CapPrm', 'CapBnd']) {
    for (const c of [CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_BOOT])
      assert.ok(!has(cap(set), c), `${set} still holds capability ${c}: ${status}`);
    for (const c of [CAP_NET_ADMIN, CAP_BPF])
      assert.ok(has(cap(set), c), `${set} lost capability ${c} it needs`);
  }
  assert.equal(cap('CapInh'), 0n);
  assert.match(status, /^NoNewPrivs:\s+1$/m);
  // And it can still do its job: attach and detach.
  const cg = makeCgroup(uniqueName('mw-privs'));
  const en = await d.cli(['enforce', cgroupRelPath(cg)]);
  assert.equal(en.code, 0, en.stderr);
  const rel = await d.cli(['release', cgroupRelPath(cg)]);
  assert.equal(rel.code, 0, rel.stderr);
  const stop = await d.stop();
  assert.equal(stop.code, 0, `clean stop (the embedded cluster is stopped as its user): ${d.log()}`);
});

test('a pin directory another user made first is refused: it could replace the pins', async () => {
  // /sys/fs/bpf is often world-writable (sticky): nobody may create the
  // daemon's directory before it and keep the right to rename its pins
  const dir = `/sys/fs/bpf/${uniqueName('mw-test-foreign')}`;
  fs.mkdirSync(dir, { mode: 0o700 });
  fs.chownSync(dir, 65534, 65534);
  try {
    await assert.rejects(startDaemon({ bpf_pin_dir: dir, servers: [{ name: 's', address: '127.0.0.1:9' }] }),
      /not a directory of uid 0 that only it may write \(uid 65534/);
    assert.deepEqual(fs.readdirSync(dir), [], 'the daemon pinned into it');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a pin directory under a directory another user may write is refused: it could be swapped', async () => {
  const top = `/sys/fs/bpf/${uniqueName('mw-test-theirs')}`;
  fs.mkdirSync(top, { mode: 0o755 });
  fs.chownSync(top, 65534, 65534);
  try {
    await assert.rejects(startDaemon({ bpf_pin_dir: `${top}/pins`, servers: [{ name: 's', address: '127.0.0.1:9' }] }),
      new RegExp(`${top}, above bpf_pin_dir, is not a directory that only root or uid 0 may change \\(uid 65534`));
    assert.deepEqual(fs.readdirSync(`${top}/pins`), [], 'the daemon pinned into it');
  } finally {
    fs.rmSync(top, { recursive: true, force: true });
  }
});

// GET / from inside CG to 127.0.0.1:9; prints the status line or the error.
async function getPort9(cg) {
  const r = await runInCgroup(cg, process.execPath, ['-e', `
    const s = require('net').connect(9, '127.0.0.1', () => s.write('GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'));
    let got = '';
    s.on('data', (c) => { got += c; });
    s.on('error', (e) => { got = 'error ' + e.code; });
    s.on('close', () => process.stdout.write(got.split('\\r\\n')[0]));`], { timeout: 10000 });
  return r.stdout + r.stderr;
}

test('a second daemon on the same pin directory is refused; the first keeps steering', async () => {
  // it would switch the pinned links to programs that know none of the
  // first daemon's sockets: every steered connect() would fail
  const d1 = await startDaemon({ servers: [{ name: 's', address: '127.0.0.1:9' }] });
  await assert.rejects(startDaemon({ bpf_pin_dir: d1.config.bpf_pin_dir, servers: [{ name: 's', address: '127.0.0.1:9' }] }),
    /another mcpwardend uses bpf_pin_dir/);
  const cg = makeCgroup(uniqueName('mw-privs-two'));
  const en = await d1.cli(['enforce', cgroupRelPath(cg)]);
  assert.equal(en.code, 0, en.stderr);
  // steered to the first daemon, which finds nothing at port 9: a 502
  assert.match(await getPort9(cg), /^HTTP\/1\.1 502/);
  await d1.stop();
});

test('a map another version pinned with another layout is replaced, and steering works', async () => {
  // connect()'s record (struct mw_conn_info) was 80 bytes before it
  // carried the process image: libbpf will not reuse such a map
  const dir = testPinDir();
  fs.mkdirSync(dir, { mode: 0o700 });
  const mk = await run('bpftool', ['map', 'create', `${dir}/pending`, 'type', 'lru_hash', 'key', '8',
    'value', '80', 'entries', '16384', 'name', 'pending']);
  assert.equal(mk.code, 0, mk.stderr);
  const d = await startDaemon({ bpf_pin_dir: dir, servers: [{ name: 's', address: '127.0.0.1:9' }] });
  assert.match(d.log(), /pinned map \S+\/pending has another layout \(another version's\): replaced/);
  const show = await run('bpftool', ['-j', 'map', 'show', 'pinned', `${dir}/pending`]);
  assert.equal(show.code, 0, show.stderr);
  assert.ok(JSON.parse(show.stdout).bytes_value > 80, show.stdout);
  const cg = makeCgroup(uniqueName('mw-privs-layout'));
  const en = await d.cli(['enforce', cgroupRelPath(cg)]);
  assert.equal(en.code, 0, en.stderr);
  assert.match(await getPort9(cg), /^HTTP\/1\.1 502/);
  await d.stop();
});

test('a map that steers, pinned with another layout, is not replaced: the start fails and says what to do', async () => {
  // until the new daemon filled a fresh protected_servers, the links it
  // adopts would steer nothing: connections would go straight through
  const dir = testPinDir();
  fs.mkdirSync(dir, { mode: 0o700 });
  const mk = await run('bpftool', ['map', 'create', `${dir}/protected_servers`, 'type', 'hash', 'key', '20',
    'value', '8', 'entries', '4096', 'name', 'protected_serve']);
  assert.equal(mk.code, 0, mk.stderr);
  try {
    await assert.rejects(startDaemon({ bpf_pin_dir: dir, servers: [{ name: 's', address: '127.0.0.1:9' }] }),
      /pinned map \S+\/protected_servers has another layout \(another version's\): release every cgroup and remove the pin directory to upgrade/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
