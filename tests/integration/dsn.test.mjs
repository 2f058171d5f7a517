// audit.dsn: a daemon given a DSN writes to that PostgreSQL server instead
// of starting its own cluster. The server here is another daemon's embedded
// cluster (a real PostgreSQL 15 reached over its Unix socket); the second
// daemon records under its own host name, so the two trails stay apart.
//
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/dsn.test.mjs
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import {
  CLI_BIN, cgroupRelPath, makeCgroup, startServer, runClient, startDaemon, uniqueName, cleanupAll,
} from './helpers.mjs';

const PW_MARK = uniqueName('secret');

after(cleanupAll);

test('with audit.dsn the daemon records into that server and starts no cluster of its own', async () => {
  const srv = await startServer({ host: '127.0.0.1' });
  const servers = [{ name: 'everything', address: `127.0.0.1:${srv.port}` }];
  // The database server: a first daemon's embedded cluster.
  const owner = await startDaemon({ servers: [] });
  // a password (the cluster trusts its socket, so it is never asked for)
  // that must not show on any command line
  const dsn = `host=${path.join(owner.stateDir, 'pg/run')} dbname=mcpwarden user=mcpwarden password=pw-${PW_MARK}`;
  const d = await startDaemon({ servers, host: 'dsn-host', audit: { dsn } });
  assert.ok(!fs.existsSync(path.join(d.stateDir, 'pg')),
    'no embedded cluster was created under the second state_dir');

  const cg = makeCgroup(uniqueName('mw-dsn'));
  const en = await d.cli(['enforce', cgroupRelPath(cg)]);
  assert.equal(en.code, 0, en.stderr);
  const out = await runClient(srv.url, { scenario: 'echo', cgroup: cg, message: 'via dsn' });
  assert.match(JSON.stringify(out), /Echo: via dsn/);

  let rows = [];
  for (let i = 0; i < 50 && !rows.length; i++) {
    rows = await owner.sqlObjects(
      "select host, tool, arguments->>'message' as message, comm from mcpwarden.tool_calls where tool = 'echo'");
    if (!rows.length) await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(rows, [{ host: 'dsn-host', tool: 'echo', message: 'via dsn', comm: 'node' }]);

  // `mcpwarden sql` follows the DSN too.
  const q = await d.cli(['sql', '-At', '-c', "select count(*) from mcpwarden.tool_calls where host = 'dsn-host'"]);
  assert.equal(q.code, 0, q.stderr);
  assert.ok(Number(q.stdout.trim()) >= 2, q.stdout);
  // ...without its password on psql's command line, which anyone reads
  const slow = spawn(CLI_BIN, ['-c', d.configPath, 'sql', '-At', '-c', 'select pg_sleep(1.5)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 700));
  const argv = fs.readFileSync(`/proc/${slow.pid}/cmdline`, 'utf8').split('\0');
  await new Promise((r) => slow.on('exit', r));
  assert.match(argv[0], /psql$/, argv.join(' '));
  assert.ok(!argv.join(' ').includes(PW_MARK), `the password is on the command line: ${argv.join(' ')}`);

  await d.cli(['release', cgroupRelPath(cg)]);
  await d.stop();
  await owner.stop();
  await srv.stop();
});
