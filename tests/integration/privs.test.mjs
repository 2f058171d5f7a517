// Once running, the daemon keeps only the capabilities it still needs
// (user/privs.c) and can gain no new ones; enforcement still works. Its
// pin directory is its own: nobody else's, one daemon's, and maps another
// version pinned there with another layout are replaced.
//
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/privs.test.mjs
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DAEMON_BIN, cgroupRelPath, cli, freePort, makeCgroup, toYaml, run, runInCgroup, startDaemon, testPinDir, uniqueName, cleanupAll,
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
      /bpf_pin_dir \S+ is not a directory that only root or uid 0 may write \(uid 65534/);
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
      new RegExp(`bpf_pin_dir: ${top}, above it, may be changed by others than root and uid 0 \\(uid 65534`));
    assert.ok(!fs.existsSync(`${top}/pins`), 'the daemon made its pin directory in it');
  } finally {
    fs.rmSync(top, { recursive: true, force: true });
  }
});

// state_dir holds the signing key, the checkpoint file, the database and
// the control socket: a directory another user made first (the demo's is
// in /tmp) could hold their links, which the daemon would write through
test('a state_dir another user made first is refused, and nothing is written in it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-test-foreign-'));
  fs.chownSync(dir, 65534, 65534);
  // the configuration in a directory of root's: only state_dir is theirs
  const cfgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-test-cfg-'));
  const config = path.join(cfgDir, 'mcpwarden.yaml');
  const port = await freePort();
  fs.writeFileSync(config, toYaml({
    listen: `127.0.0.1:${port}`, listen6: `[::1]:${port}`, state_dir: dir, bpf_pin_dir: testPinDir(),
    audit: { dsn: '', embedded_user: 'mcpwarden' }, servers: [{ name: 's', address: '127.0.0.1:9' }],
  }), { mode: 0o644 });
  try {
    const r = await run(DAEMON_BIN, ['-c', config], { timeout: 30000 });
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /state_dir \S+ is not a directory that only root or uid 0 may write \(uid 65534/);
    // no key, no spool, no cluster, no socket
    assert.deepEqual(fs.readdirSync(dir), []);
    // nor does the CLI believe what is in it
    const c = await cli(['audit', 'pubkey'], { config });
    assert.equal(c.code, 1, c.stdout);
    assert.match(c.stderr, /state_dir \S+ is not a directory that only root or uid 0 may write/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(cfgDir, { recursive: true, force: true });
  }
});

test('a state_dir given through a symbolic link is refused: the link could be switched', async () => {
  const real = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-test-real-'));
  const link = `${real}-link`;
  fs.symlinkSync(real, link);
  try {
    await assert.rejects(startDaemon({ state_dir: link, servers: [{ name: 's', address: '127.0.0.1:9' }] }),
      new RegExp(`state_dir: ${link} is a symbolic link, whose target could be switched`));
    assert.ok(!fs.existsSync(path.join(real, 'spool')), 'the daemon wrote through the link');
  } finally {
    fs.rmSync(link, { force: true });
    fs.rmSync(real, { recursive: true, force: true });
  }
});

test('a second daemon on the same state_dir is refused; the first keeps its socket', async () => {
  const d1 = await startDaemon({ servers: [{ name: 's', address: '127.0.0.1:9' }] });
  // its own pins and port: only the state_dir is shared
  const cfg2 = path.join(d1.stateDir, 'second.yaml');
  fs.writeFileSync(cfg2, fs.readFileSync(d1.configPath, 'utf8')
    .replace(/^bpf_pin_dir: .*$/m, `bpf_pin_dir: ${testPinDir()}`)
    .replace(/^(listen6?: .*:)\d+(.*)$/gm, `$1${await freePort()}$2`), { mode: 0o644 });
  const r = await run(DAEMON_BIN, ['-c', cfg2], { timeout: 30000 });
  assert.notEqual(r.code, 0, r.stderr);
  assert.match(r.stderr, /another mcpwardend uses state_dir/);
  const st = await d1.cli(['status', '--json']);
  assert.equal(st.code, 0, st.stderr);
  assert.equal(d1.proc.exitCode, null, 'the first daemon stopped');
  await d1.stop();
});

test('a configuration or policy file another user may write is refused, at start and at reload', async () => {
  // they decide what is enforced: a file anyone may write is anyone's policy
  const d = await startDaemon({ servers: [{ name: 's', address: '127.0.0.1:9' }] });
  const policy = path.join(d.stateDir, 'policy.yaml');
  fs.writeFileSync(policy, 'default: deny\nrules: []\n', { mode: 0o644 });
  fs.chmodSync(policy, 0o666);
  fs.appendFileSync(d.configPath, `policy: ${policy}\n`);
  const r = await d.cli(['reload']);
  assert.notEqual(r.code, 0, r.stdout);
  assert.match(r.stderr, /policy \S+ is not a file that only root or uid 0 may write \(uid 0, mode 0666\)/);
  assert.match(d.log(), /the policy in force \(sha256 [0-9a-f]+\) stays/);
  fs.chmodSync(policy, 0o644);
  const ok = await d.cli(['reload']);
  assert.equal(ok.code, 0, ok.stderr);
  await d.stop();
  fs.chmodSync(d.configPath, 0o666);
  const start = await run(DAEMON_BIN, ['-c', d.configPath], { timeout: 30000 });
  assert.notEqual(start.code, 0, start.stderr);
  assert.match(start.stderr, /configuration \S+ is not a file that only root or uid 0 may write/);
});

// state_dir/pg is the cluster user's: whoever runs as that user could put
// links there, which root followed at the next start (chown of the socket
// directory, an append to postgresql.conf)
test('links the cluster user put in its directory are not followed by the daemon', async () => {
  const d = await startDaemon({ servers: [{ name: 's', address: '127.0.0.1:9' }] });
  const stop = await d.stop();
  assert.equal(stop.code, 0, d.log());
  const pg = path.join(d.stateDir, 'pg');
  const victim = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-test-victim-'));
  const victimFile = path.join(victim, 'file.conf');
  fs.writeFileSync(victimFile, 'root\n', { mode: 0o644 });
  fs.chmodSync(victim, 0o755);
  const asCluster = (cmd) => run('runuser', ['-u', 'mcpwarden', '--', 'sh', '-c', cmd], { cwd: pg });
  const restart = () => run(DAEMON_BIN, ['-c', d.configPath], { timeout: 60000 });
  try {
    let r = await asCluster(`mv run run.old && ln -s ${victim} run`);
    assert.equal(r.code, 0, r.stderr);
    r = await restart();
    assert.notEqual(r.code, 0, 'started over a link');
    assert.match(r.stderr, /pg\/run: a symbolic link, not a directory/);
    let st = fs.statSync(victim);
    assert.deepEqual([st.uid, st.mode & 0o777], [0, 0o755], 'the link\'s target was given to the cluster user');

    r = await asCluster(`rm run && mv run.old run && mv data/postgresql.conf data/pg.conf.old && ln -s ${victimFile} data/postgresql.conf`);
    assert.equal(r.code, 0, r.stderr);
    r = await restart();
    assert.notEqual(r.code, 0, 'started over a link');
    assert.match(r.stderr, /cannot include mcpwarden\.conf in \S+\/postgresql\.conf/);
    assert.equal(fs.readFileSync(victimFile, 'utf8'), 'root\n', 'root appended to the link\'s target');
    st = fs.statSync(victimFile);
    assert.equal(st.uid, 0);
  } finally {
    fs.rmSync(victim, { recursive: true, force: true });
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
