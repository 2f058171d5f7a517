// Helpers for mcpwarden's integration tests (node --test, run as root by
// tests/integration/run.sh): cgroups, MCP peers (tests/mcp), the daemon and
// its CLI, and the embedded PostgreSQL. Everything a helper starts is
// tracked; call cleanupAll() from after() so a failed test leaves nothing
// behind (processes, cgroups, bpf pins, PostgreSQL). MW_KEEP=1 keeps the
// daemons' state dirs for a post-mortem.
//
// Environment: MW_BUILD, the build dir holding mcpwardend and mcpwarden
// (default "build", relative to the repo root).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MCP_DIR = path.join(ROOT, 'tests/mcp');
export const BUILD = path.resolve(ROOT, process.env.MW_BUILD || 'build');
export const DAEMON_BIN = path.join(BUILD, 'mcpwardend');
export const CLI_BIN = path.join(BUILD, 'mcpwarden');

const tracked = { procs: new Set(), cgroups: new Set(), daemons: new Set() };
/** Polls fn every step ms until it returns something truthy, and returns
 *  that; fails naming what it waited for after ms. */
export async function until(fn, what, ms = 30000, step = 100) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(step);
  }
}

/** d's `mcpwarden status --json`, parsed. */
export async function statusJson(d) {
  const r = await d.cli(['status', '--json']);
  if (r.code !== 0) throw new Error(`status --json failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Waits until everything d accepted is in the database: queue and spool
 *  empty, database connected. Returns that status. */
export async function auditSettled(d, ms = 30000) {
  return until(async () => {
    const s = await statusJson(d);
    return s.audit.queued === 0 && s.audit.spool_bytes === 0 && s.audit.connected && s;
  }, 'the audit trail to settle (queue and spool empty)', ms);
}


/** A short random suffix for names that must not collide between runs. */
export function uniqueName(prefix = 'mw-test') {
  return `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

// ---------------------------------------------------------------- processes

/**
 * When a process about to start began, for the audit rows: pids come round
 * again within a run (pid_max 32768), so a pid alone may name an earlier
 * process's rows. A second's slack covers the clocks' rounding; no pid comes
 * round in a second.
 */
function startMark() {
  return new Date(Date.now() - 1000).toISOString();
}

/** SQL: the audit rows of the process {pid, since} (see startMark). */
export function rowsOf(proc) {
  return `tgid = ${Number(proc.pid)} and ts >= '${proc.since}'`;
}

/**
 * Runs a command to completion. Resolves {code, signal, stdout, stderr,
 * timedOut, since (startMark)}; never rejects for a non-zero exit. On
 * timeout the process group is SIGKILLed, code is null and timedOut true.
 * opts: {timeout (ms, default 30000), env, cwd, input}
 */
export function run(cmd, args = [], opts = {}) {
  const { timeout = 30000, env, cwd, input } = opts;
  const since = startMark();
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, {
      env: env ? { ...process.env, ...env } : process.env,
      cwd: cwd ?? ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout kills all of it
    });
    tracked.procs.add(p);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    p.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    p.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    p.stdin.on('error', () => {});
    p.stdin.end(input ?? '');
    const t = setTimeout(() => {
      timedOut = true;
      killGroup(p, 'SIGKILL');
    }, timeout);
    p.on('error', (e) => {
      clearTimeout(t);
      tracked.procs.delete(p);
      reject(new Error(`cannot run ${cmd}: ${e.message}`));
    });
    p.on('close', (code, signal) => {
      clearTimeout(t);
      tracked.procs.delete(p);
      if (timedOut) stderr += `\n[helpers] ${cmd} timed out after ${timeout} ms and was killed\n`;
      resolve({ code: timedOut ? null : code, signal, stdout, stderr, timedOut, since });
    });
  });
}

function killGroup(p, sig) {
  try {
    process.kill(-p.pid, sig);
  } catch {
    try { p.kill(sig); } catch { /* gone */ }
  }
}

/** Waits for a child to exit; SIGKILLs it after `ms`. Resolves {code, signal}. */
export function waitExit(p, ms = 10000) {
  if (p.exitCode !== null || p.signalCode !== null) {
    return Promise.resolve({ code: p.exitCode, signal: p.signalCode });
  }
  return new Promise((resolve) => {
    const t = setTimeout(() => killGroup(p, 'SIGKILL'), ms);
    p.once('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal });
    });
  });
}

// ------------------------------------------------------------------ cgroups

/** Mount point of the cgroup v2 hierarchy, from /proc/mounts (not always /sys/fs/cgroup). */
export function cgroup2Mount() {
  for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[2] === 'cgroup2') return f[1].replace(/\\040/g, ' ');
  }
  throw new Error('no cgroup2 filesystem in /proc/mounts: mcpwarden needs cgroup v2');
}

/** Path of a cgroup relative to the v2 root, as /proc/PID/cgroup shows it ("/a/b"). */
export function cgroupRelPath(cgroupPath) {
  return '/' + path.relative(cgroup2Mount(), cgroupPath);
}

/** Creates (or reuses) the cgroup NAME (may contain '/') under the v2 root; returns its path. */
export function makeCgroup(name = uniqueName()) {
  const p = path.join(cgroup2Mount(), name);
  fs.mkdirSync(p, { recursive: true });
  tracked.cgroups.add(p);
  return p;
}

function cgroupPids(p) {
  try {
    return fs.readFileSync(path.join(p, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Kills whatever still runs in the cgroup (and its children), then removes it. */
export async function removeCgroup(p) {
  tracked.cgroups.delete(p);
  if (!fs.existsSync(p)) return;
  for (const e of fs.readdirSync(p, { withFileTypes: true })) {
    if (e.isDirectory()) await removeCgroup(path.join(p, e.name));
  }
  try {
    fs.writeFileSync(path.join(p, 'cgroup.kill'), '1'); // kernel >= 5.14
  } catch {
    for (const pid of cgroupPids(p)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      fs.rmdirSync(p);
      return;
    } catch (e) {
      if (e.code === 'ENOENT') return;
      if (Date.now() > deadline) {
        throw new Error(`cannot remove cgroup ${p}: ${e.message} (pids: ${cgroupPids(p).join(' ') || 'none'})`);
      }
      for (const pid of cgroupPids(p)) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
      await sleep(50);
    }
  }
}

const shq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
const cgroupWrapper = (cgroupPath) =>
  ['-c', `echo $$ > ${shq(path.join(cgroupPath, 'cgroup.procs'))} && exec "$@"`, 'sh'];

/**
 * Runs CMD ARGS inside the cgroup: sh writes its own pid into cgroup.procs
 * and execs the command, so the command runs in the cgroup from its first
 * instruction. Same result and options as run().
 */
export function runInCgroup(cgroupPath, cmd, args = [], opts = {}) {
  return run('sh', [...cgroupWrapper(cgroupPath), cmd, ...args], opts);
}

/**
 * Starts CMD ARGS inside the cgroup and returns the ChildProcess at once
 * (for clients that must stay connected while the test does something
 * else). stdout/stderr are collected into p.out / p.err, p.since is its
 * startMark.
 */
export function spawnInCgroup(cgroupPath, cmd, args = [], opts = {}) {
  const since = startMark();
  const p = spawn('sh', [...cgroupWrapper(cgroupPath), cmd, ...args], {
    env: opts.env ? { ...process.env, ...opts.env } : process.env,
    cwd: opts.cwd ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  tracked.procs.add(p);
  p.since = since;
  p.out = '';
  p.err = '';
  p.stdout.setEncoding('utf8').on('data', (d) => { p.out += d; });
  p.stderr.setEncoding('utf8').on('data', (d) => { p.err += d; });
  p.on('exit', () => tracked.procs.delete(p));
  return p;
}

// ---------------------------------------------------------------- MCP peers

/** A TCP port free on 127.0.0.1 and ::1 alike (probed by binding the dual-stack wildcard). */
// For a test upstream that answers by hand on a raw socket: calls
// fn(head, body) for each request as soon as it is whole (framed by
// Content-Length; no Content-Length, no body). head is latin1 without the
// blank line, body UTF-8.
export function eachRequest(socket, fn) {
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const m = head.match(/\r\ncontent-length:\s*(\d+)/i);
      const len = m ? Number(m[1]) : 0;
      if (buf.length < end + 4 + len) return;
      const body = buf.subarray(end + 4, end + 4 + len).toString('utf8');
      buf = buf.subarray(end + 4 + len);
      fn(head, body);
    }
  });
}

// CPU time (user + system, in clock ticks) process pid has used.
function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

/** What process pid spends over the next ms, as a share of one core. */
export async function cpuShare(pid, ms) {
  const hz = 100; // USER_HZ
  const t0 = cpuTicks(pid);
  await new Promise((r) => setTimeout(r, ms));
  return (cpuTicks(pid) - t0) / hz / (ms / 1000);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen({ port: 0, host: '::', ipv6Only: false }, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function checkMcpDeps() {
  if (!fs.existsSync(path.join(MCP_DIR, 'node_modules/@modelcontextprotocol/sdk'))) {
    throw new Error(`${MCP_DIR}/node_modules is missing: run scripts/deps.sh`);
  }
}

/**
 * Starts the reference server (server-everything) via tests/mcp/server.mjs.
 * legacy: HTTP+SSE transport (endpoint /sse) instead of Streamable HTTP (/mcp).
 * host: bind address (default: the package's own wildcard bind, reachable
 * on 127.0.0.1 and ::1). port: default 0, a free one.
 * script: another server under tests/mcp that prints the same "ready" line
 * (sqlserver.mjs: the SDK-built server of the policy tests).
 * Resolves {proc, port, host, url, stop()} once the server printed "ready".
 */
export async function startServer({ legacy = false, host, port = 0, timeout = 15000,
  script = 'server.mjs' } = {}) {
  checkMcpDeps();
  const args = [path.join(MCP_DIR, script), '--port', String(port)];
  if (legacy) args.push('--legacy');
  if (host) args.push('--host', host);
  const proc = spawn(process.execPath, args, { cwd: MCP_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
  tracked.procs.add(proc);
  let out = '';
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => { err = (err + d).slice(-20000); });
  const ready = await new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server.mjs not ready after ${timeout} ms:\n${err}`));
    }, timeout);
    proc.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = out.match(/^ready (\d+) (\S+)$/m);
      if (m) {
        clearTimeout(t);
        resolve({ port: Number(m[1]), url: m[2] });
      }
    });
    proc.on('exit', (code, signal) => {
      clearTimeout(t);
      reject(new Error(`server.mjs exited (${code ?? signal}) before ready:\n${err}`));
    });
  });
  proc.on('exit', () => tracked.procs.delete(proc));
  return {
    proc,
    port: ready.port,
    host: host ?? '127.0.0.1',
    url: ready.url,
    /** the server's log so far (one line per request) */
    log: () => err,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await waitExit(proc, 5000);
    },
  };
}

/**
 * Runs tests/mcp/client.mjs against URL and resolves its JSON result.
 * opts: {legacy, scenario ('full'|'echo'|'list'), message, includeSession,
 *        cgroup (run it inside this cgroup path), timeout, env}
 * Rejects with the client's stderr when it fails.
 */
export async function runClient(url, opts = {}) {
  checkMcpDeps();
  const { legacy, scenario, message, includeSession, cgroup, timeout = 30000, env } = opts;
  const args = [path.join(MCP_DIR, 'client.mjs'), url];
  if (legacy) args.push('--legacy');
  if (scenario) args.push('--scenario', scenario);
  if (message !== undefined) args.push('--message', message);
  if (includeSession) args.push('--include-session');
  args.push('--timeout', String(Math.max(1000, timeout - 2000)));
  const r = cgroup
    ? await runInCgroup(cgroup, process.execPath, args, { timeout, env })
    : await run(process.execPath, args, { timeout, env });
  if (r.code !== 0) {
    const e = new Error(`client.mjs ${url} failed (exit ${r.code ?? r.signal}): ${r.stderr.trim()}`);
    e.result = r;
    throw e;
  }
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`client.mjs printed no JSON: ${r.stdout}\n${r.stderr}`);
  }
}

// ------------------------------------------------------------------- daemon

/** Serialises a plain object/array/scalar tree as block-style YAML. */
export function toYaml(value, indent = '') {
  const scalar = (v) => {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'boolean' || typeof v === 'number') return String(v);
    const s = String(v);
    const plain = /^[A-Za-z0-9_./@-][A-Za-z0-9_./:@-]*$/.test(s) &&
      !/:$/.test(s) && !/^-/.test(s) &&
      !/^(true|false|yes|no|on|off|y|n|null|~)$/i.test(s) &&
      !/^[-+]?(\d[\d_]*(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(s) && !/^0[xo]/i.test(s) &&
      !/^[-+]?\d[\d_]*(:[0-5]?\d)+(\.[\d_]*)?$/.test(s); // YAML 1.1 sexagesimal
    return plain ? s : JSON.stringify(s);
  };
  const key = (k) => (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) ? k : JSON.stringify(k));
  const isColl = (v) => v !== null && typeof v === 'object' &&
    (Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0);
  const empty = (v) => (Array.isArray(v) ? '[]' : '{}');
  if (Array.isArray(value)) {
    return value.map((v) => {
      if (!isColl(v)) return `${indent}- ${typeof v === 'object' && v !== null ? empty(v) : scalar(v)}\n`;
      // "- " then the collection, its first line on the dash's line
      const inner = toYaml(v, indent + '  ');
      return `${indent}- ${inner.slice(indent.length + 2)}`;
    }).join('');
  }
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => {
      if (isColl(v)) return `${indent}${key(k)}:\n${toYaml(v, indent + '  ')}`;
      return `${indent}${key(k)}: ${typeof v === 'object' && v !== null ? empty(v) : scalar(v)}\n`;
    }).join('');
  }
  return `${indent}${scalar(value)}\n`;
}

/** The bpffs pin dir for a test instance (under /sys/fs/bpf). */
export function testPinDir() {
  return `/sys/fs/bpf/${uniqueName('mw-test')}`;
}

/**
 * Starts build/mcpwardend with CONFIG (an object, written as YAML to
 * STATE_DIR/mcpwarden.yaml; or a string written verbatim). Defaults filled
 * in: listen 127.0.0.1:<free>, listen6 [::1]:<same port>, state_dir (a new
 * temp dir), bpf_pin_dir /sys/fs/bpf/mw-test-…, splice false, audit
 * {dsn "", embedded_user mcpwarden}, servers []. Resolves once the daemon's
 * log has a line containing "ready" or STATE_DIR/control.sock exists.
 * opts: {timeout (ms, default 60000), args (extra daemon args), env}
 * Returns {proc, stateDir, config, configPath, log(), cli(args), sql(q),
 *          stop(), kill(), cleanup()}.
 */
export async function startDaemon(config = {}, opts = {}) {
  const { timeout = 60000, args = [], env } = opts;
  if (!fs.existsSync(DAEMON_BIN)) {
    throw new Error(`daemon binary not found: ${DAEMON_BIN} (build it with make, or set MW_BUILD)`);
  }
  let stateDir;
  let cfg;
  let text;
  if (typeof config === 'string') {
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-test-'));
    text = config;
    cfg = { state_dir: stateDir };
  } else {
    stateDir = config.state_dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mw-test-'));
    fs.mkdirSync(stateDir, { recursive: true });
    const port = await freePort();
    cfg = {
      listen: `127.0.0.1:${port}`,
      listen6: `[::1]:${port}`,
      state_dir: stateDir,
      bpf_pin_dir: testPinDir(),
      splice: false,
      ...config,
      audit: { dsn: '', embedded_user: 'mcpwarden', ...(config.audit ?? {}) },
      servers: config.servers ?? [],
    };
    text = toYaml(cfg);
  }
  // Like a directory made with mkdir under the usual umask: the embedded
  // PostgreSQL (user mcpwarden) must be able to reach STATE_DIR/pg.
  fs.chmodSync(stateDir, 0o755);
  const configPath = path.join(stateDir, 'mcpwarden.yaml');
  fs.writeFileSync(configPath, text, { mode: 0o644 }); // what the daemon trusts: nobody else may write it, whatever the umask

  const logPath = path.join(stateDir, 'daemon.log');
  const logFd = fs.openSync(logPath, 'a');
  const proc = spawn(DAEMON_BIN, ['-c', configPath, ...args], {
    cwd: ROOT,
    env: env ? { ...process.env, ...env } : process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  tracked.procs.add(proc);
  let log = '';
  const onData = (d) => {
    log += d;
    fs.writeSync(logFd, d);
  };
  proc.stdout.setEncoding('utf8').on('data', onData);
  proc.stderr.setEncoding('utf8').on('data', onData);
  proc.on('exit', () => {
    tracked.procs.delete(proc);
  });
  proc.on('close', () => { try { fs.closeSync(logFd); } catch { /* closed */ } });

  const d = {
    proc,
    stateDir,
    config: cfg,
    configPath,
    logPath,
    /** everything the daemon printed so far (stdout and stderr) */
    log: () => log,
    cli: (cliArgs, o = {}) => cli(cliArgs, { ...o, config: configPath }),
    sql: (q, o) => sql(stateDir, q, o),
    sqlObjects: (q, o) => sqlObjects(stateDir, q, o),
    /** SIGTERM, wait for exit (SIGKILL after `ms`); resolves {code, signal} */
    async stop(ms = 15000) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return waitExit(proc, ms);
    },
    /** SIGKILL, wait for exit */
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      return waitExit(proc, 5000);
    },
    cleanup: () => cleanupDaemon(d),
  };
  tracked.daemons.add(d);

  const sock = path.join(stateDir, 'control.sock');
  const deadline = Date.now() + timeout;
  for (;;) {
    if (/ready/.test(log) || fs.existsSync(sock)) break;
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`mcpwardend exited (${proc.exitCode ?? proc.signalCode}) before ready; ` +
        `config ${configPath}:\n${text}\nlog:\n${log}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`mcpwardend not ready after ${timeout} ms; config ${configPath}; log:\n${log}`);
    }
    await sleep(50);
  }
  return d;
}

let lastConfig;
/**
 * Runs build/mcpwarden -c CONFIG ARGS…; resolves {code, stdout, stderr}.
 * opts.config: a config path or a daemon from startDaemon() (default: the
 * most recently started daemon's); plus run()'s options.
 */
export function cli(args = [], opts = {}) {
  let config = opts.config ?? lastConfig ?? [...tracked.daemons].at(-1)?.configPath;
  if (config && typeof config === 'object') config = config.configPath;
  if (!config) throw new Error('cli(): no config (start a daemon or pass {config})');
  if (!fs.existsSync(CLI_BIN)) throw new Error(`CLI binary not found: ${CLI_BIN} (build it with make, or set MW_BUILD)`);
  return run(CLI_BIN, ['-c', config, ...args], opts);
}
/** Makes cli() without {config} use this config path. */
export function useConfig(configPath) {
  lastConfig = configPath;
}

// --------------------------------------------------------------- PostgreSQL

const NULL_MARK = '\u0002NULL\u0002';

/**
 * Runs QUERY on the embedded cluster of STATE_DIR (socket dir
 * STATE_DIR/pg/run, user and database mcpwarden) with psql -At and
 * resolves its rows as arrays of strings (SQL NULL → null).
 * Rejects with psql's stderr when it fails.
 * opts: {user (database role, default mcpwarden), db, osUser (run psql as
 *        this Unix user via runuser), timeout}
 */
export async function sql(stateDir, query, opts = {}) {
  const { user = 'mcpwarden', db = 'mcpwarden', osUser, timeout = 30000 } = opts;
  const psql = ['psql', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-F', '\u001f', '-R', '\u001e',
    '-P', `null=${NULL_MARK}`, '-h', path.join(stateDir, 'pg/run'), '-U', user, '-d', db, '-c', query];
  const r = osUser
    ? await run('runuser', ['-u', osUser, '--', ...psql], { timeout, cwd: '/' })
    : await run(psql[0], psql.slice(1), { timeout, cwd: '/' });
  if (r.code !== 0) {
    const e = new Error(`psql failed (exit ${r.code ?? r.signal}) for: ${query}\n${r.stderr.trim()}`);
    e.result = r;
    throw e;
  }
  const out = r.stdout.replace(/\n$/, '');
  if (out === '') return [];
  return out.split('\u001e').map((row) => row.split('\u001f').map((f) => (f === NULL_MARK ? null : f)));
}

/** Runs a SELECT and resolves its rows as objects (via json_agg). */
export async function sqlObjects(stateDir, query, opts = {}) {
  const q = `select coalesce(json_agg(t), '[]'::json) from (${query.replace(/;\s*$/, '')}) t`;
  const rows = await sql(stateDir, q, opts);
  return JSON.parse(rows[0][0]);
}

/** The pg_ctl of the newest installed PostgreSQL (Debian keeps it off PATH). */
export function pgBin(name) {
  const base = '/usr/lib/postgresql';
  try {
    const vers = fs.readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => b - a);
    for (const v of vers) {
      const p = path.join(base, v, 'bin', name);
      if (fs.existsSync(p)) return p;
    }
  } catch { /* no Debian layout */ }
  return name;
}

/**
 * Stops the embedded PostgreSQL of STATE_DIR if it runs (pg_ctl stop -m
 * fast as user mcpwarden). Safe to call when there is none.
 */
export function stopEmbeddedPg(stateDir, osUser = 'mcpwarden') {
  const data = path.join(stateDir, 'pg/data');
  if (!fs.existsSync(path.join(data, 'postmaster.pid'))) return;
  const r = spawnSync('runuser', ['-u', osUser, '--', pgBin('pg_ctl'), '-D', data, 'stop', '-m', 'fast', '-w', '-t', '30'],
    { cwd: '/', encoding: 'utf8', timeout: 40000 });
  if (r.status !== 0 && fs.existsSync(path.join(data, 'postmaster.pid'))) {
    // last resort: the postmaster's pid is the file's first line
    try {
      const pid = Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 1) process.kill(pid, 'SIGQUIT');
    } catch { /* gone */ }
  }
}

/**
 * Cleans up after a daemon, whatever state the test left it in: SIGKILLs it
 * if still running, stops its embedded PostgreSQL, removes its bpf pin dir
 * (rm -rf) and, unless MW_KEEP is set, its state dir. Accepts a daemon from
 * startDaemon() or {stateDir, config: {bpf_pin_dir}}.
 */
export async function cleanupDaemon(d) {
  tracked.daemons.delete(d);
  if (d.proc && d.proc.exitCode === null && d.proc.signalCode === null) {
    d.proc.kill('SIGKILL');
    await waitExit(d.proc, 5000);
  }
  const stateDir = d.stateDir ?? d.config?.state_dir;
  if (stateDir) stopEmbeddedPg(stateDir, d.config?.audit?.embedded_user ?? 'mcpwarden');
  const pin = d.config?.bpf_pin_dir;
  if (pin && pin.startsWith('/sys/fs/bpf/') && pin !== '/sys/fs/bpf/') {
    await fsp.rm(pin, { recursive: true, force: true });
  }
  if (stateDir && !process.env.MW_KEEP && path.resolve(stateDir).startsWith(os.tmpdir() + '/')) {
    await fsp.rm(stateDir, { recursive: true, force: true });
  }
}

/** Undoes everything the helpers started: daemons, processes, cgroups. Use in after(). */
export async function cleanupAll() {
  const errors = [];
  for (const d of [...tracked.daemons]) {
    try { await cleanupDaemon(d); } catch (e) { errors.push(e); }
  }
  for (const p of [...tracked.procs]) {
    killGroup(p, 'SIGKILL');
    await waitExit(p, 2000);
  }
  tracked.procs.clear();
  for (const c of [...tracked.cgroups].sort((a, b) => b.length - a.length)) {
    try { await removeCgroup(c); } catch (e) { errors.push(e); }
  }
  if (errors.length) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
}

// Last resort when a test file dies without its after() hooks: synchronous.
process.on('exit', () => {
  for (const d of tracked.daemons) {
    try { d.proc?.kill('SIGKILL'); } catch { /* gone */ }
    try { stopEmbeddedPg(d.stateDir); } catch { /* best effort */ }
    try {
      const pin = d.config?.bpf_pin_dir;
      if (pin?.startsWith('/sys/fs/bpf/')) fs.rmSync(pin, { recursive: true, force: true });
    } catch { /* best effort */ }
  }
  for (const p of tracked.procs) killGroup(p, 'SIGKILL');
});
