// The daemon's own upstream connections are never steered back to it, even
// when the daemon itself runs inside an enforced cgroup (belt and braces: the
// programs recognise its sockets by SO_MARK and by its process id).
//
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/selfsteer.test.mjs
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  cgroupRelPath, makeCgroup, startServer, runClient, startDaemon, uniqueName, cleanupAll,
} from './helpers.mjs';

after(cleanupAll);

test('a daemon inside the enforced cgroup still reaches the server directly', async () => {
  const srv = await startServer({ host: '127.0.0.1' });
  const d = await startDaemon({ servers: [{ name: 'everything', address: `127.0.0.1:${srv.port}` }] });
  const cg = makeCgroup(uniqueName('mw-self'));
  // Move the daemon into the cgroup it is about to enforce.
  fs.writeFileSync(`${cg}/cgroup.procs`, String(d.proc.pid));
  const en = await d.cli(['enforce', cgroupRelPath(cg)]);
  assert.equal(en.code, 0, en.stderr);

  const out = await runClient(srv.url, { scenario: 'echo', cgroup: cg });
  assert.match(JSON.stringify(out), /Echo: /, 'the client got its echo through the daemon');

  const st = JSON.parse((await d.cli(['status', '--json'])).stdout);
  // Every connection the client made was steered once; the daemon's own
  // upstream connects were seen by the hook and skipped, never redirected.
  assert.ok(st.kernel.connect_daemon_skipped >= 1,
    `daemon connects skipped: ${JSON.stringify(st.kernel)}`);
  assert.equal(st.kernel.connect_redirected, st.proxy.accepted,
    `every redirected connection is one the daemon accepted: ${JSON.stringify(st)}`);
  const rows = await d.sqlObjects(
    "select count(*) as n, count(distinct pid) as pids, min(comm) as comm from mcpwarden.connections");
  assert.equal(Number(rows[0].pids), 1, `one client process recorded: ${JSON.stringify(rows)}`);
  assert.equal(rows[0].comm, 'node');
  await d.cli(['release', cgroupRelPath(cg)]);
  await d.stop();
  await srv.stop();
});
