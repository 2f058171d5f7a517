// The test harness itself, without the daemon: the MCP peers (official SDK
// client, reference server-everything) give stable, comparable results; the
// cgroup, YAML and PostgreSQL helpers do what the daemon tests rely on.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  cgroup2Mount, cgroupRelPath, makeCgroup, removeCgroup, runInCgroup, spawnInCgroup,
  startServer, runClient, freePort, toYaml, sql, sqlObjects, cleanupDaemon, pgBin, run,
  uniqueName, cleanupAll,
} from './helpers.mjs';

after(cleanupAll);

test('cgroup2Mount finds the cgroup v2 hierarchy in /proc/mounts', () => {
  const m = cgroup2Mount();
  assert.ok(fs.existsSync(path.join(m, 'cgroup.procs')), `${m} has no cgroup.procs`);
});

test('runInCgroup runs the command inside the cgroup; removeCgroup kills what is left', async () => {
  const cg = makeCgroup(uniqueName('mw-test-peers'));
  const r = await runInCgroup(cg, 'cat', ['/proc/self/cgroup']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^0::${cgroupRelPath(cg)}$`, 'm'));

  const sleeper = spawnInCgroup(cg, 'sleep', ['300']);
  await new Promise((res) => sleeper.once('spawn', res));
  for (let i = 0; i < 100 && !fs.readFileSync(path.join(cg, 'cgroup.procs'), 'utf8').trim(); i++) {
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.ok(fs.readFileSync(path.join(cg, 'cgroup.procs'), 'utf8').includes(String(sleeper.pid)));
  await removeCgroup(cg);
  assert.ok(!fs.existsSync(cg));
  const exit = await new Promise((res) => {
    if (sleeper.exitCode !== null || sleeper.signalCode !== null) res(sleeper.signalCode);
    else sleeper.once('exit', (_c, sig) => res(sig));
  });
  assert.equal(exit, 'SIGKILL');
});

test('Streamable HTTP: the SDK client gets identical results twice, over IPv4, IPv6 and from a cgroup', async () => {
  const srv = await startServer();
  try {
    const a = await runClient(srv.url);
    const b = await runClient(srv.url);
    assert.deepEqual(b, a);
    assert.equal(a.transport, 'streamable-http');
    assert.equal(a.server.name, 'mcp-servers/everything');
    for (const t of ['echo', 'trigger-long-running-operation', 'toggle-subscriber-updates']) {
      assert.ok(a.tools.includes(t), `tools/list lacks ${t}: ${a.tools}`);
    }
    assert.deepEqual(a.echo.content, [{ type: 'text', text: 'Echo: hello from mcpwarden tests' }]);
    assert.deepEqual(a.long_running.progress.map((p) => p.progress), [1, 2, 3, 4]);
    assert.equal(a.resource_read.mimeType, 'text/markdown');
    assert.deepEqual(a.notifications.resource_updated, ['demo://resource/dynamic/text/1']);
    assert.equal(a.notifications.logging.length, 2, JSON.stringify(a.notifications.logging));
    // the standalone GET SSE stream, a POST answered with SSE, the 202 for
    // notifications/initialized, and the DELETE that ends the session
    assert.deepEqual(a.http, ['DELETE 200 -', 'GET 200 text/event-stream', 'POST 200 text/event-stream', 'POST 202 -']);

    const v6 = await runClient(`http://[::1]:${srv.port}/mcp`);
    assert.deepEqual(v6, a);

    const cg = makeCgroup(uniqueName('mw-test-peers'));
    const inCg = await runClient(srv.url, { cgroup: cg });
    assert.deepEqual(inCg, a);
    await removeCgroup(cg);

    const echo = await runClient(srv.url, { scenario: 'echo', message: 'x y', includeSession: true });
    assert.deepEqual(echo.echo.content, [{ type: 'text', text: 'Echo: x y' }]);
    assert.match(echo.session_id, /^[0-9a-f-]{36}$/);
    const list = await runClient(srv.url, { scenario: 'list' });
    assert.deepEqual(list.tools, a.tools);
  } finally {
    await srv.stop();
  }
});

test('legacy HTTP+SSE: the SDK client works and is stable', async () => {
  const srv = await startServer({ legacy: true });
  try {
    assert.match(srv.url, /\/sse$/);
    const a = await runClient(srv.url, { legacy: true });
    const b = await runClient(`http://[::1]:${srv.port}/sse`, { legacy: true });
    assert.deepEqual(b, a);
    assert.equal(a.transport, 'sse');
    assert.deepEqual(a.long_running.progress.map((p) => p.progress), [1, 2, 3, 4]);
    assert.deepEqual(a.notifications.resource_updated, ['demo://resource/dynamic/text/1']);
    assert.deepEqual(a.http, ['GET 200 text/event-stream', 'POST 202 -']);
  } finally {
    await srv.stop();
  }
});

test('startServer binds the host it is given', async () => {
  const port = await freePort();
  const srv = await startServer({ host: '::1', port });
  try {
    assert.equal(srv.url, `http://[::1]:${port}/mcp`);
    const r = await runClient(srv.url, { scenario: 'list' });
    assert.ok(r.tools.includes('echo'));
    await assert.rejects(runClient(`http://127.0.0.1:${port}/mcp`, { scenario: 'list', timeout: 5000 }),
      /ECONNREFUSED/);
  } finally {
    await srv.stop();
  }
});

test('toYaml writes the daemon config format', () => {
  const y = toYaml({
    listen: '127.0.0.1:15100',
    listen6: '[::1]:15100',
    state_dir: '/tmp/mw-test-a',
    bpf_pin_dir: '/sys/fs/bpf/mw-test-a',
    splice: false,
    audit: { dsn: '', embedded_user: 'mcpwarden' },
    servers: [{ name: 'everything', address: '127.0.0.1:3001' }],
    rules: [],
  });
  assert.equal(y, `listen: 127.0.0.1:15100
listen6: "[::1]:15100"
state_dir: /tmp/mw-test-a
bpf_pin_dir: /sys/fs/bpf/mw-test-a
splice: false
audit:
  dsn: ""
  embedded_user: mcpwarden
servers:
  - name: everything
    address: 127.0.0.1:3001
rules: []
`);
});

// A cluster laid out like the daemon's embedded one (STATE_DIR/pg/data,
// socket dir STATE_DIR/pg/run, run by user mcpwarden), to check sql() and
// that cleanupDaemon() stops PostgreSQL and removes the bpf pin dir.
test('sql() and cleanupDaemon() on an embedded-style PostgreSQL cluster', async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-test-'));
  fs.chmodSync(stateDir, 0o755);
  const pinDir = `/sys/fs/bpf/${uniqueName('mw-test')}`;
  fs.mkdirSync(pinDir);
  fs.mkdirSync(path.join(pinDir, 'sub'));
  const pg = path.join(stateDir, 'pg');
  try {
    fs.mkdirSync(path.join(pg, 'run'), { recursive: true });
    const asPg = (cmd, args) => run('runuser', ['-u', 'mcpwarden', '--', cmd, ...args], { cwd: '/', timeout: 60000 });
    let r = await run('chown', ['-R', 'mcpwarden:', pg]);
    assert.equal(r.code, 0, r.stderr);
    r = await asPg(pgBin('initdb'), ['-D', path.join(pg, 'data'), '-U', 'mcpwarden', '-A', 'trust', '--no-sync']);
    assert.equal(r.code, 0, r.stderr);
    r = await asPg(pgBin('pg_ctl'), ['-D', path.join(pg, 'data'), '-l', path.join(pg, 'log'), '-w', 'start',
      '-o', `-c listen_addresses='' -k ${path.join(pg, 'run')} -c fsync=off`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await sql(stateDir, 'create database mcpwarden', { db: 'postgres' });

    assert.deepEqual(await sql(stateDir, 'select 1'), [['1']]);
    assert.deepEqual(await sql(stateDir, "select 'a|b', null, E'x\\ny' union all select '', 'z', ''"),
      [['a|b', null, 'x\ny'], ['', 'z', '']]);
    assert.deepEqual(await sql(stateDir, 'select 1 where false'), []);
    assert.deepEqual(await sqlObjects(stateDir, "select 1 as n, 'x' as s, null as z"), [{ n: 1, s: 'x', z: null }]);
    await assert.rejects(sql(stateDir, 'select * from no_such_table'), /no_such_table/);

    assert.ok(fs.existsSync(path.join(pg, 'data/postmaster.pid')));
    await cleanupDaemon({ stateDir, config: { bpf_pin_dir: pinDir } });
    assert.ok(!fs.existsSync(pinDir), 'bpf pin dir left behind');
    assert.ok(!fs.existsSync(path.join(pg, 'data/postmaster.pid')), 'PostgreSQL still running');
  } finally {
    await cleanupDaemon({ stateDir, config: { bpf_pin_dir: pinDir } });
  }
});
