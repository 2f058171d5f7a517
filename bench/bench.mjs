#!/usr/bin/env node
// mcpwarden benchmark (never part of `make test`): small tools/call requests
// at several concurrencies, in one run, through
//   direct       the client talks to the upstream itself
//   nginx        nginx as a plain reverse proxy (keep-alive upstream pool)
//   mcpwarden    steered by eBPF into mcpwardend, sk_msg splice off, no policy;
//                a request goes upstream once its audit event is durable
//   mw+fwd-first the same with audit.durable_before_forward: false (requests
//                go upstream at once, the trail catches up behind them)
//   mw+commit-wait durable before forward with audit.spool_first: false (a
//                request waits for PostgreSQL's commit, not the spool's sync)
//   mw+policy    the same with a policy of --policy-rules rules (default 100,
//                see policyText()); the benchmark's call is allowed by the
//                last rule, after five argument guards on it
//   mw+splice    sk_msg splice on, no policy
//   mw+no-spin   mw+fwd-first with busy_poll_us: 0 (the event loop sleeps in
//                epoll_wait as soon as it has nothing to do)
// against two upstreams:
//   everything   the official reference server (server-everything), in an
//                initialised session, tools/call echo
//   fixed        nginx answering `return 200` with a JSON-RPC result, fast
//                enough not to be the bottleneck
// Load: wrk (Debian's), run inside the enforced cgroup for the mcpwarden
// setups and outside it otherwise. Each cell is the median of --runs runs;
// setups are interleaved within a run so that machine noise spreads evenly,
// in an order that rotates from run to run.
// Each cell also counts the CPU time (from /proc) the whole machine, the
// proxy, the audit database and the upstream used, per request: on a small
// machine every hop's cost comes out of the same cores.
// Then: the daemon's RSS with 1,000 idle connections, and two ceilings
// that the run's own figures put on ratios (see ceilings()).
//
// usage: node bench/bench.mjs [--duration S] [--runs N] [--conns 1,16,64]
//                             [--upstreams everything,fixed] [--build DIR]
//                             [--policy-rules N] [--setups mcpwarden,...]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';

const SETUPS = ['mcpwarden', 'mw+fwd-first', 'mw+commit-wait', 'mw+policy', 'mw+splice',
	'mw+no-spin'];
// what each setup changes in the daemon's configuration
const SETUP_AUDIT = {
	'mw+fwd-first': { durable_before_forward: false },
	'mw+commit-wait': { spool_first: false },
	'mw+no-spin': { durable_before_forward: false },
};

const opt = {
	duration: 5,
	runs: 3,
	conns: [1, 16, 64],
	upstreams: ['everything', 'fixed'],
	build: 'build',
	idle: 1000,
	policyRules: 100,
	setups: SETUPS,
};
for (let i = 2; i < process.argv.length; i++) {
	const a = process.argv[i];
	const v = () => process.argv[++i];
	if (a === '--duration') opt.duration = Number(v());
	else if (a === '--runs') opt.runs = Number(v());
	else if (a === '--conns') opt.conns = v().split(',').map(Number);
	else if (a === '--upstreams') opt.upstreams = v().split(',');
	else if (a === '--build') opt.build = v();
	else if (a === '--idle') opt.idle = Number(v());
	else if (a === '--policy-rules') opt.policyRules = Number(v());
	else if (a === '--setups') opt.setups = v().split(',');
	else {
		console.error(`bench: unknown argument ${a}`);
		process.exit(2);
	}
}
if (!opt.setups.includes('mcpwarden') || opt.setups.some((x) => !SETUPS.includes(x))) {
	console.error(`bench: --setups takes some of ${SETUPS.join(',')}, mcpwarden among them`);
	process.exit(2);
}
process.env.MW_BUILD = opt.build;
const h = await import('../tests/integration/helpers.mjs');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-bench-'));
const log = (...a) => console.error('bench:', ...a);

function nginxConf(name, body) {
	const dir = path.join(tmp, name);
	fs.mkdirSync(dir, { recursive: true });
	const conf = path.join(dir, 'nginx.conf');
	fs.writeFileSync(conf, `worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 8192; }
http {
	access_log off;
	client_body_temp_path ${dir};
	proxy_temp_path ${dir};
	${body}
}
`);
	return { dir, conf };
}

// A policy of n rules like an operator would write: most rules are about
// other tools, prompts, resources and callers (the index sets them aside),
// five guard the benchmark's call (tools/call echo) with argument regexes
// that do not match, and the call is allowed by the last rule. Plus the
// session's own methods.
function policyText(n, servers) {
	const all = `[${servers.map((x) => x.name).join(', ')}]`;
	const lines = ['default: deny', 'rules:',
		'  - name: session', `    server: ${all}`,
		'    method: [initialize, ping, "notifications/**", tools/list]', '    action: allow',
		'  - name: from-servers', '    direction: server', '    method: ["notifications/**", ping]',
		'    action: allow'];
	let guards = 0;
	for (let i = 0; i < n - 3; i++) {
		const k = i % 10;
		lines.push(`  - name: rule-${i}`, `    server: ${all}`);
		if (k === 9 && guards < 5) {
			guards++;
			lines.push('    tool: echo',
				`    args: {pointer: /message, regex: '(drop|truncate)-${i}\\b', ignore_case: true}`,
				'    action: deny');
		} else if (k === 5) {
			lines.push(`    resource: "file:///data/${i}/**"`, '    action: allow');
		} else if (k === 6) {
			lines.push(`    prompt: prompt_${i}`, '    action: allow');
		} else if (k === 7) {
			lines.push(`    tool: tool_${i}`, '    args: {pointer: /path, prefix: /etc/}', '    action: deny');
		} else if (k === 8) {
			lines.push(`    tool: tool_${i}`, `    cgroup: "/agents/${i}/**"`, '    action: allow');
		} else {
			lines.push(`    tool: ${k % 2 ? `tool_${i}` : `admin_${i}_*`}`,
				`    ${k % 3 ? 'user' : 'group'}: [alice${i}, bob${i}]`,
				`    action: ${k % 2 ? 'allow' : 'deny'}`);
		}
	}
	lines.push('  - name: echo', `    server: ${all}`, '    tool: echo', '    action: allow');
	const f = path.join(tmp, 'policy.yaml');
	fs.writeFileSync(f, lines.join('\n') + '\n');
	return f;
}

function startNginx(name, body) {
	const { dir, conf } = nginxConf(name, body);
	const r = spawnSync('nginx', ['-c', conf], { encoding: 'utf8' });
	if (r.status !== 0) throw new Error(`nginx ${name}: ${r.stderr}`);
	return {
		stop() {
			spawnSync('nginx', ['-c', conf, '-s', 'stop']);
		},
		dir,
	};
}

const FIXED_BODY =
	'{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"Echo: hi"}]}}';
const REQUEST =
	'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}';

async function mcpSession(url) {
	const hdr = {
		'content-type': 'application/json',
		accept: 'application/json, text/event-stream',
	};
	const init = await fetch(url, {
		method: 'POST',
		headers: hdr,
		body: JSON.stringify({
			jsonrpc: '2.0',
			id: 0,
			method: 'initialize',
			params: {
				protocolVersion: '2025-06-18',
				capabilities: {},
				clientInfo: { name: 'mcpwarden-bench', version: '1' },
			},
		}),
	});
	const sid = init.headers.get('mcp-session-id');
	await init.text();
	if (!sid) throw new Error(`no session from ${url}: HTTP ${init.status}`);
	const n = await fetch(url, {
		method: 'POST',
		headers: { ...hdr, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' },
		body: '{"jsonrpc":"2.0","method":"notifications/initialized"}',
	});
	await n.text();
	return sid;
}

function wrkScript(session) {
	const f = path.join(tmp, `req-${session ?? 'none'}.lua`);
	const lines = [
		'wrk.method = "POST"',
		'wrk.headers["Content-Type"] = "application/json"',
		'wrk.headers["Accept"] = "application/json, text/event-stream"',
	];
	if (session) {
		// The connections share the session, where a JSON-RPC id may
		// not be reused while its request is pending (the daemon
		// refuses that, as MCP does): every request gets its own, from
		// a base of its own per script so that requests a run left
		// unanswered do not collide with the next run's. Without a
		// session (the fixed upstream, whose answer always has id 1)
		// ids are per connection, and 1 is never pending twice.
		const [before, after] = REQUEST.split('"id":1');
		const base = Math.floor(Math.random() * 1e6) * 1e9;
		lines.push('local threads = 0',
			'setup = function(thread) thread:set("tid", threads); threads = threads + 1 end',
			'local n = 0',
			'request = function()',
			'  n = n + 1',
			`  return wrk.format(nil, nil, nil, string.format('${before}"id":%.0f${after}', ${base} + tid * 1e8 + n))`,
			'end');
		lines.push(`wrk.headers["Mcp-Session-Id"] = "${session}"`,
			'wrk.headers["Mcp-Protocol-Version"] = "2025-06-18"');
	} else {
		lines.push(`wrk.body = '${REQUEST}'`);
	}
	// Count non-2xx answers: a fast error is not a fast answer.
	lines.push('done = function(summary, latency, requests)',
		'  io.write(string.format("errors %d %d\\n", summary.errors.status, summary.requests))',
		'end');
	fs.writeFileSync(f, lines.join('\n') + '\n');
	return f;
}

function toUs(v, unit) {
	const x = Number(v);
	return unit === 'us' ? x : unit === 'ms' ? x * 1e3 : unit === 's' ? x * 1e6 : NaN;
}

// CPU time used, in clock ticks (sysconf(_SC_CLK_TCK), 100 on Linux),
// by a process and all its threads: utime + stime from /proc/PID/stat.
const TICK_US = 10000;
function procTicks(pid) {
	try {
		const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
		const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
		return Number(f[11]) + Number(f[12]);
	} catch {
		return 0; // gone (a PostgreSQL backend that ended): counted up to its last snapshot
	}
}

function childPids(ppid) {
	const out = [];
	for (const e of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(e)) continue;
		try {
			const st = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
			if (Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(e));
		} catch { /* gone */ }
	}
	return out;
}

// A master (nginx, the postmaster) and its children.
const family = (pid) => (pid ? [pid, ...childPids(pid)] : []);
const pidFile = (f) => (fs.existsSync(f) ? Number(fs.readFileSync(f, 'utf8').split('\n')[0]) : 0);

// The whole machine's busy time, in ticks summed over the cores.
function machineTicks() {
	const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
	return f.reduce((a, x) => a + x, 0) - f[3] - f[4] - f[7]; // less idle, iowait and steal
}

// A thread of flushLatencies: waits at the gate, then writes 1 KiB at
// each offset and fdatasyncs, timing each; sends the times and the CPU the
// process spent meanwhile (the other threads wait: it is this one's).
const FLUSH_WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { file, offsets, gate } = workerData;
const fd = fs.openSync(file, 'r+');
const block = Buffer.alloc(1024, 'x');
parentPort.postMessage('ready');
Atomics.wait(new Int32Array(gate), 0, 0);
const us = [];
const cpu0 = process.cpuUsage();
for (const at of offsets) {
	const t0 = process.hrtime.bigint();
	fs.writeSync(fd, block, 0, block.length, at);
	fs.fdatasyncSync(fd);
	us.push(Number(process.hrtime.bigint() - t0) / 1000);
}
const cpu = process.cpuUsage(cpu0);
fs.closeSync(fd);
parentPort.postMessage({ us, cpuUs: cpu.user + cpu.system });
`;

// The worker's next message; its exit or a minute's silence is an error.
function nextMessage(w) {
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error('a flush worker hangs')), 60000);
		const settle = (f) => (v) => {
			clearTimeout(timer);
			w.off('message', onMessage);
			w.off('error', onError);
			w.off('exit', onExit);
			f(v);
		};
		const onMessage = settle(resolve);
		const onError = settle(reject);
		const onExit = settle(() => reject(new Error('a flush worker exited')));
		w.on('message', onMessage);
		w.on('error', onError);
		w.on('exit', onExit);
	});
}

// One FLUSH_WORKER per list of offsets into file, released together once
// all are ready; their results, in order.
async function flushTogether(file, offsetLists) {
	const gate = new SharedArrayBuffer(4);
	const workers = [];
	try {
		for (const offsets of offsetLists)
			workers.push(new Worker(FLUSH_WORKER, { eval: true, workerData: { file, offsets, gate } }));
		await Promise.all(workers.map(nextMessage));
		const done = workers.map(nextMessage);
		Atomics.store(new Int32Array(gate), 0, 1);
		Atomics.notify(new Int32Array(gate), 0);
		return await Promise.all(done);
	} finally {
		await Promise.all(workers.map((w) => w.terminate()));
	}
}

// How long the disk under dir takes to make a small write durable: 1 KiB
// written over blocks already written (as the spool writes once it
// recycles its file: no metadata, so no journal commit), then fdatasync;
// each write on a page of its own. n flushes from one thread (alone), then
// n/2 from each of two threads at once, in regions of their own (paired:
// what a second spool thread would get). The samples in µs, sorted, and
// the CPU the process spent per flush alone (the kernel's work elsewhere,
// in interrupts and workers, is not in it). Run on the idle machine.
async function flushLatencies(dir, n = 300) {
	const file = path.join(dir, 'flush-probe');
	const page = 4096;
	const half = Math.floor(n / 2);
	const pages = (from, count) => Array.from({ length: count }, (_, i) => (from + i) * page);
	const sorted = (xs) => xs.sort((a, b) => a - b);
	try {
		const fd = fs.openSync(file, 'w');
		try {
			fs.writeSync(fd, Buffer.alloc(2 * n * page, 'x'));
			fs.fsyncSync(fd);
		} finally {
			fs.closeSync(fd);
		}
		const [alone] = await flushTogether(file, [pages(0, n)]);
		const paired = await flushTogether(file, [pages(n, half), pages(n + half, half)]);
		return { alone: sorted(alone.us), paired: sorted(paired.flatMap((r) => r.us)), cpuUs: alone.cpuUs / n };
	} finally {
		fs.rmSync(file, { force: true });
	}
}

// the daemon's busy-polling counters (see user/spin.c)
async function busyPoll(d) {
	const st = await d.cli(['status', '--json']);
	if (st.code !== 0) throw new Error(`status: ${st.stderr}`);
	return JSON.parse(st.stdout).busy_poll;
}

// Runs fn (a wrk run) and adds to its result the CPU each group of
// processes in groups ({name: () => [pids]}) and the whole machine used
// during it, in µs per request.
async function withCpu(groups, fn) {
	const snap = () => {
		const per = {};
		for (const [g, pids] of Object.entries(groups)) for (const p of pids()) per[`${g}:${p}`] = procTicks(p);
		return per;
	};
	const m0 = machineTicks();
	const s0 = snap();
	const r = await fn();
	const s1 = snap();
	const m1 = machineTicks();
	const cpu = {};
	for (const g of Object.keys(groups)) cpu[g] = 0;
	for (const [k, v] of Object.entries(s1)) {
		const g = k.slice(0, k.indexOf(':'));
		cpu[g] += Math.max(0, v - (s0[k] ?? 0)); // a new process counts from 0
	}
	const perReq = (t) => (t * TICK_US) / r.requests;
	r.cpu = { machine: perReq(m1 - m0) };
	for (const [g, t] of Object.entries(cpu)) r.cpu[g] = perReq(t);
	return r;
}

async function wrk(url, script, conns, cgroup) {
	const args = ['-t', String(Math.min(conns, 2)), '-c', String(conns), '-d', `${opt.duration}s`,
		'--latency', '-s', script, url];
	const r = cgroup
		? await h.runInCgroup(cgroup, 'wrk', args, { timeout: (opt.duration + 30) * 1000 })
		: await h.run('wrk', args, { timeout: (opt.duration + 30) * 1000 });
	const out = r.stdout;
	const rps = Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1]);
	const p50 = out.match(/^\s+50%\s+([\d.]+)(us|ms|s)/m);
	const p99 = out.match(/^\s+99%\s+([\d.]+)(us|ms|s)/m);
	const err = out.match(/^errors (\d+) (\d+)/m);
	const requests = Number(out.match(/(\d+) requests in/)?.[1]);
	const sockErr = /Socket errors/.test(out);
	if (!rps || !p50 || !p99 || !requests) throw new Error(`wrk failed: ${out}\n${r.stderr}`);
	return {
		rps,
		requests,
		p50: toUs(p50[1], p50[2]),
		p99: toUs(p99[1], p99[2]),
		bad: Number(err?.[1] ?? 0) + (sockErr ? 1 : 0),
	};
}

const median = (xs) => {
	const s = [...xs].sort((a, b) => a - b);
	return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function daemonRssIdle(d, cgroup, upstreamUrl) {
	// Holds opt.idle keep-alive connections open, each after one request.
	const holder = path.join(tmp, 'idle.mjs');
	fs.writeFileSync(holder, `
import net from 'node:net';
const [host, port, n] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const body = ${JSON.stringify(REQUEST)};
const req = 'POST /mcp HTTP/1.1\\r\\nHost: ' + host + '\\r\\nContent-Type: application/json\\r\\nContent-Length: ' + body.length + '\\r\\n\\r\\n' + body;
let answered = 0;
const socks = [];
for (let i = 0; i < n; i++) {
	const s = net.connect(port, host);
	s.on('error', (e) => { console.error('idle: ' + e.message); process.exit(1); });
	let got = '';
	s.on('data', (d) => { got += d; if (got.includes('Echo') && !s.done) { s.done = true; if (++answered === n) console.log('held ' + n); } });
	s.write(req);
	socks.push(s);
	if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
}
setInterval(() => {}, 1000);
`);
	const u = new URL(upstreamUrl);
	const p = h.spawnInCgroup(cgroup, process.execPath, [holder, u.hostname, u.port, String(opt.idle)]);
	let out = '';
	p.stdout.setEncoding('utf8').on('data', (x) => { out += x; });
	for (let i = 0; i < 300 && !out.includes('held'); i++) await sleep(100);
	if (!out.includes('held')) throw new Error('idle connections not established');
	await sleep(500);
	const status = fs.readFileSync(`/proc/${d.proc.pid}/status`, 'utf8');
	const rss = Number(status.match(/VmRSS:\s+(\d+) kB/)[1]) / 1024;
	p.kill('SIGKILL');
	return rss;
}

async function main() {
	const fport = await h.freePort();
	const pfix = await h.freePort();
	const peve = await h.freePort();
	const fixed = startNginx('fixed', `server {
		listen 127.0.0.1:${fport};
		keepalive_requests 10000000;
		location / { default_type application/json; return 200 '${FIXED_BODY}'; }
	}`);
	const everything = await h.startServer({ host: '127.0.0.1' });
	const proxy = startNginx('proxy', `
	upstream fixed { server 127.0.0.1:${fport}; keepalive 128; }
	upstream everything { server 127.0.0.1:${everything.port}; keepalive 128; }
	server {
		listen 127.0.0.1:${pfix};
		keepalive_requests 10000000;
		location / { proxy_pass http://fixed; proxy_http_version 1.1; proxy_set_header Connection ""; }
	}
	server {
		listen 127.0.0.1:${peve};
		keepalive_requests 10000000;
		location / { proxy_pass http://everything; proxy_http_version 1.1;
			proxy_set_header Connection ""; proxy_buffering off; }
	}`);
	const cg = h.makeCgroup(h.uniqueName('mw-bench'));
	const ups = {
		fixed: { url: `http://127.0.0.1:${fport}/mcp`, nginx: `http://127.0.0.1:${pfix}/mcp` },
		everything: { url: `http://127.0.0.1:${everything.port}/mcp`,
			nginx: `http://127.0.0.1:${peve}/mcp` },
	};
	// whose CPU each cell counts (the daemon's includes its threads)
	const upstreamPids = {
		fixed: () => family(pidFile(path.join(fixed.dir, 'nginx.pid'))),
		everything: () => [everything.proc.pid],
	};
	const proxyPids = () => family(pidFile(path.join(proxy.dir, 'nginx.pid')));
	const servers = [
		{ name: 'fixed', address: `127.0.0.1:${fport}` },
		{ name: 'everything', address: `127.0.0.1:${everything.port}` },
	];
	const results = {}; // upstream -> setup -> conns -> [samples]
	const add = (u, s, c, r) => {
		results[u] ??= {};
		results[u][s] ??= {};
		(results[u][s][c] ??= []).push(r);
	};
	let rss = null;
	let flush = null;
	let ran = false;
	const pinDir = h.testPinDir();
	const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-bench-state-'));
	try {
		for (const u of opt.upstreams) {
			ups[u].session = u === 'everything' ? await mcpSession(ups[u].url) : null;
			ups[u].script = wrkScript(ups[u].session);
		}
		const policy = policyText(opt.policyRules, servers);
		for (let run = 0; run < opt.runs; run++) {
			// each run starts one setup further on: a setup that follows
			// another can inherit its wake (the reference server's heap)
			const order = opt.setups.map((_, i) => opt.setups[(i + run) % opt.setups.length]);
			for (const setup of order) {
				const splice = setup === 'mw+splice';
				const d = await h.startDaemon({ servers, splice, bpf_pin_dir: pinDir,
					...(setup === 'mw+no-spin' ? { busy_poll_us: 0 } : {}),
					state_dir: stateDir, log_level: 'warn',
					...(SETUP_AUDIT[setup] ? { audit: SETUP_AUDIT[setup] } : {}),
					...(setup === 'mw+policy' ? { policy } : {}) });
				const en = await d.cli(['enforce', h.cgroupRelPath(cg)]);
				if (en.code !== 0) throw new Error(`enforce: ${en.stderr}`);
				const pgPids = () => family(pidFile(path.join(stateDir, 'pg/data/postmaster.pid')));
				for (const u of opt.upstreams) {
					const upstream = upstreamPids[u];
					for (const c of opt.conns) {
						const bp0 = await busyPoll(d);
						const r = await withCpu({ proxy: () => [d.proc.pid], pg: pgPids, upstream },
							() => wrk(ups[u].url, ups[u].script, c, cg));
						const bp1 = await busyPoll(d);
						r.spin = { windows: (bp1.windows - bp0.windows) / r.requests,
							caught: bp1.windows > bp0.windows
								? (bp1.caught - bp0.caught) / (bp1.windows - bp0.windows) : 0 };
						add(u, setup, c, r);
						if (setup === 'mcpwarden') {
							add(u, 'direct', c, await withCpu({ upstream },
								() => wrk(ups[u].url, ups[u].script, c)));
							add(u, 'nginx', c, await withCpu({ proxy: proxyPids, upstream },
								() => wrk(ups[u].nginx, ups[u].script, c)));
						}
						log(`run ${run + 1}/${opt.runs} ${u} c=${c} ${setup} done`);
					}
				}
				if (run === 0 && setup === 'mcpwarden') rss = await daemonRssIdle(d, cg, ups.fixed.url);
				const st = await d.cli(['status', '--json']);
				if (st.code !== 0) throw new Error(`status: ${st.stderr}\n${d.log().slice(-3000)}`);
				const counters = JSON.parse(st.stdout);
				if (splice && !counters.kernel.splice_redirect)
					log('warning: splice on but no sk_msg redirect counted');
				// A refusal is a fast 200 too: the policy must allow every call.
				if (counters.proxy.rpc_refused)
					throw new Error(`${setup}: ${counters.proxy.rpc_refused} requests refused`);
				if (setup === 'mw+policy' && counters.policy.rules !== opt.policyRules)
					throw new Error(`policy has ${counters.policy.rules} rules`);
				await d.cli(['release', h.cgroupRelPath(cg)]);
				await d.stop();
			}
		}
		ran = true;
	} finally {
		proxy.stop();
		fixed.stop();
		await everything.stop();
		await h.cleanupAll().catch(() => {});
		h.stopEmbeddedPg(stateDir);
		// on the idle machine, in the file system the spool was in
		if (ran) {
			const probeDir = fs.mkdtempSync(path.join(path.dirname(stateDir), 'mw-bench-flush-'));
			try {
				flush = await flushLatencies(probeDir);
			} catch (e) {
				log(`warning: no flush latency (${e.message}): no durable ceiling`);
			} finally {
				fs.rmSync(probeDir, { recursive: true, force: true });
			}
		}
		fs.rmSync(pinDir, { recursive: true, force: true });
		fs.rmSync(stateDir, { recursive: true, force: true });
		fs.rmSync(tmp, { recursive: true, force: true });
	}

	const fmt = (x, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
	const lines = [];
	lines.push(`duration ${opt.duration} s x ${opt.runs} runs per cell, medians; ${os.cpus().length} cores, ` +
		`kernel ${os.release()}`);
	lines.push('');
	lines.push('| upstream | conns | setup | req/s | ×direct | p50 µs | p99 µs | +p50 µs |');
	lines.push('|---|---:|---|---:|---:|---:|---:|---:|');
	for (const u of opt.upstreams) {
		for (const c of opt.conns) {
			const cell = (s) => {
				const xs = results[u][s][c];
				return { rps: median(xs.map((x) => x.rps)), p50: median(xs.map((x) => x.p50)),
					p99: median(xs.map((x) => x.p99)), bad: xs.reduce((a, x) => a + x.bad, 0) };
			};
			const dir = cell('direct');
			for (const s of ['direct', 'nginx', ...opt.setups]) {
				const x = cell(s);
				lines.push(`| ${u} | ${c} | ${s} | ${fmt(x.rps)} | ${fmt(x.rps / dir.rps, 2)} | ` +
					`${fmt(x.p50)} | ${fmt(x.p99)} | ${s === 'direct' ? '' : fmt(x.p50 - dir.p50)} |` +
					(x.bad ? ` (${x.bad} non-2xx/socket errors)` : ''));
			}
		}
	}
	// Where the CPU goes: on a 2-core machine every hop's cost comes out of
	// the same cores, so a setup's throughput is the machine's CPU over its
	// CPU per request once the machine is busy.
	lines.push('');
	lines.push('CPU per request, µs (medians): the whole machine, the proxy (mcpwardend or nginx), ' +
		'the audit database (PostgreSQL, every process), the upstream; wrk and the kernel\'s ' +
		'softirq work done outside these processes make up the rest of the machine\'s:');
	lines.push('');
	lines.push('| upstream | conns | setup | machine | proxy | audit DB | upstream |');
	lines.push('|---|---:|---|---:|---:|---:|---:|');
	for (const u of opt.upstreams) {
		for (const c of opt.conns) {
			for (const s of ['direct', 'nginx', ...opt.setups]) {
				const xs = results[u][s][c];
				const m = (k) => {
					const v = xs.map((x) => x.cpu[k]);
					return v.some((x) => x === undefined) ? '' : fmt(median(v), 1);
				};
				lines.push(`| ${u} | ${c} | ${s} | ${m('machine')} | ${m('proxy')} | ${m('pg')} | ${m('upstream')} |`);
			}
		}
	}
	lines.push('');
	lines.push('Busy polling (medians): windows the daemon opened per request, and the share of them an event came in:');
	lines.push('');
	lines.push('| upstream | conns | setup | windows/request | caught |');
	lines.push('|---|---:|---|---:|---:|');
	for (const u of opt.upstreams) {
		for (const c of opt.conns) {
			for (const s of opt.setups) {
				const xs = results[u][s][c];
				lines.push(`| ${u} | ${c} | ${s} | ${fmt(median(xs.map((x) => x.spin.windows)), 2)} | ` +
					`${fmt(100 * median(xs.map((x) => x.spin.caught)), 0)}% |`);
			}
		}
	}
	// a's throughput against b's, same run: ratio of the medians and of each run
	const ratios = (title, a, b) => {
		if (!opt.setups.includes(a) || !opt.setups.includes(b)) return;
		lines.push('');
		lines.push(`${title}, same run, throughput ratio of the medians and of each run:`);
		for (const u of opt.upstreams) {
			for (const c of opt.conns) {
				const x = results[u][a][c].map((r) => r.rps);
				const y = results[u][b][c].map((r) => r.rps);
				lines.push(`  ${u} c=${c}: ${fmt(median(x) / median(y), 3)} ` +
					`(runs: ${x.map((v, i) => fmt(v / y[i], 3)).join(', ')})`);
			}
		}
	};
	ratios(`mw+policy (${opt.policyRules} rules; each call passes 5 regex guards, allowed by the last rule) ` +
		'against mcpwarden without a policy', 'mw+policy', 'mcpwarden');
	ratios('mcpwarden (durable before forward, spool first) against mw+fwd-first (no wait for the audit trail)',
		'mcpwarden', 'mw+fwd-first');
	ratios('mw+commit-wait (durable before forward, waiting for the commit) against mw+fwd-first',
		'mw+commit-wait', 'mw+fwd-first');
	ratios('mw+fwd-first (busy polling, the default) against mw+no-spin (busy_poll_us: 0)',
		'mw+fwd-first', 'mw+no-spin');
	ceilings(lines, results, flush, fmt);
	lines.push('');
	lines.push(`daemon RSS with ${opt.idle} idle connections: ${rss === null ? 'n/a' : fmt(rss, 1) + ' MiB'}`);
	console.log(lines.join('\n'));
}

// Ceilings that this run's own figures put on two ratios, whatever
// mcpwardend did: what the rest of the path costs, and what the disk does.
function ceilings(lines, results, flush, fmt) {
	const cores = os.cpus().length;
	const med = (u, s, c, f) => median(results[u][s][c].map(f));
	lines.push('');
	lines.push(`Ceiling against nginx (estimates): were the rest of a request's path through mcpwarden (the ` +
		'audit database, the upstream, wrk, softirq: machine less proxy, the median of each run\'s ' +
		`difference) to cost what it did here, ${cores} cores busy all the time could serve at most ` +
		`${cores} s of CPU over it a second with a mcpwardend of no cost, and over it plus nginx\'s own ` +
		'proxy CPU with a mcpwardend at nginx\'s cost (it reads and writes the same bytes, and more). ' +
		'Estimates, not hard bounds: the rest costs less per request as load grows, and cells measured ' +
		'at different times differ by this machine\'s noise.');
	lines.push('');
	lines.push('| upstream | conns | setup | machine less proxy µs | ×nginx, mcpwardend free | ' +
		'×nginx, mcpwardend at nginx\'s cost |');
	lines.push('|---|---:|---|---:|---:|---:|');
	for (const u of opt.upstreams) {
		for (const c of opt.conns) {
			const nginx = med(u, 'nginx', c, (x) => x.rps);
			const nginxProxy = med(u, 'nginx', c, (x) => x.cpu.proxy);
			for (const s of opt.setups) {
				const rest = med(u, s, c, (x) => x.cpu.machine - x.cpu.proxy);
				const most = (us) => fmt((cores * 1e6) / us / nginx, 2);
				lines.push(`| ${u} | ${c} | ${s} | ${fmt(rest, 1)} | ${most(rest)} | ${most(rest + nginxProxy)} |`);
			}
		}
	}
	if (!flush || !opt.setups.includes('mcpwarden') || !opt.setups.includes('mw+fwd-first')) return;
	const pct = (xs, q) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];
	const mean = (xs) => xs.reduce((a, x) => a + x, 0) / xs.length;
	const t = mean(flush.alone);
	lines.push('');
	lines.push(`Ceiling of durable before forward against mw+fwd-first: a request goes on once its event is ` +
		`durable, and the flush that makes it so starts after the request came, so every request waits a ` +
		`flush at least. In the state directory's file system, on the idle machine after the runs, 1 KiB ` +
		`written over written blocks and fdatasync took ${fmt(t)} µs on average (median ` +
		`${fmt(median(flush.alone))}, p10 ${fmt(pct(flush.alone, 0.1))}, p90 ${fmt(pct(flush.alone, 0.9))}, ` +
		`${flush.alone.length} flushes; ${fmt(flush.cpuUs)} µs of this process's CPU each); two threads ` +
		`flushing at once (as a second spool thread would), ${fmt(median(flush.paired))} µs each at the ` +
		`median, ${fmt(median(flush.paired) / median(flush.alone), 2)}× one alone. A connection's cycle ` +
		'takes at least a request alone forwarding first (one over its req/s at one connection) plus a ' +
		'flush, and durable does all that forwarding first does: it reaches at most the lesser of ' +
		`mw+fwd-first's req/s and c / (that time + ${fmt(t)} µs), up to the noise between cells:`);
	for (const u of opt.upstreams) {
		if (!opt.conns.includes(1)) {
			lines.push(`  ${u}: needs --conns to include 1`);
			continue;
		}
		const alone = 1 / med(u, 'mw+fwd-first', 1, (x) => x.rps);
		for (const c of opt.conns) {
			const fwd = med(u, 'mw+fwd-first', c, (x) => x.rps);
			const most = Math.min(fwd, c / (alone + t / 1e6));
			const got = med(u, 'mcpwarden', c, (x) => x.rps);
			lines.push(`  ${u} c=${c}: at most ${fmt(most / fwd, 2)}× (measured ${fmt(got / fwd, 2)}×)`);
		}
	}
}

await main();
