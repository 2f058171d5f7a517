// `mcpwarden evidence export`: a daemon with its policy in a file of its
// own and a checkpoint every 10 events, the official SDK client making
// calls in an enforced cgroup, a reload to a changed policy, more calls;
// then a package of that window. Its files, its event count against SQL,
// both policies by hash with their exact text, the manifest's hashes,
// `audit verify --package` (0, then 1 naming the seq of a tampered
// line), and a verifier written from FORMAT.md alone. Also: an empty
// window, a non-empty output directory, bad time arguments.
//
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/evidence.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CLI_BIN, MCP_DIR, cgroupRelPath, makeCgroup, spawnInCgroup, startDaemon, startServer, uniqueName,
  cleanupAll, waitExit, until as waitFor, auditSettled,
} from './helpers.mjs';

const POLICY_A = `default: deny
rules:
  - name: protocol
    method: [initialize, ping, "notifications/**", tools/list]
    action: allow
  - name: echo
    server: everything
    tool: echo
    action: allow
`;
// the same calls allowed, another policy (another hash)
const POLICY_B = POLICY_A.replace('rules:\n', `rules:
  - name: no-add
    server: everything
    tool: add
    action: deny
`);

const FILES = ['FORMAT.md', 'checkpoints.jsonl', 'events.jsonl', 'manifest.json', 'manifest.sha256',
  'masking.json', 'nist-800-53.json', 'nist-800-53.md', 'policies.json', 'public-key.pem',
  'verification.json', 'verification.txt'];

const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

let srv;
let d;
let cg;
let work;
let since;
let until;
let pkg;
let exported;

async function load(tag, calls) {
  const p = spawnInCgroup(cg, process.execPath,
    [path.join(MCP_DIR, 'load.mjs'), srv.url, '--calls', String(calls), '--streams', '2', '--tag', tag]);
  await waitExit(p, 120000);
  assert.equal(p.exitCode, 0, `load.mjs failed: ${p.err}`);
  const out = JSON.parse(p.out);
  assert.equal(out.ok, calls, `calls failed: ${JSON.stringify(out)}`);
}

function exportPkg(dir, ...args) {
  return d.cli(['evidence', 'export', '-o', dir, ...args], { timeout: 120000 });
}

const lines = (file) => fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');

before(async () => {
  srv = await startServer();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-evidence-'));
  const policyFile = path.join(work, 'policy.yaml');
  fs.writeFileSync(policyFile, POLICY_A, { mode: 0o644 });
  d = await startDaemon({
    servers: [{ name: 'everything', address: `127.0.0.1:${srv.port}` }],
    policy: policyFile,
    audit: { checkpoint_events: 10 },
  });
  cg = makeCgroup(uniqueName('mw-evidence'));
  const en = await d.cli(['enforce', cgroupRelPath(cg)]);
  assert.equal(en.code, 0, en.stderr);
  await auditSettled(d);
  await sleep(20);
  since = new Date().toISOString(); // after the start: policy A is in force at since
  await sleep(20);
  await load(uniqueName('before'), 12);
  fs.writeFileSync(policyFile, POLICY_B);
  const rl = await d.cli(['reload']);
  assert.equal(rl.code, 0, rl.stderr);
  await load(uniqueName('after'), 12);
  await auditSettled(d);
  await sleep(20);
  until = new Date().toISOString();
  await sleep(20);
  // events after the window, so that a checkpoint follows it soon
  await load(uniqueName('later'), 6);
  await auditSettled(d);
  await waitFor(async () => {
    const [[n]] = await d.sql(`select count(*) from mcpwarden.chain_events
      where kind = 'checkpoint' and ts >= '${until}'`);
    return Number(n) > 0;
  }, 'a checkpoint after the window');
  // the checkpoint file is appended once the checkpoint is durable
  await sleep(500);
  pkg = path.join(work, 'pkg');
  exported = await exportPkg(pkg, '--since', since, '--until', until);
});

after(async () => {
  await srv?.stop();
  await cleanupAll();
  if (work && !process.env.MW_KEEP) fs.rmSync(work, { recursive: true, force: true });
});

test('the export writes every file, verifies, and exits 0', () => {
  assert.equal(exported.code, 0, `export failed:\n${exported.stdout}${exported.stderr}`);
  assert.match(exported.stdout, /verification ok/);
  for (const f of FILES) assert.ok(fs.statSync(path.join(pkg, f)).isFile(), `${f} missing`);
  // the events are what agents and servers exchanged: root's alone
  assert.equal(fs.statSync(pkg).mode & 0o777, 0o700);
  for (const f of FILES) assert.equal(fs.statSync(path.join(pkg, f)).mode & 0o777, 0o600, f);
  // this daemon runs without masking rules: every policy it loaded says so
  const masking = JSON.parse(fs.readFileSync(path.join(pkg, 'masking.json')));
  assert.equal(masking.masking, 'not configured');
  assert.ok(masking.in_force.length >= 1, 'the policy in force is listed');
  for (const m of masking.in_force) assert.equal(m.masking, null);
  const nist = JSON.parse(fs.readFileSync(path.join(pkg, 'nist-800-53.json')));
  assert.deepEqual(nist.controls.map((c) => c.id),
    ['AC-2', 'AC-3', 'AC-6(9)', 'AU-2', 'AU-3', 'AU-3(1)', 'AU-8', 'AU-9(3)', 'AU-10', 'AU-12', 'SC-7']);
});

test('events.jsonl holds the window and the extension to the next checkpoint, as SQL counts them', async () => {
  const [[host, lo, hi, n]] = await d.sql(`select host, min(seq), max(seq), count(*)
    from mcpwarden.chain_events where ts >= '${since}' and ts < '${until}' group by host`);
  const [[cp]] = await d.sql(`select min(seq) from mcpwarden.chain_events
    where host = '${host}' and kind = 'checkpoint' and seq > ${hi}`);
  assert.ok(cp, 'a checkpoint follows the window');
  // it starts at the event the last checkpoint before the window signed
  // (or the chain's first): a signature vouches for both ends
  const [[before]] = await d.sql(`select max(seq) from mcpwarden.chain_events
    where host = '${host}' and kind = 'checkpoint' and seq <= ${lo}`);
  const anchor = before ? Number(before) - 1 : 1;
  const [[total]] = await d.sql(`select count(*) from mcpwarden.chain_events
    where host = '${host}' and seq between ${anchor} and ${cp}`);
  const ev = lines(path.join(pkg, 'events.jsonl')).map((l) => JSON.parse(l));
  assert.equal(ev.length, Number(total));
  assert.equal(ev.length, Number(cp) - anchor + 1, 'one run of seqs');
  assert.deepEqual([Number(ev[0].seq), ev.at(-1).seq], [anchor, cp]);
  assert.equal(ev.at(-1).kind, 'checkpoint');
  // byte for byte what the view holds: compare a row's text
  const [[params, ts]] = await d.sql(`select params, ts_us from mcpwarden.chain_events
    where host = '${host}' and seq = ${ev[3].seq}`);
  assert.equal(ev[3].params, params);
  assert.equal(ev[3].ts_us, ts);
  const m = JSON.parse(fs.readFileSync(path.join(pkg, 'manifest.json')));
  assert.equal(m.format_version, 1);
  assert.equal(m.events, ev.length);
  const h = m.window.exported[0];
  assert.equal(h.host, host);
  assert.deepEqual([h.first_seq, h.last_seq, h.events], [anchor, Number(cp), ev.length]);
  assert.equal(h.events_before_window, Number(lo) - anchor);
  assert.deepEqual(h.window, { first_seq: Number(lo), last_seq: Number(hi), events: Number(n) });
  assert.equal(h.extended_to_checkpoint_seq, Number(cp));
  assert.equal(h.events_after_window, Number(cp) - Number(hi));
  assert.equal(h.signed_through_seq, Number(cp) - 1);
  assert.equal(h.starts_mid_chain, anchor > 1);
  assert.equal(h.first_prev_hash, ev[0].prev_hash);
  assert.ok(h.checkpoint_file_lines > 0, 'checkpoint file lines exported');
  assert.equal(lines(path.join(pkg, 'checkpoints.jsonl')).length, h.checkpoint_file_lines);
  assert.equal(m.window.requested.since_us, Date.parse(since) * 1000);
  assert.equal(m.window.requested.until_excluded, true);
  // the key, and the daemon that ran
  const key = crypto.createPublicKey(fs.readFileSync(path.join(pkg, 'public-key.pem')));
  const keyId = sha256(key.export({ format: 'der', type: 'spki' }).subarray(-32)).slice(0, 16);
  assert.equal(m.public_key.key_id, keyId);
  assert.equal(h.key_id, keyId);
  assert.equal(fs.readFileSync(path.join(pkg, 'public-key.pem'), 'utf8'),
    fs.readFileSync(path.join(d.stateDir, 'audit-key.pub.pem'), 'utf8'));
  assert.match(h.daemon_version_at_since, /^\d+\.\d+\.\d+$/);
  assert.equal(m.daemon_versions[0].in_force, 'in_force_at_since');
  assert.equal(m.daemon_versions[0].params.durable_before_forward, true);
});

test('both policies are in the package by hash, with their exact text', () => {
  const a = sha256(POLICY_A);
  const b = sha256(POLICY_B);
  assert.equal(fs.readFileSync(path.join(pkg, 'policies', `${a}.yaml`), 'utf8'), POLICY_A);
  assert.equal(fs.readFileSync(path.join(pkg, 'policies', `${b}.yaml`), 'utf8'), POLICY_B);
  const pol = JSON.parse(fs.readFileSync(path.join(pkg, 'policies.json')));
  assert.deepEqual(pol.map((p) => [p.sha256, p.in_force, p.text_recorded, p.text_file]), [
    [a, 'in_force_at_since', true, `policies/${a}.yaml`],
    [b, 'loaded_in_window', true, `policies/${b}.yaml`],
  ]);
  const m = JSON.parse(fs.readFileSync(path.join(pkg, 'manifest.json')));
  assert.ok(pol[0].ts_us < m.window.requested.since_us && pol[1].ts_us >= m.window.requested.since_us);
  assert.equal(m.window.exported[0].policy_at_since, a);
  // the decisions in the window name them
  const shas = new Set(lines(path.join(pkg, 'events.jsonl')).map((l) => JSON.parse(l))
    .filter((e) => e.kind === 'request' && e.policy_sha256).map((e) => e.policy_sha256));
  assert.deepEqual([...shas].sort(), [a, b].sort());
});

test('the manifest hashes every file, and manifest.sha256 the manifest', () => {
  const manifest = fs.readFileSync(path.join(pkg, 'manifest.json'));
  assert.equal(fs.readFileSync(path.join(pkg, 'manifest.sha256'), 'utf8'), `${sha256(manifest)}  manifest.json\n`);
  const m = JSON.parse(manifest);
  const listed = m.files.map((f) => f.name);
  const present = fs.readdirSync(pkg, { recursive: true })
    .filter((f) => fs.statSync(path.join(pkg, f)).isFile()).sort();
  assert.deepEqual([...listed, 'manifest.json', 'manifest.sha256'].sort(), present);
  for (const f of m.files) {
    const bytes = fs.readFileSync(path.join(pkg, f.name));
    assert.equal(f.sha256, sha256(bytes), f.name);
    assert.equal(f.bytes, bytes.length, f.name);
  }
  assert.equal(fs.readFileSync(path.join(pkg, 'FORMAT.md'), 'utf8').split('\n')[0],
    '# mcpwarden evidence package, format version 1');
});

test('audit verify --package agrees with the report inside, and a verifier written from FORMAT.md agrees too', async () => {
  const r = await d.cli(['audit', 'verify', '--package', pkg]);
  assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  const txt = fs.readFileSync(path.join(pkg, 'verification.txt'), 'utf8');
  assert.ok(txt.startsWith(r.stdout), `verification.txt is not what audit verify prints:\n${txt}\n---\n${r.stdout}`);
  assert.match(txt, /notes from the export:/);
  const j = await d.cli(['audit', 'verify', '--package', pkg, '--json']);
  const inside = JSON.parse(fs.readFileSync(path.join(pkg, 'verification.json')));
  delete inside.export_notes;
  assert.deepEqual(inside, JSON.parse(j.stdout));
  assert.equal(inside.ok, true);

  // FORMAT.md sections 4 to 6, and nothing else
  const FIELDS = ('host seq ts_us kind conn_id server session_id direction rpc_id method tool params ' +
    'result error request_seq latency_us decision rule http_method http_path http_status detail pid ' +
    'tgid uid gid user_name comm exe cgroup_id cgroup client_addr server_addr policy_sha256 prev_hash').split(' ');
  const OPTIONAL = ['masked']; // appended to the hash only when not null
  const f = (v) => {
    if (v === null) return Buffer.from([0xff, 0xff, 0xff, 0xff]);
    const b = Buffer.from(v, 'utf8');
    const n = Buffer.alloc(4);
    n.writeUInt32BE(b.length);
    return Buffer.concat([n, b]);
  };
  const key = crypto.createPublicKey(fs.readFileSync(path.join(pkg, 'public-key.pem')));
  const keyId = sha256(key.export({ format: 'der', type: 'spki' }).subarray(-32)).slice(0, 16);
  const signed = (host, seq, hash, kid, sig) => kid === keyId && crypto.verify(null,
    Buffer.from(`mcpwarden checkpoint v1\nhost=${host}\nseq=${seq}\nhash=${hash}\n`), key, Buffer.from(sig, 'base64'));
  const hashes = new Map();
  const problems = [];
  let prev = null;
  let dbCps = 0;
  for (const line of lines(path.join(pkg, 'events.jsonl'))) {
    const e = JSON.parse(line);
    assert.deepEqual(Object.keys(e).sort(), [...FIELDS, ...OPTIONAL, 'hash'].sort());
    const seq = Number(e.seq);
    const h = sha256(Buffer.concat([Buffer.from('MWEV1'), ...FIELDS.map((k) => f(e[k])),
      ...OPTIONAL.filter((k) => e[k] !== null).map((k) => f(e[k]))]));
    if (h !== e.hash) problems.push([seq, 'modified']);
    if (prev && (seq !== prev.seq + 1 || e.prev_hash !== prev.hash)) problems.push([seq, 'link']);
    if (e.kind === 'checkpoint') {
      const p = JSON.parse(e.params);
      if (p.seq !== seq - 1 || (hashes.has(seq - 1) && hashes.get(seq - 1) !== p.hash) ||
          !signed(e.host, p.seq, p.hash, p.key_id, p.signature)) problems.push([seq, 'checkpoint']);
      else dbCps++;
    }
    hashes.set(seq, h);
    prev = { seq, hash: e.hash };
  }
  const fileCps = lines(path.join(pkg, 'checkpoints.jsonl')).map((l) => JSON.parse(l));
  for (const c of fileCps) {
    if (!signed(c.host, c.seq, c.hash, c.key_id, c.signature) || hashes.get(c.seq) !== c.hash) {
      problems.push([c.seq, 'file checkpoint']);
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(dbCps >= 2 && fileCps.length >= 2, `${dbCps} checkpoint events, ${fileCps.length} file lines`);
});

test('a tampered line of events.jsonl: audit verify --package exits 1 and names its seq', async () => {
  const copy = path.join(work, 'tampered');
  fs.cpSync(pkg, copy, { recursive: true });
  const file = path.join(copy, 'events.jsonl');
  const all = lines(file);
  const i = all.findIndex((l, k) => k > 5 && JSON.parse(l).method === 'tools/call' &&
    JSON.parse(l).kind === 'request');
  assert.ok(i > 0);
  const e = JSON.parse(all[i]);
  e.params = e.params.replace(/"message":\s*"[^"]*"/, '"message":"nothing to see"');
  assert.notEqual(JSON.stringify(e), all[i]);
  all[i] = JSON.stringify(e);
  fs.writeFileSync(file, `${all.join('\n')}\n`);
  const r = await d.cli(['audit', 'verify', '--package', copy]);
  assert.equal(r.code, 1, `a tampered package verified:\n${r.stdout}`);
  assert.match(r.stdout, new RegExp(`seq ${e.seq} modified`));
  const j = JSON.parse((await d.cli(['audit', 'verify', '--package', copy, '--json'])).stdout);
  assert.deepEqual(j.hosts[0].first_break, { seq: Number(e.seq), class: 'modified' });
});

test('events.jsonl gone, or a symbolic link in its place: audit verify --package exits 1 and names it', async () => {
  const copy = path.join(work, 'no-events');
  fs.cpSync(pkg, copy, { recursive: true });
  const file = path.join(copy, 'events.jsonl');
  fs.unlinkSync(file);
  let r = await d.cli(['audit', 'verify', '--package', copy]);
  assert.equal(r.code, 1, `exit ${r.code}:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /events\.jsonl: missing/);
  const j = JSON.parse((await d.cli(['audit', 'verify', '--package', copy, '--json'])).stdout);
  assert.equal(j.ok, false);
  assert.match(JSON.stringify(j), /events\.jsonl: missing/);
  fs.symlinkSync(path.join(pkg, 'events.jsonl'), file);
  r = await d.cli(['audit', 'verify', '--package', copy]);
  assert.equal(r.code, 1, `exit ${r.code}:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /events\.jsonl: a symbolic link/);
});

test('audit verify --package whose report cannot be written exits 2, not 0', () => {
  // stdout on /dev/full: every write fails with ENOSPC, as on a full disk
  const full = fs.openSync('/dev/full', 'w');
  try {
    for (const json of [[], ['--json']]) {
      const r = spawnSync(CLI_BIN, ['-c', d.configPath, 'audit', 'verify', '--package', pkg, ...json],
        { stdio: ['ignore', full, 'pipe'], encoding: 'utf8', timeout: 60000 });
      assert.equal(r.status, 2, `${json}: exit ${r.status}, stderr:\n${r.stderr}`);
      assert.match(r.stderr, /writing the report: No space left on device/);
    }
  } finally {
    fs.closeSync(full);
  }
});

test('a window with no events gives an empty package that verifies', async () => {
  const dir = path.join(work, 'empty');
  const r = await exportPkg(dir, '--since', '2001-01-01', '--until', '2001-01-02T00:00:00+01:00');
  assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  assert.equal(fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8'), '');
  assert.equal(fs.readFileSync(path.join(dir, 'checkpoints.jsonl'), 'utf8'), '');
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json')));
  assert.deepEqual(m.window.exported, []);
  assert.equal(m.window.requested.until, '2001-01-01T23:00:00.000000Z');
  assert.ok(m.notes.some((n) => /no events in the window/.test(n)), JSON.stringify(m.notes));
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'policies.json'))), []);
  const v = await d.cli(['audit', 'verify', '--package', dir]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  // --host naming a host without events: the same
  const other = await exportPkg(path.join(work, 'other-host'), '--since', since, '--until', until,
    '--host', 'no-such-host');
  assert.equal(other.code, 0, other.stderr);
  assert.equal(fs.readFileSync(path.join(work, 'other-host', 'events.jsonl'), 'utf8'), '');
});

test('a non-empty output directory and ambiguous times are refused, leaving nothing', async () => {
  const dir = path.join(work, 'busy');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'keep'), 'x');
  let r = await exportPkg(dir, '--since', since, '--until', until);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /is not empty/);
  assert.deepEqual(fs.readdirSync(dir), ['keep']);
  const fresh = path.join(work, 'fresh');
  for (const [s, u, why] of [
    ['yesterday', until, /--since: 'yesterday' is not an ISO 8601/],
    [since, '20260101', /--until: '20260101' is not an ISO 8601/],
    ['2026-01-01T12:00:00.1234567Z', until, /finer than/],
    [until, since, /is not before --until/],
  ]) {
    r = await exportPkg(fresh, '--since', s, '--until', u);
    assert.equal(r.code, 2, `${s} ${u}: ${r.stdout}`);
    assert.match(r.stderr, why);
    assert.ok(!fs.existsSync(fresh), 'nothing written');
  }
  r = await d.cli(['evidence', 'export', '--since', since, '--until', until]);
  assert.equal(r.code, 2, 'no -o');
});

test('an output directory that is a link, or that another user may write to, is refused', async () => {
  const target = path.join(work, 'link-target');
  fs.mkdirSync(target, { mode: 0o700 });
  const link = path.join(work, 'link');
  fs.symlinkSync(target, link);
  let r = await exportPkg(link, '--since', since, '--until', until);
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.stderr, /a symbolic link, not a directory/);
  assert.deepEqual(fs.readdirSync(target), []);
  assert.equal(fs.statSync(target).mode & 0o777, 0o700, 'the link target left as it was');
  const theirs = path.join(work, 'theirs');
  fs.mkdirSync(theirs);
  fs.chownSync(theirs, 65534, 65534);
  r = await exportPkg(theirs, '--since', since, '--until', until);
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.stderr, /no one else may write to \(owner 65534/);
  const shared = path.join(work, 'shared');
  fs.mkdirSync(shared);
  fs.chmodSync(shared, 0o1777);
  r = await exportPkg(shared, '--since', since, '--until', until);
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.stderr, /mode 1777/);
  assert.deepEqual(fs.readdirSync(shared), []);
});

// These two edit the trail as a database superuser: they come last.
const superuser = (q) => d.sql(`begin; set local session_replication_role = replica; ${q}; commit`);

test('the window\'s first events deleted by a superuser: the package shows the gap', async () => {
  const [[host, lo]] = await d.sql(`select host, min(seq) from mcpwarden.chain_events
    where ts >= '${since}' and ts < '${until}' group by host`);
  await superuser(`delete from mcpwarden.events where host = '${host}' and seq between ${lo} and ${Number(lo) + 2}`);
  const dir = path.join(work, 'head-deleted');
  const r = await exportPkg(dir, '--since', since, '--until', until);
  assert.equal(r.code, 1, `the package verified:\n${r.stdout}${r.stderr}`);
  const v = JSON.parse((await d.cli(['audit', 'verify', '--package', dir, '--json'])).stdout);
  assert.deepEqual(v.hosts[0].first_break, { seq: Number(lo), class: 'deleted' });
});

test('the window\'s tail and every checkpoint after it deleted: the checkpoint file shows it', async () => {
  const [[host, hi]] = await d.sql(`select host, max(seq) from mcpwarden.chain_events
    where ts >= '${since}' and ts < '${until}' group by host`);
  const cut = Number(hi) - 3;
  await superuser(`delete from mcpwarden.events where host = '${host}' and seq > ${cut}`);
  // A checkpoint line younger than a minute may be an event the database
  // has not committed yet, and is left out: make those of the cut tail old.
  const cpFile = path.join(d.stateDir, 'audit-checkpoints.jsonl');
  const old = Date.now() * 1000 - 120e6;
  const cps = lines(cpFile).map((l) => JSON.parse(l));
  assert.ok(cps.some((c) => c.host === host && c.seq > cut), 'a checkpoint line past the cut');
  fs.writeFileSync(cpFile, cps.map((c) => JSON.stringify(c.seq > cut ? { ...c, ts_us: old } : c))
    .join('\n') + '\n');
  const dir = path.join(work, 'tail-deleted');
  const r = await exportPkg(dir, '--since', since, '--until', until);
  assert.equal(r.code, 1, `the package verified:\n${r.stdout}${r.stderr}`);
  const v = JSON.parse((await d.cli(['audit', 'verify', '--package', dir, '--json'])).stdout);
  // (the head deleted by the test before is named first)
  assert.ok(v.hosts[0].details.some((b) => b.class === 'deleted' && b.seq > cut),
    JSON.stringify(v.hosts[0].details));
});
