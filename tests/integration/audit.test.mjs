// The audit trail under stress, as an auditor and an operator see it: real
// eBPF steering, the official SDK client making load against the reference
// server, the embedded PostgreSQL killed and brought back, the daemon
// killed with SIGKILL, the spool's filesystem full, and the trail edited
// by a database superuser. After each, `mcpwarden audit verify` says
// whether the chain holds, and SQL counts what the clients saw.
//
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/audit.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  MCP_DIR, cgroupRelPath, makeCgroup, runInCgroup, spawnInCgroup, startServer, startDaemon, uniqueName,
  cleanupAll, cleanupDaemon, pgBin, waitExit, until, statusJson, auditSettled,
} from './helpers.mjs';

const LOAD = path.join(MCP_DIR, 'load.mjs');
let srv;
let cg; // each test's own: a daemon a failed test left behind steers only its own

before(async () => {
  srv = await startServer();
});

after(async () => {
  await srv?.stop();
  await cleanupAll();
});

async function daemonFor(extra = {}) {
  cg = makeCgroup(uniqueName('mw-audit'));
  const d = await startDaemon({
    servers: [{ name: 'everything', address: `127.0.0.1:${srv.port}` }],
    ...extra,
  });
  const r = await d.cli(['enforce', cgroupRelPath(cg)]);
  assert.equal(r.code, 0, r.stderr);
  return d;
}

/** Starts tests/mcp/load.mjs in the enforced cgroup; .done resolves its JSON. */
function load(args) {
  const p = spawnInCgroup(cg, process.execPath, [LOAD, srv.url, ...args]);
  p.done = waitExit(p, 120000).then(() => {
    assert.equal(p.exitCode, 0, `load.mjs failed: ${p.err}`);
    return JSON.parse(p.out);
  });
  return p;
}

function pgCtl(d, ...args) {
  const data = path.join(d.stateDir, 'pg/data');
  const r = spawnSync('runuser', ['-u', 'mcpwarden', '--', pgBin('pg_ctl'), '-D', data, ...args],
    { cwd: '/', encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `pg_ctl ${args.join(' ')}: ${r.stderr}${r.stdout}`);
}

async function verify(d, ...args) {
  const r = await d.cli(['audit', 'verify', ...args]);
  assert.ok(r.code === 0 || r.code === 1, `audit verify could not run (exit ${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

async function assertVerifies(d, what) {
  const r = await verify(d);
  assert.equal(r.code, 0, `${what}: audit verify found a break:\n${r.stdout}${r.stderr}`);
}

async function echoRows(d, tag) {
  return d.sqlObjects(`select arguments->>'message' as message, is_error,
      response->'content'->0->>'text' as text
    from mcpwarden.tool_calls where tool = 'echo' and arguments->>'message' like '${tag} %'`);
}

test('PostgreSQL killed under load and brought back: every call the clients saw is recorded once, and the chain verifies', async () => {
  const d = await daemonFor();
  const tag = uniqueName('pgkill');
  const l = load(['--calls', '300', '--streams', '4', '--tag', tag]);
  await until(async () => (await echoRows(d, tag)).length >= 20, 'the first calls to be recorded');
  pgCtl(d, 'stop', '-m', 'immediate', '-w');
  await sleep(1500);
  const down = await statusJson(d);
  assert.equal(down.audit.connected, false, 'the database is down');
  assert.ok(down.audit.spooled > 0, `nothing went to the spool while the database was down: ${JSON.stringify(down.audit)}`);
  assert.ok(down.audit.spool_bytes > 0);
  pgCtl(d, '-l', path.join(d.stateDir, 'pg', 'restart.log'), 'start', '-w');
  const out = await l.done;
  assert.equal(out.failed, 0, `calls failed: ${JSON.stringify(out.errors)}`);
  assert.equal(out.ok, 300);
  await auditSettled(d);
  const rows = await echoRows(d, tag);
  assert.equal(rows.length, out.ok, 'recorded calls != calls the clients saw');
  assert.equal(new Set(rows.map((r) => r.message)).size, rows.length, 'a call recorded twice');
  assert.ok(rows.every((r) => r.is_error === false && r.text === `Echo: ${r.message}`),
    'a call recorded without its response');
  await assertVerifies(d, 'after the database outage');
  await d.cleanup();
});

test('the daemon killed with SIGKILL under load: after the restart its chain goes on without a fork and verifies', async () => {
  let d = await daemonFor();
  const tag = uniqueName('k9');
  const l = load(['--calls', '400', '--streams', '4', '--seconds', '60', '--tag', tag]);
  await until(async () => (await echoRows(d, tag)).length >= 30, 'the first calls to be recorded');
  const before = (await statusJson(d)).audit.durable_seq;
  await d.kill();
  await sleep(500);
  d = await startDaemon(d.config);
  const out = await l.done;
  assert.ok(out.ok >= 30, `too few calls went through: ${JSON.stringify(out)}`);
  await auditSettled(d);
  const [[n, lo, hi]] = await d.sql('select count(*), min(seq), max(seq) from mcpwarden.events');
  assert.equal(Number(n), Number(hi) - Number(lo) + 1, `seqs ${lo}..${hi} are not one run of ${n}`);
  assert.ok(Number(hi) > before);
  // Durable before forward: whatever the clients saw answered was recorded
  // before it reached the server, killed or not.
  const rows = await echoRows(d, tag);
  assert.ok(rows.length >= out.ok, `${out.ok} calls answered, ${rows.length} recorded`);
  assert.equal(new Set(rows.map((r) => r.message)).size, rows.length, 'a call recorded twice');
  await assertVerifies(d, 'after SIGKILL and restart');
  // the killed run signed nothing after its last checkpoint: verify says
  // which events only the restarted run's checkpoints cover
  const [[start]] = await d.sql("select max(seq) from mcpwarden.events where kind = 'daemon_start'");
  const [[lastCp]] = await d.sql(`select coalesce(max(seq), 0) from mcpwarden.events
    where kind = 'checkpoint' and seq < ${Number(start)}`);
  const j = JSON.parse((await verify(d, '--json')).stdout);
  const u = j.hosts[0].starts_after_unsigned;
  if (Number(lastCp) + 1 < Number(start)) {
    assert.ok(u, `no note of the events the killed run left unsigned: ${JSON.stringify(j.hosts[0])}`);
    assert.deepEqual(u.first, { from: Number(lastCp) + 1, to: Number(start) - 1, start_seq: Number(start) });
    assert.match((await verify(d)).stdout, /note: 1 daemon start\(s\) after \d+ event\(s\) that no checkpoint/);
  } else {
    assert.equal(u, undefined, 'killed right after a checkpoint: nothing was left unsigned');
  }
  await d.cleanup();
});

test('a checkpoint line a crash or a full disk left half-written is cut at the next start, and the chain verifies', async () => {
  // the next line was appended to the fragment, and verify found the file
  // broken for good
  let d = await startDaemon({ servers: [{ name: 'everything', address: `127.0.0.1:${srv.port}` }],
    audit: { checkpoint_events: 1 } });
  await auditSettled(d);
  await d.stop();
  const cpFile = path.join(d.stateDir, 'audit-checkpoints.jsonl');
  assert.match(fs.readFileSync(cpFile, 'utf8'), /\n$/);
  fs.appendFileSync(cpFile, '{"host":"torn","seq":');
  d = await startDaemon(d.config);
  assert.match(d.log(), /the checkpoint file \S+ ended in 21 byte\(s\) of a line not written whole: cut/);
  await auditSettled(d);
  await until(() => fs.readFileSync(cpFile, 'utf8').split('\n').length > 3, 'checkpoints after the restart');
  for (const line of fs.readFileSync(cpFile, 'utf8').split('\n').filter(Boolean)) JSON.parse(line);
  await assertVerifies(d, 'after a torn checkpoint line');
  await d.cleanup();
});

test('a checkpoint file that is a link is refused at start: the file it leads to is untouched, and no PostgreSQL is left running', async () => {
  const stateDir = fs.mkdtempSync('/tmp/mw-test-');
  const cpDir = path.join(stateDir, 'cp');
  fs.mkdirSync(cpDir, { mode: 0o700 });
  const target = path.join(stateDir, 'precious');
  const kept = '{"kept":1}\n{"torn'; // a torn last line: the start would cut it
  fs.writeFileSync(target, kept, { mode: 0o644 });
  const cps = path.join(cpDir, 'cps.jsonl');
  fs.symlinkSync(target, cps);
  try {
    // the start fails after it started the embedded cluster
    await assert.rejects(startDaemon({ state_dir: stateDir, audit: { checkpoint_file: cps },
      servers: [{ name: 'everything', address: `127.0.0.1:${srv.port}` }] }),
    /cannot open the checkpoint file \S+: a symbolic link/);
    assert.equal(fs.readFileSync(target, 'utf8'), kept, 'the file the link led to was changed');
    const data = path.join(stateDir, 'pg/data');
    assert.ok(fs.existsSync(path.join(data, 'PG_VERSION')), 'the cluster was not even made');
    const st = spawnSync('runuser', ['-u', 'mcpwarden', '--', pgBin('pg_ctl'), '-D', data, 'status'],
      { cwd: '/', encoding: 'utf8', timeout: 30000 });
    assert.equal(st.status, 3, `a postmaster was left running for ${stateDir}: ${st.stdout}`);
  } finally {
    await cleanupDaemon({ stateDir });
  }
});

test('a spool an earlier version wrote (no masked column) is shipped after the upgrade, and verifies', async () => {
  let d = await daemonFor();
  const tag = uniqueName('upgrade');
  pgCtl(d, 'stop', '-m', 'immediate', '-w');
  const out = await load(['--calls', '20', '--streams', '2', '--tag', tag]).done;
  assert.equal(out.ok, 20, `calls failed with the database away: ${JSON.stringify(out.errors)}`);
  await d.kill();
  // As the version before masking wrote them: one column fewer, the
  // optional masked column (NULL here: nothing was masked) not there.
  const dir = path.join(d.stateDir, 'spool');
  let lines = 0;
  for (const f of fs.readdirSync(dir)) {
    const file = path.join(dir, f);
    const text = fs.readFileSync(file, 'latin1');
    const old = text.split('\n').map((line) => {
      if (!line) return line;
      const cols = line.split('\t');
      assert.equal(cols[cols.length - 2], '\\N', 'the masked column of a spooled line');
      cols.splice(cols.length - 2, 1);
      lines++;
      return cols.join('\t');
    }).join('\n');
    fs.writeFileSync(file, old, 'latin1');
  }
  assert.ok(lines >= 40, `only ${lines} spooled lines`);
  // the killed daemon's control socket: not a sign the next one is up
  fs.rmSync(path.join(d.stateDir, 'control.sock'), { force: true });
  d = await startDaemon(d.config);
  await auditSettled(d);
  const rows = await echoRows(d, tag);
  assert.equal(rows.length, 20, 'the spooled calls were not all shipped');
  await assertVerifies(d, 'after shipping an earlier version\'s spool');
  await d.cleanup();
});

test('retention that dropped every event of an idle host: the next start never numbers a seq the checkpoint file vouches for again, and the chain verifies', async () => {
  // before: the start numbered from 1 again, and verify found every
  // checkpoint line of the file broken, for good
  let d = await daemonFor();
  const tag = uniqueName('retention');
  const first = await load(['--calls', '10', '--streams', '1', '--tag', tag]).done;
  assert.equal(first.ok, 10);
  await auditSettled(d);
  await d.stop();
  const [[hi]] = await d.sql('select max(seq) from mcpwarden.events').catch(() => [[null]]);
  const data = path.join(d.stateDir, 'pg/data');
  const running = spawnSync('runuser', ['-u', 'mcpwarden', '--', pgBin('pg_ctl'), '-D', data, 'status'],
    { cwd: '/', encoding: 'utf8', timeout: 30000 }).status === 0;
  if (!running) pgCtl(d, '-l', path.join(d.stateDir, 'pg', 'retention.log'), 'start', '-w');
  const [[before]] = await d.sql('select max(seq) from mcpwarden.events');
  assert.ok(hi === null || Number(before) === Number(hi));
  const cpFile = path.join(d.stateDir, 'audit-checkpoints.jsonl');
  const vouched = Math.max(...fs.readFileSync(cpFile, 'utf8').split('\n').filter(Boolean)
    .map((l) => JSON.parse(l)).map((c) => c.checkpoint_seq ?? c.seq + 1));
  assert.equal(vouched, Number(before), 'the stop signed the chain to its last event');
  // retention, as the owner: every day up to today
  await d.sql('select mcpwarden.drop_partitions_before(current_date + 1)');
  const [[left]] = await d.sql('select count(*) from mcpwarden.events');
  assert.equal(Number(left), 0, 'retention left events');
  pgCtl(d, 'stop', '-w');
  d = await startDaemon(d.config);
  assert.match(d.log(), new RegExp(`events 1\\.\\.${vouched} are missing from it`));
  const r = await d.cli(['enforce', cgroupRelPath(cg)]);
  assert.equal(r.code, 0, r.stderr);
  const second = await load(['--calls', '10', '--streams', '1', '--tag', `${tag}b`]).done;
  assert.equal(second.ok, 10);
  await auditSettled(d);
  const [[lo, n, top]] = await d.sql('select min(seq), count(*), max(seq) from mcpwarden.events');
  assert.equal(Number(lo), vouched + 1, 'the chain did not go on after the checkpoint file');
  assert.equal(Number(n), Number(top) - Number(lo) + 1, 'the chain after the gap is not one run');
  // Retention drops whole days, and verify tells it from a deletion by
  // the day: the file's checkpoint at the gap was made today, the day of
  // the chain's first event, so today's partition was emptied
  let v = await verify(d);
  assert.equal(v.code, 1, v.stdout);
  assert.match(v.stdout, new RegExp(`seq ${vouched} deleted: events before seq ${vouched + 1} deleted: ` +
    'the checkpoint file holds the checkpoint at seq \\d+, made on \\S+, the day of the chain\'s first event'));
  // as it is when retention drops past days (the first run two days
  // ago; the writer makes yesterday's partition again, a day retention
  // then cannot have dropped): the lines' ts_us is not signed, and only
  // says when each was made
  const lines = fs.readFileSync(cpFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  fs.writeFileSync(cpFile, lines.map((c) => JSON.stringify(c.seq < vouched && c.ts_us
    ? { ...c, ts_us: c.ts_us - 2 * 86400e6 } : c)).join('\n') + '\n');
  v = await verify(d);
  assert.equal(v.code, 0, `after retention dropped every event: ${v.stdout}${v.stderr}`);
  assert.match(v.stdout, new RegExp(`the chain starts at seq ${vouched + 1} \\(earlier events removed by retention\\)`));
  await d.cleanup();
});

test('edits, deletions and reordering by a database superuser are named by audit verify', async () => {
  const d = await daemonFor({ audit: { checkpoint_events: 10 } });
  const tag = uniqueName('tamper');
  const out = await load(['--calls', '30', '--streams', '2', '--tag', tag]).done;
  assert.equal(out.ok, 30);
  await auditSettled(d);
  await assertVerifies(d, 'before any change');
  // what ran is in the chain too: the version and the policy in force
  const ran = await d.sqlObjects(`select kind, detail, policy_sha256, params::jsonb as params
    from mcpwarden.chain_events where kind in ('daemon_start', 'policy_loaded') order by seq`);
  assert.deepEqual(ran.map((r) => r.kind), ['daemon_start', 'policy_loaded']);
  assert.match(ran[0].detail, /^mcpwardend \d+\.\d+\.\d+/);
  assert.equal(ran[0].params.durable_before_forward, true);
  const st = await statusJson(d);
  assert.equal(ran[1].policy_sha256, st.policy.sha256);
  assert.equal(ran[1].params.text_recorded, false, 'an inline policy: the configuration is not copied');
  const [[host]] = await d.sql('select distinct host from mcpwarden.events');
  const [[n]] = await d.sql(`select min(seq) from mcpwarden.events where host = '${host}'
      and kind = 'request' and seq > 20`);
  const superuser = (q) => d.sql(`begin; set local session_replication_role = replica; ${q}; commit`);
  const where = (s) => `host = '${host}' and seq = ${s}`;

  // modified: a tool's arguments changed in place
  const [[params]] = await d.sql(`select params::text from mcpwarden.events where ${where(n)}`);
  await superuser(`update mcpwarden.events set params = '{"name":"echo","arguments":{"message":"nothing to see"}}' where ${where(n)}`);
  let r = await verify(d, '--json');
  assert.equal(r.code, 1, `a modified event verified:\n${r.stdout}`);
  assert.match(r.stdout, new RegExp(`"seq":\\s*${n}\\b`));
  assert.match(r.stdout, /modified/);
  await superuser(`update mcpwarden.events set params = $q$${params}$q$ where ${where(n)}`);
  await assertVerifies(d, 'the edit undone');

  // deleted: one event removed
  const [[row]] = await d.sql(`select row_to_json(e)::text from mcpwarden.events e where ${where(n)}`);
  await superuser(`delete from mcpwarden.events where ${where(n)}`);
  r = await verify(d, '--json');
  assert.equal(r.code, 1, `a deletion verified:\n${r.stdout}`);
  assert.match(r.stdout, new RegExp(`"seq":\\s*${n}\\b`));
  assert.match(r.stdout, /deleted/);
  await superuser(`insert into mcpwarden.events select * from json_populate_record(null::mcpwarden.events, $q$${row}$q$)`);
  await assertVerifies(d, 'the deletion undone');

  // the chain's start deleted: not retention, which drops whole days (the
  // checkpoint file holds a checkpoint of a day the chain still has)
  const head = (await d.sql(`select row_to_json(e)::text from mcpwarden.events e
    where host = '${host}' and seq < ${n} order by seq`)).map(([x]) => x);
  await superuser(`delete from mcpwarden.events where host = '${host}' and seq < ${n}`);
  r = await verify(d, '--json');
  assert.equal(r.code, 1, `a deleted start verified:\n${r.stdout}`);
  assert.match(r.stdout, new RegExp(`events before seq ${n} deleted`));
  // the same with the daily partitions renamed: their bounds still say
  // which days retention has not dropped
  const parts = (await d.sql(`select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'mcpwarden.events'::regclass and c.relname ~ '^events_[0-9]{8}$'`)).map(([x]) => x);
  assert.ok(parts.length > 0);
  await superuser(parts.map((p) => `alter table mcpwarden.${p} rename to x${p}`).join(';\n'));
  r = await verify(d, '--json');
  assert.equal(r.code, 1, `a deleted start verified, the partitions renamed:\n${r.stdout}`);
  assert.match(r.stdout, new RegExp(`events before seq ${n} deleted`));
  await superuser(parts.map((p) => `alter table mcpwarden.x${p} rename to ${p}`).join(';\n'));
  await superuser(head.map((x) =>
    `insert into mcpwarden.events select * from json_populate_record(null::mcpwarden.events, $q$${x}$q$)`).join(';\n'));
  await assertVerifies(d, 'the start restored');

  // reordered: two events swap places
  await superuser(`update mcpwarden.events set seq = -1 where ${where(n)};
    update mcpwarden.events set seq = ${n} where ${where(n + 1)};
    update mcpwarden.events set seq = ${n + 1} where ${where(-1)}`);
  r = await verify(d, '--json');
  assert.equal(r.code, 1, `a reordering verified:\n${r.stdout}`);
  assert.match(r.stdout, new RegExp(`"seq":\\s*${n}\\b`));
  assert.match(r.stdout, /reordered/);
  await superuser(`update mcpwarden.events set seq = -1 where ${where(n)};
    update mcpwarden.events set seq = ${n} where ${where(n + 1)};
    update mcpwarden.events set seq = ${n + 1} where ${where(-1)}`);
  await assertVerifies(d, 'the order restored');

  // a ts that microseconds since 1970 cannot hold, and a row longer than
  // verify reads: each is named at its seq (verify used to stop, unable
  // to read the chain)
  await superuser(`update mcpwarden.events set ts = 'infinity' where ${where(n)}`);
  r = await verify(d, '--json');
  assert.equal(r.code, 1, `an infinite ts verified:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, new RegExp(`"seq":\\s*${n},[^}]*ts_us NULL is not an integer`));
  await superuser(`delete from mcpwarden.events where ${where(n)};
    insert into mcpwarden.events select * from json_populate_record(null::mcpwarden.events, $q$${row}$q$)`);
  await assertVerifies(d, 'the ts restored');
  await superuser(`update mcpwarden.events set detail = repeat('x', 65 << 20) where ${where(n)}`);
  r = await verify(d, '--json');
  assert.equal(r.code, 1, `a 65 MiB row verified:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, new RegExp(`"seq":\\s*${n},[^}]*the row is longer than 67108864 bytes`));
  await superuser(`delete from mcpwarden.events where ${where(n)};
    insert into mcpwarden.events select * from json_populate_record(null::mcpwarden.events, $q$${row}$q$)`);
  await assertVerifies(d, 'the row restored');

  // the chain intact, but the view auditors read replaced: one caller's
  // calls hidden from tool_calls
  const [[uid]] = await d.sql(`select uid from mcpwarden.tool_calls where tool = 'echo' limit 1`);
  const [[toolCalls]] = await d.sql(`select pg_get_viewdef('mcpwarden.tool_calls'::regclass)`);
  const hiding = toolCalls.trim().replace(/;$/, '') + ` AND c.uid IS DISTINCT FROM ${uid}`;
  await superuser(`create or replace view mcpwarden.tool_calls as ${hiding}`);
  const [[shown]] = await d.sql(`select count(*) from mcpwarden.tool_calls where tool = 'echo'`);
  assert.equal(Number(shown), 0, 'the replaced view hides the calls');
  r = await verify(d, '--json');
  assert.equal(r.code, 1, `a replaced view verified:\n${r.stdout}`);
  const report = JSON.parse(r.stdout);
  assert.equal(report.database_problems, 1);
  assert.match(report.database_problem_details[0], /view mcpwarden\.tool_calls is not mcpwarden's/);
  assert.equal(report.hosts_broken, 0, 'the chain itself is whole');
  r = await verify(d);
  assert.match(r.stdout, /^database: BROKEN: 1 problem\(s\)$/m);
  assert.match(r.stdout, /verification FAILED: 1 break\(s\) in 0 of 1 host\(s\) and the database/);
  await superuser(`create or replace view mcpwarden.tool_calls as ${toolCalls.trim().replace(/;$/, '')}`);
  await assertVerifies(d, 'the view restored');

  // the checkpoint file gone: the database holds checkpoints the daemon
  // appended to it, so its outside copy was lost
  const cpFile = path.join(d.stateDir, 'audit-checkpoints.jsonl');
  fs.renameSync(cpFile, `${cpFile}.away`);
  try {
    r = await verify(d, '--json');
    assert.equal(r.code, 1, `verified without the checkpoint file:\n${r.stdout}`);
    assert.match(r.stdout, /missing_checkpoint/);
    assert.match(r.stdout, /the checkpoint file is missing, but the database holds checkpoints/);
  } finally {
    fs.renameSync(`${cpFile}.away`, cpFile);
  }
  await assertVerifies(d, 'the checkpoint file back');

  // the last events deleted: the checkpoint file outside the database says
  // how far the chain went
  await superuser(`delete from mcpwarden.events where host = '${host}' and seq >= ${n}`);
  r = await verify(d, '--json');
  assert.equal(r.code, 1, `a truncated chain verified:\n${r.stdout}`);
  await cleanupDaemon(d);
});

test('a full spool with the database away refuses calls (AU-5); calls go through again once it is back', async () => {
  const spool = fs.mkdtempSync('/tmp/mw-spoolfs-');
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', spool], { encoding: 'utf8' });
  assert.equal(m.status, 0, `cannot mount a small tmpfs: ${m.stderr}`);
  try {
    const d = await daemonFor({ audit: { spool_dir: spool, durable_timeout_ms: 3000 } });
    const tag = uniqueName('full');
    assert.equal((await load(['--calls', '10', '--streams', '1', '--tag', `${tag} a`]).done).ok, 10);
    await auditSettled(d);
    pgCtl(d, 'stop', '-m', 'immediate', '-w');
    const out = await load(['--calls', '400', '--streams', '2', '--seconds', '40', '--tag', `${tag} b`]).done;
    assert.ok(out.failed > 0, `no call was refused with the spool full: ${JSON.stringify(out)}`);
    assert.ok(out.ok > 0, 'the spool took nothing');
    const st = await statusJson(d);
    assert.equal(st.audit.spool_failing, true, JSON.stringify(st.audit));
    assert.match(d.log(), /ALERT \(AU-5\)/);
    // a new connection is told why, not given an empty reply
    const raw = await runInCgroup(cg, process.execPath, ['-e', `
      const s = require('net').connect(${srv.port}, '127.0.0.1');
      let got = '';
      s.on('data', (c) => { got += c; });
      s.on('error', () => {});
      s.on('close', () => { process.stdout.write(got); });
      s.write('GET /mcp HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n');`], { timeout: 10000 });
    assert.match(raw.stdout, /^HTTP\/1\.1 503 [^]*the audit trail cannot record this connection/, raw.stdout);
    pgCtl(d, '-l', path.join(d.stateDir, 'pg', 'restart.log'), 'start', '-w');
    await auditSettled(d);
    const again = await load(['--calls', '10', '--streams', '1', '--tag', `${tag} c`]).done;
    assert.equal(again.ok, 10, `calls still refused: ${JSON.stringify(again)}`);
    await auditSettled(d);
    // what the clients saw answered while the spool was full was recorded
    const rows = await echoRows(d, `${tag} b`);
    assert.ok(rows.length >= out.ok, `${out.ok} answered, ${rows.length} recorded`);
    await assertVerifies(d, 'after the full spool');
    await d.cleanup();
  } finally {
    spawnSync('umount', ['-l', spool]);
    fs.rmSync(spool, { recursive: true, force: true });
  }
});
