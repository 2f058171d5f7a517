// HTTP/1.1 behaviour of the proxy, as a client in an enforced cgroup and the
// MCP server behind the daemon see it: timeouts, pipelining, Expect,
// chunked request bodies, half-close, backpressure in both directions,
// upstream failures and bounded responses.
//
// One daemon for the file (small limits: header_timeout_ms 500,
// body_timeout_ms 1500, idle_timeout_ms 2000, max_body_bytes 1.5 MiB),
// upstreams written here
// (node http / raw net servers in this process, on 127.0.0.1, protected in
// the config) and clients that are small node scripts run inside the
// enforced cgroup (raw sockets where framing matters).
//
// splice.test.mjs runs every test here again with splice: true.
//
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/http.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  eachRequest, makeCgroup, rowsOf, run, runInCgroup, spawnInCgroup, startDaemon, uniqueName, freePort, cleanupAll,
  cpuShare,
} from './helpers.mjs';

const NODE = process.execPath;
const HEADER_TIMEOUT_MS = 500;
const IDLE_TIMEOUT_MS = 2000;
const BODY_TIMEOUT_MS = 1500;
const MAX_BODY = 1536 * 1024; // limits.max_body_bytes of this file's daemon
const MiB = 1024 * 1024;
// set by splice.test.mjs before it imports this file
const SPLICE = globalThis.mwHttpSplice === true;

// --------------------------------------------------------- response parser

// Parses the HTTP/1.1 responses in BUF (a Buffer), in order: [{status,
// reason, head, headers (lower-case names), body (Buffer, de-chunked),
// complete, chunked}]. An incomplete last response has complete false.
// Self-contained: the client scripts below embed it with toString().
function parseResponses(buf) {
  const out = [];
  let off = 0;
  while (off < buf.length) {
    const he = buf.indexOf('\r\n\r\n', off);
    if (he < 0) {
      out.push({ status: null, complete: false, partial: buf.subarray(off).toString('latin1') });
      break;
    }
    const head = buf.subarray(off, he).toString('latin1');
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i <= 0) continue;
      const k = l.slice(0, i).trim().toLowerCase();
      const v = l.slice(i + 1).trim();
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
    const r = {
      status: m ? Number(m[1]) : null, reason: m ? (m[2] || '') : null, head, headers,
      body: Buffer.alloc(0), complete: false, chunked: false,
    };
    out.push(r);
    if (!m) break;
    let p = he + 4;
    if (r.status < 200 || r.status === 204 || r.status === 304) {
      r.complete = true;
      off = p;
      continue;
    }
    if (/chunked/i.test(headers['transfer-encoding'] || '')) {
      r.chunked = true;
      const parts = [];
      for (;;) {
        const le = buf.indexOf('\r\n', p);
        if (le < 0) { r.body = Buffer.concat(parts); return out; }
        const size = parseInt(buf.subarray(p, le).toString('latin1').split(';')[0], 16);
        if (Number.isNaN(size)) { r.bad = 'bad chunk size'; r.body = Buffer.concat(parts); return out; }
        if (size === 0) {
          let q = le + 2;
          for (;;) { // trailers, up to the empty line
            const te = buf.indexOf('\r\n', q);
            if (te < 0) { r.body = Buffer.concat(parts); return out; }
            if (te === q) { p = te + 2; break; }
            q = te + 2;
          }
          break;
        }
        if (buf.length < le + 2 + size + 2) {
          parts.push(buf.subarray(le + 2, Math.min(buf.length, le + 2 + size)));
          r.body = Buffer.concat(parts);
          return out;
        }
        parts.push(buf.subarray(le + 2, le + 2 + size));
        p = le + 2 + size + 2;
      }
      r.body = Buffer.concat(parts);
      r.complete = true;
      off = p;
      continue;
    }
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      r.body = buf.subarray(p, Math.min(buf.length, p + n));
      if (buf.length < p + n) return out;
      r.complete = true;
      off = p + n;
      continue;
    }
    r.body = buf.subarray(p); // delimited by the close
    r.untilClose = true;
    return out;
  }
  return out;
}

// ------------------------------------------------------------ client scripts

// A scripted raw TCP client: connects to HOST PORT and runs PLAN (base64
// JSON: [{op: write|sleep|end|mark|waitFor|waitResponses|waitClose, ...}]),
// then prints one JSON line {pid, marks, timeouts, endAt, closeAt, error,
// firstByteAt, data (base64 of every byte received)}. Times are ms since
// the connection was established. The whole run is bounded by TOTAL_MS.
const RAW_CLIENT = String.raw`
const net = require('net');
const [host, port, planB64, totalMs] = process.argv.slice(1);
const plan = JSON.parse(Buffer.from(planB64, 'base64').toString('utf8'));
${parseResponses.toString()}
const out = { pid: process.pid, marks: {}, timeouts: [], firstByteAt: null, endAt: null,
  closeAt: null, error: null, connected: false, data: '' };
const chunks = [];
let t0 = Date.now();
const now = () => Date.now() - t0;
let closed = false; // FIN or close from the other side
let waiter = null;
const poke = () => { if (waiter) waiter(); };
const all = () => Buffer.concat(chunks);
const finals = () => parseResponses(all()).filter((r) => r.complete && r.status >= 200).length;
function waitUntil(check, ms, ignoreClose) {
  return new Promise((resolve) => {
    const t = setTimeout(() => { waiter = null; resolve(false); }, ms);
    waiter = () => {
      if (check()) { waiter = null; clearTimeout(t); resolve(true); }
      else if (closed && !ignoreClose) { waiter = null; clearTimeout(t); resolve(false); }
    };
    waiter();
  });
}
let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  out.data = all().toString('base64');
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
}
setTimeout(() => { out.timeouts.push('total'); finish(); }, Number(totalMs));
const s = net.connect({ host, port: Number(port) });
s.on('data', (c) => { if (out.firstByteAt === null) out.firstByteAt = now(); chunks.push(c); poke(); });
s.on('end', () => { out.endAt = now(); closed = true; poke(); });
s.on('error', (e) => { if (!out.error) out.error = e.code || e.message; });
s.on('close', () => { if (out.closeAt === null) out.closeAt = now(); closed = true; poke(); if (!out.connected) finish(); });
s.on('connect', async () => {
  t0 = Date.now();
  out.connected = true;
  for (const st of plan) {
    if (st.op === 'write') { if (!s.destroyed) s.write(Buffer.from(st.b64, 'base64')); }
    else if (st.op === 'sleep') await new Promise((r) => setTimeout(r, st.ms));
    else if (st.op === 'end') s.end();
    else if (st.op === 'mark') out.marks[st.name] = now();
    else if (st.op === 'waitFor') {
      const needle = Buffer.from(st.text, 'latin1');
      if (!await waitUntil(() => all().includes(needle), st.ms)) out.timeouts.push(st.name || st.text);
    } else if (st.op === 'waitResponses') {
      if (!await waitUntil(() => finals() >= st.n, st.ms)) out.timeouts.push('responses');
    } else if (st.op === 'waitClose') {
      if (!await waitUntil(() => closed, st.ms, true)) out.timeouts.push('close');
    }
  }
  out.marks.planDone = now();
  s.destroy();
  setImmediate(finish);
});
`;

// Test 7's client: POSTs a tools/call whose answer is a large event stream,
// reads the first event, pauses (stops reading) until SIGUSR2, then reads
// the rest and checks every event: in order (params.data.seq 0, 1, ...) and
// intact (params.data.pad as the server made it). Prints "first", "paused",
// "resumed" and finally "result {JSON}".
const SSE_READER = String.raw`
const http = require('http');
const [host, port, nStr, padLenStr] = process.argv.slice(1);
const N = Number(nStr);
const PAD = Number(padLenStr);
const padFor = (seq) => { const u = seq.toString(36) + ':'; return u.repeat(Math.ceil(PAD / u.length)).slice(0, PAD); };
const say = (s) => process.stdout.write(s + '\n');
const out = { pid: process.pid, status: null, ctype: null, events: 0, bad: null, result: null,
  bytes: 0, error: null, trailing: null, complete: false };
let res0 = null;
let paused = false;
let resumeAsked = false;
let finished = false;
function done() {
  if (finished) return;
  finished = true;
  process.stdout.write('result ' + JSON.stringify(out) + '\n', () => process.exit(0));
}
process.on('SIGUSR2', () => {
  resumeAsked = true;
  if (paused) { paused = false; say('resumed'); res0.resume(); }
});
setTimeout(() => { out.error = out.error || 'timed out'; done(); }, 150000);
function handle(ev) {
  const data = ev.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
  let m;
  try { m = JSON.parse(data); } catch {
    if (!out.bad) out.bad = 'unparsable event after ' + out.events + ': ' + JSON.stringify(ev.slice(0, 200));
    return;
  }
  if (m.id !== undefined) { out.result = m; return; }
  const p = m.params && m.params.data;
  if (!out.bad && (!p || p.seq !== out.events || p.pad !== padFor(out.events))) {
    out.bad = 'event #' + out.events + ': ' + (p ? 'seq ' + p.seq + ', pad intact: ' + (p.pad === padFor(p.seq))
      : JSON.stringify(m).slice(0, 200));
  }
  out.events++;
  if (out.events === 1) {
    say('first');
    if (!resumeAsked) { paused = true; res0.pause(); say('paused'); }
  }
}
const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'stream', arguments: { n: N } } });
// A keep-alive agent: no "Connection: close" (see test 11 for that case).
const req = http.request({ host, port: Number(port), method: 'POST', path: '/mcp',
  agent: new http.Agent({ keepAlive: true }),
  headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream',
    'content-length': Buffer.byteLength(body) } }, (res) => {
  res0 = res;
  out.status = res.statusCode;
  out.ctype = res.headers['content-type'];
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (d) => {
    out.bytes += d.length;
    text += d;
    let i;
    while ((i = text.indexOf('\n\n')) >= 0) {
      const ev = text.slice(0, i);
      text = text.slice(i + 2);
      handle(ev);
    }
  });
  res.on('end', () => { out.complete = res.complete; out.trailing = text.length; done(); });
  res.on('error', (e) => { out.error = 'response: ' + (e.code || e.message); done(); });
  res.on('aborted', () => { out.error = 'response aborted'; });
});
req.on('error', (e) => { out.error = 'request: ' + (e.code || e.message); done(); });
req.end(body);
`;

// Tests 3b and 8's client: writes N pipelined JSON-RPC POSTs of PAD-byte
// arguments on one connection, DELAY ms after it connected (default 0),
// each as soon as the socket takes it (write() true, or after 'drain').
// Prints a progress line every 100 ms:
// "p {queued, flushed, bufferSize, waiting, responses}" (flushed: bytes
// whose write completed, i.e. handed to the kernel), then "result {JSON}"
// once N responses arrived, the connection closed, or after 120 s.
const UPLOADER = String.raw`
const net = require('net');
const [host, port, nStr, padStr, delayStr] = process.argv.slice(1);
const N = Number(nStr);
const PAD = Number(padStr);
${parseResponses.toString()}
const padFor = (i) => { const u = 'req' + i + ';'; return u.repeat(Math.ceil(PAD / u.length)).slice(0, PAD); };
const say = (s) => process.stdout.write(s + '\n');
const out = { pid: process.pid, queued: 0, flushed: 0, waiting: false, drains: 0, written: 0,
  responses: [], error: null, endAt: null, closeAt: null };
const t0 = Date.now();
const chunks = [];
let finished = false;
function snapshot() {
  return { queued: out.queued, flushed: out.flushed, bufferSize: s.writableLength, waiting: out.waiting,
    written: out.written, responses: out.responses.length };
}
function done() {
  if (finished) return;
  finished = true;
  clearInterval(iv);
  say('p ' + JSON.stringify(snapshot()));
  process.stdout.write('result ' + JSON.stringify(out) + '\n', () => process.exit(0));
}
const s = net.connect({ host, port: Number(port) });
const iv = setInterval(() => say('p ' + JSON.stringify(snapshot())), 100);
setTimeout(() => { out.error = out.error || 'timed out'; done(); }, 120000);
s.on('data', (c) => {
  chunks.push(c);
  const rs = parseResponses(Buffer.concat(chunks)).filter((r) => r.complete && r.status >= 200);
  out.responses = rs.map((r) => ({ status: r.status, body: r.body.toString('utf8').slice(0, 300) }));
  if (rs.length >= N) done();
});
s.on('end', () => { out.endAt = Date.now() - t0; });
s.on('error', (e) => { if (!out.error) out.error = e.code || e.message; });
s.on('close', () => { out.closeAt = Date.now() - t0; done(); });
s.on('connect', async () => {
  await new Promise((r) => setTimeout(r, Number(delayStr || 0)));
  for (let i = 1; i <= N && !s.destroyed; i++) {
    const body = JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call',
      params: { name: 'upload', arguments: { data: padFor(i) } } });
    const b = Buffer.from('POST /mcp HTTP/1.1\r\nHost: ' + host + ':' + port + '\r\n' +
      'Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n' +
      'Content-Length: ' + Buffer.byteLength(body) + '\r\n\r\n' + body);
    out.queued += b.length;
    out.written = i;
    const ok = s.write(b, (e) => { if (!e) out.flushed += b.length; });
    if (!ok) {
      out.waiting = true;
      await new Promise((r) => {
        const go = () => { s.off('drain', go); s.off('close', go); r(); };
        s.on('drain', go);
        s.on('close', go);
      });
      out.waiting = false;
      out.drains++;
    }
  }
});
`;

// ------------------------------------------------------------------ helpers

let d; // the daemon
let cg; // the enforced cgroup
const up = {}; // upstreams by name: {port, st, close}

async function statusJson() {
  const r = await d.cli(['status', '--json']);
  assert.equal(r.code, 0, `status --json failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function until(fn, what, ms = 10000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

// The "result {JSON}" line of a client script from spawnInCgroup, once it
// has exited (killed after ms); closed is the promise of its close, made
// when it was started.
async function resultOf(p, closed, ms = 120000) {
  const killer = setTimeout(() => { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }, ms);
  await closed;
  clearTimeout(killer);
  const line = p.out.split('\n').find((l) => l.startsWith('result '));
  assert.ok(line, `the client printed no result: ${p.out.slice(-2000)}${p.err}`);
  return JSON.parse(line.slice(7));
}

/** Polls QUERY (rows as objects) until PRED(rows); fails with the last rows. */
async function waitRows(query, pred, what, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const rows = await d.sqlObjects(query);
    if (pred(rows)) return rows;
    if (Date.now() > deadline) {
      assert.fail(`${what}: not recorded within ${ms} ms; rows now: ${JSON.stringify(rows).slice(0, 3000)}\n` +
        `daemon log (tail):\n${logTail()}`);
    }
    await sleep(100);
  }
}

function logTail(n = 25) {
  return d.log().trimEnd().split('\n').slice(-n).join('\n');
}

function assertDaemonAlive() {
  assert.equal(d.proc.exitCode, null, `the daemon exited:\n${logTail(60)}`);
  assert.equal(d.proc.signalCode, null, `the daemon died:\n${logTail(60)}`);
}

/** VmRSS of PID in bytes. */
function rss(pid) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB$/m);
  return Number(m[1]) * 1024;
}

const W = (s) => ({ op: 'write', b64: Buffer.from(s).toString('base64') });

/** Runs RAW_CLIENT in the cgroup (or, with {direct: true}, outside it:
 *  straight to the server) against upstream NAME with PLAN; adds {buf, text,
 *  responses (parsed), finals (responses >= 200)} to its JSON. */
async function rawClient(name, plan, totalMs = 10000, { direct = false } = {}) {
  const b64 = Buffer.from(JSON.stringify(plan)).toString('base64');
  const args = ['-e', RAW_CLIENT, '127.0.0.1', String(up[name].port), b64, String(totalMs)];
  const r = direct ? await run(NODE, args, { timeout: totalMs + 10000 })
    : await runInCgroup(cg, NODE, args, { timeout: totalMs + 10000 });
  assert.equal(r.code, 0, `raw client failed (exit ${r.code ?? r.signal}): ${r.stderr}`);
  const o = JSON.parse(r.stdout);
  o.since = r.since;
  o.buf = Buffer.from(o.data, 'base64');
  o.text = o.buf.toString('latin1');
  o.responses = parseResponses(o.buf);
  o.finals = o.responses.filter((x) => x.status >= 200);
  return o;
}

const show = (o) => JSON.stringify({ ...o, data: undefined, buf: undefined, responses: undefined, finals: undefined,
  text: o.text.length > 1500 ? `${o.text.slice(0, 1500)}…(${o.text.length} bytes)` : o.text });

function rpc(id, method, params = {}) {
  return JSON.stringify({ jsonrpc: '2.0', id, method, params });
}

function post(port, path, body, extra = '') {
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
    `Accept: application/json, text/event-stream\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

function jsonReply(res, obj, status = 200) {
  const b = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) });
  res.end(b);
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

function closer(server, sockets) {
  return () => new Promise((r) => {
    for (const s of sockets) s.destroy();
    server.close(() => r());
  });
}

// ---------------------------------------------------------------- upstreams

// "api": a node http server for most tests. Every request is logged in
// st.reqs: {t, method, url, headers, rawHeaders, body, sock, respondedAt}.
async function startApi() {
  const st = { reqs: [] };
  const sockets = new Set();
  let sockSeq = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const rec = {
        t: Date.now(), method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'), sock: req.socket.mwId, respondedAt: null,
      };
      st.reqs.push(rec);
      let msg = null;
      try { msg = JSON.parse(rec.body); } catch { /* not JSON */ }
      const id = msg?.id ?? null;
      const answer = (obj) => { rec.respondedAt = Date.now(); jsonReply(res, obj); };
      switch (req.url) {
        case '/slow-first': // id 1 answered 600 ms late, the others at once
          if (id === 1) setTimeout(() => answer({ jsonrpc: '2.0', id, result: { answered: id } }), 600);
          else answer({ jsonrpc: '2.0', id, result: { answered: id } });
          return;
        case '/sse-quiet': { // one event, quiet 2.25 idle timeouts, then the result
          res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
          res.write(`data: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message',
            params: { level: 'info', data: 'first-event' } })}\n\n`);
          setTimeout(() => {
            res.end(`data: ${JSON.stringify({ jsonrpc: '2.0', id,
              result: { content: [{ type: 'text', text: 'second-event' }] } })}\n\n`);
            rec.respondedAt = Date.now();
          }, IDLE_TIMEOUT_MS * 2.25);
          return;
        }
        case '/sse-slow': { // three notifications 200 ms apart, then the result
          const ev = (m) => `data: ${JSON.stringify(m)}\n\n`;
          res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
          res.on('close', () => { if (!res.writableFinished) rec.aborted = true; });
          let i = 0;
          const iv = setInterval(() => {
            if (res.destroyed) { clearInterval(iv); return; }
            if (i < 3) {
              res.write(ev({ jsonrpc: '2.0', method: 'notifications/progress',
                params: { progressToken: id, progress: i + 1, total: 3 } }));
            } else {
              clearInterval(iv);
              rec.respondedAt = Date.now();
              res.end(ev({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'done' }] } }));
            }
            i++;
          }, 200);
          return;
        }
        case '/big': // a JSON response of 2 × max_body_bytes, with Content-Length
        case '/big-chunked': // the same, chunked
        case '/small': { // a JSON response of 1 MiB (under the limit)
          const n = req.url === '/small' ? MiB : 2 * MAX_BODY;
          const b = JSON.stringify({ jsonrpc: '2.0', id, result: { blob: 'BIGPAYLOAD'.repeat(n / 10) } });
          rec.respondedAt = Date.now();
          if (req.url === '/big-chunked') {
            res.writeHead(200, { 'Content-Type': 'application/json' });
            for (let i = 0; i < b.length; i += 64 * 1024) res.write(b.slice(i, i + 64 * 1024));
            res.end();
          } else {
            res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) });
            res.end(b);
          }
          return;
        }
        default:
          answer({ jsonrpc: '2.0', id, result: { path: req.url, len: rec.body.length } });
      }
    });
  });
  server.keepAliveTimeout = 60000; // the daemon's idle timeout, not ours, must close connections
  server.on('connection', (s) => {
    s.mwId = ++sockSeq;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return { port: await listen(server), st, close: closer(server, sockets) };
}

// "halfclose": a raw server that answers a request only after the client's
// FIN arrived, and then keeps its own side open.
async function startHalfClose() {
  const st = { conns: [] };
  const sockets = new Set();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    const c = { bytes: Buffer.alloc(0), finAt: null, bytesAtFin: null, completeAtFin: null, respondedAt: null,
      closedAt: null, error: null };
    st.conns.push(c);
    const complete = () => {
      const end = c.bytes.indexOf('\r\n\r\n');
      if (end < 0) return false;
      const m = c.bytes.subarray(0, end).toString('latin1').match(/\r\ncontent-length:\s*(\d+)/i);
      return c.bytes.length === end + 4 + (m ? Number(m[1]) : 0);
    };
    s.on('data', (chunk) => { c.bytes = Buffer.concat([c.bytes, chunk]); });
    s.on('end', () => {
      c.finAt = Date.now();
      c.bytesAtFin = c.bytes.length;
      c.completeAtFin = complete();
      const body = c.bytes.toString('utf8').split('\r\n\r\n')[1] ?? '';
      let id = null;
      try { id = JSON.parse(body).id; } catch { /* not JSON */ }
      setTimeout(() => {
        const b = JSON.stringify({ jsonrpc: '2.0', id, result: { afterFin: true, pad: 'h'.repeat(200000) } });
        c.respondedAt = Date.now();
        s.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`);
      }, 200);
    });
    s.on('error', (e) => { c.error = e.code || e.message; });
    s.on('close', () => { c.closedAt = Date.now(); sockets.delete(s); });
  });
  return { port: await listen(server), st, close: closer(server, sockets) };
}

const STREAM_EVENTS = 2560; // × ~16 KiB ≈ 40 MiB
const STREAM_PAD = 16000;
const padFor = (seq) => {
  const u = `${seq.toString(36)}:`;
  return u.repeat(Math.ceil(STREAM_PAD / u.length)).slice(0, STREAM_PAD);
};

// "stream": answers a POST with a text/event-stream of STREAM_EVENTS
// notifications (~16 KiB each) written as fast as res.write() allows, then
// the result. st: written (bytes given to res.write), flushed (bytes whose
// write callback ran: handed to the kernel), falses (write() returned
// false), waiting (blocked on 'drain'), drainAt (last 'drain').
async function startStream() {
  const st = { written: 0, flushed: 0, falses: 0, waiting: false, drainAt: null, waitSince: null,
    flushLog: [], done: false, error: null, total: 0, requests: 0 };
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      st.requests++;
      let id = null;
      try { id = JSON.parse(Buffer.concat(chunks).toString('utf8')).id; } catch { /* not JSON */ }
      res.on('error', (e) => { st.error = e.code || e.message; });
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      for (let seq = 0; seq < STREAM_EVENTS; seq++) {
        const ev = `data: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message',
          params: { level: 'info', data: { seq, pad: padFor(seq) } } })}\n\n`;
        const len = Buffer.byteLength(ev);
        st.total += len;
        st.written += len;
        const ok = res.write(ev, (e) => { if (!e) st.flushed += len; });
        if (!ok) {
          st.falses++;
          st.waiting = true;
          st.waitSince = Date.now();
          await new Promise((r) => {
            const go = () => { res.off('drain', go); res.off('close', go); r(); };
            res.on('drain', go);
            res.on('close', go);
          });
          st.waiting = false;
          st.drainAt = Date.now();
          if (res.destroyed) { st.error = st.error || 'response closed while streaming'; return; }
        }
      }
      res.end(`data: ${JSON.stringify({ jsonrpc: '2.0', id, result: { events: STREAM_EVENTS } })}\n\n`);
      st.done = true;
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  return { port: await listen(server), st, close: closer(server, sockets) };
}

// "slowreader": accepts, reads nothing until st.release(); then parses the
// requests and answers each with a small JSON-RPC result naming the length
// of what it received. st.reqs: [{id, len, padOk}].
async function startSlowReader() {
  const st = { conns: 0, reqs: [], released: false, bytes: 0 };
  const sockets = new Set();
  const padFor8 = (i, n) => { const u = `req${i};`; return u.repeat(Math.ceil(n / u.length)).slice(0, n); };
  const server = net.createServer({ pauseOnConnect: true }, (s) => {
    st.conns++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.on('data', (chunk) => { st.bytes += chunk.length; });
    eachRequest(s, (head, body) => {
      const len = Buffer.byteLength(body);
      let msg = null;
      try { msg = JSON.parse(body); } catch { /* not JSON */ }
      const data = msg?.params?.arguments?.data;
      st.reqs.push({ id: msg?.id ?? null, len, te: /\r\ntransfer-encoding:/i.test(head),
        padOk: typeof data === 'string' && data === padFor8(msg.id, data.length), padLen: data?.length });
      const resp = JSON.stringify({ jsonrpc: '2.0', id: msg?.id ?? null, result: { len } });
      s.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(resp)}\r\n\r\n${resp}`);
    });
    if (st.released) s.resume();
  });
  st.release = () => {
    st.released = true;
    for (const s of sockets) s.resume();
  };
  return { port: await listen(server), st, close: closer(server, sockets) };
}

// -------------------------------------------------------------------- setup

before(async () => {
  [up.api, up.halfclose, up.stream, up.slowreader] =
    await Promise.all([startApi(), startHalfClose(), startStream(), startSlowReader()]);
  up.down = { port: await freePort(), close: async () => {} }; // nothing listens there
  const asan = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=1'].filter(Boolean).join(':');
  d = await startDaemon({
    limits: { header_timeout_ms: HEADER_TIMEOUT_MS, idle_timeout_ms: IDLE_TIMEOUT_MS, max_body_bytes: MAX_BODY,
      body_timeout_ms: BODY_TIMEOUT_MS },
    splice: SPLICE,
    servers: Object.entries(up).map(([name, u]) => ({ name, address: `127.0.0.1:${u.port}` })),
  }, { env: { ASAN_OPTIONS: asan } });
  cg = makeCgroup(uniqueName('mw-test-http'));
  const r = await d.cli(['enforce', cg]);
  assert.equal(r.code, 0, `enforce ${cg} failed: ${r.stdout}${r.stderr}\ndaemon log:\n${d.log()}`);
});

after(async () => {
  try {
    await d?.cleanup();
  } finally {
    for (const u of Object.values(up)) await u.close?.();
    await cleanupAll();
  }
});

// -------------------------------------------------------------------- tests

test('1. an incomplete request head gets 408 with a reason within the header timeout, then the close', async () => {
  const n0 = up.api.st.reqs.length;
  const o = await rawClient('api', [
    W(`POST /t1 HTTP/1.1\r\nHost: 127.0.0.1:${up.api.port}\r\nContent-Type: appl`),
    { op: 'mark', name: 'sent' },
    { op: 'waitClose', ms: 5000 },
  ]);
  assert.deepEqual(o.timeouts, [], `no close within 5 s: ${show(o)}`);
  assert.equal(o.finals.length, 1, `want exactly one response: ${show(o)}`);
  const [r] = o.finals;
  assert.equal(r.status, 408, show(o));
  assert.equal(r.complete, true, show(o));
  assert.match(r.body.toString('utf8'), /request not received in time/, 'the body gives the reason');
  const waited = o.firstByteAt - o.marks.sent;
  assert.ok(waited >= HEADER_TIMEOUT_MS - 100 && waited <= 2000,
    `408 after ${waited} ms (header_timeout_ms ${HEADER_TIMEOUT_MS}): ${show(o)}`);
  assert.equal(o.error, null, `the connection was reset, not closed: ${show(o)}`);
  assert.ok(o.endAt !== null && o.endAt - o.firstByteAt < 1000, `no FIN after the 408: ${show(o)}`);
  assert.equal(up.api.st.reqs.length, n0, 'the incomplete request reached the server');

  const rows = await waitRows(`select http_status, detail, server from mcpwarden.http_errors where ${rowsOf(o)}`,
    (x) => x.length >= 1, `the 408 of pid ${o.pid}`);
  assert.deepEqual(rows.map((x) => [x.http_status, x.server]), [[408, 'api']], JSON.stringify(rows));
  assert.match(rows[0].detail, /not received in time/);
});

test('1b. a partial request head right behind a complete request also gets 408 within the header timeout', async () => {
  const n0 = up.api.st.reqs.length;
  const o = await rawClient('api', [
    W(post(up.api.port, '/t1b', rpc(1, 'ping')) +
      `POST /t1b HTTP/1.1\r\nHost: 127.0.0.1:${up.api.port}\r\nContent-Ty`),
    { op: 'mark', name: 'sent' },
    { op: 'waitClose', ms: 5000 },
  ]);
  assert.deepEqual(o.timeouts, [], `no close within 5 s: ${show(o)}`);
  assert.deepEqual(o.finals.map((r) => r.status), [200, 408], show(o));
  assert.match(o.finals[1].body.toString('utf8'), /request not received in time/);
  assert.ok(o.endAt - o.marks.sent <= 2000,
    `closed ${o.endAt - o.marks.sent} ms after the partial head (header_timeout_ms ${HEADER_TIMEOUT_MS}): ${show(o)}`);
  assert.equal(up.api.st.reqs.length - n0, 1, 'the server got other than the one complete request');
  await waitRows(`select http_status from mcpwarden.http_errors where ${rowsOf(o)}`,
    (x) => x.length === 1 && x[0].http_status === 408, `the 408 of pid ${o.pid}`);
});

test('1c. a request body that trickles in gets 408 within body_timeout_ms and never reaches the server', async () => {
  // each byte keeps the idle timer fresh; the body so far is held
  const n0 = up.api.st.reqs.length;
  const head = `POST /t1c HTTP/1.1\r\nHost: 127.0.0.1:${up.api.port}\r\nContent-Type: application/json\r\n` +
    'Content-Length: 100\r\n\r\n{"jsonrpc":';
  const plan = [W(head), { op: 'mark', name: 'sent' }];
  for (let i = 0; i < 12; i++) plan.push({ op: 'sleep', ms: 300 }, W(' '));
  plan.push({ op: 'waitClose', ms: 3000 });
  const o = await rawClient('api', plan);
  assert.deepEqual(o.finals.map((r) => r.status), [408], show(o));
  assert.match(o.finals[0].body.toString('utf8'), /request body not received in time/);
  const waited = o.firstByteAt - o.marks.sent;
  assert.ok(waited >= BODY_TIMEOUT_MS - 100 && waited <= BODY_TIMEOUT_MS + 1500,
    `408 after ${waited} ms (body_timeout_ms ${BODY_TIMEOUT_MS}): ${show(o)}`);
  assert.equal(up.api.st.reqs.length, n0, 'the incomplete request reached the server');
  const st = JSON.parse((await d.cli(['status', '--json'])).stdout);
  assert.ok(st.proxy.body_timeouts >= 1, JSON.stringify(st.proxy));
});

test('2a. a keep-alive connection with nothing in flight is closed after idle_timeout_ms', async () => {
  const o = await rawClient('api', [
    W(post(up.api.port, '/idle', rpc(1, 'ping'))),
    { op: 'waitResponses', n: 1, ms: 3000 },
    { op: 'mark', name: 'answered' },
    { op: 'waitClose', ms: IDLE_TIMEOUT_MS * 3 },
  ], IDLE_TIMEOUT_MS * 3 + 5000);
  assert.deepEqual(o.timeouts, [], `the idle connection was not closed within ${IDLE_TIMEOUT_MS * 3} ms: ${show(o)}`);
  assert.equal(o.finals.length, 1, show(o));
  assert.equal(o.finals[0].status, 200, show(o));
  assert.equal(JSON.parse(o.finals[0].body).id, 1);
  assert.ok(!/close/i.test(o.finals[0].headers.connection ?? ''), `the response itself asked to close: ${show(o)}`);
  const idle = o.endAt - o.marks.answered;
  assert.ok(idle >= IDLE_TIMEOUT_MS - 200 && idle <= IDLE_TIMEOUT_MS + 1500,
    `closed ${idle} ms after the response (idle_timeout_ms ${IDLE_TIMEOUT_MS}): ${show(o)}`);
  assert.equal(o.error, null, show(o));
});

test('2b. a quiet SSE response in flight outlives idle_timeout_ms', async () => {
  const o = await rawClient('api', [
    W(post(up.api.port, '/sse-quiet', rpc(7, 'tools/call', { name: 'quiet', arguments: {} }))),
    { op: 'waitFor', text: 'first-event', ms: 3000 },
    { op: 'mark', name: 'first' },
    { op: 'waitFor', text: 'second-event', ms: IDLE_TIMEOUT_MS * 4 },
    { op: 'mark', name: 'second' },
    { op: 'waitResponses', n: 1, ms: 3000 },
  ], IDLE_TIMEOUT_MS * 4 + 8000);
  assert.deepEqual(o.timeouts, [], `the stream did not complete: ${show(o)}`);
  assert.ok(o.closeAt === null || o.closeAt >= o.marks.planDone, `the daemon closed the quiet stream: ${show(o)}`);
  assert.equal(o.endAt, null, `the daemon closed the quiet stream: ${show(o)}`);
  assert.ok(o.marks.second - o.marks.first >= IDLE_TIMEOUT_MS * 2,
    `the stream was quiet only ${o.marks.second - o.marks.first} ms`);
  const [r] = o.finals;
  assert.equal(r.status, 200, show(o));
  assert.match(r.headers['content-type'], /^text\/event-stream/);
  assert.equal(r.complete, true, show(o));
  const events = r.body.toString('utf8').split('\n\n').filter(Boolean).map((e) => JSON.parse(e.replace(/^data: /, '')));
  assert.deepEqual(events.map((e) => e.params?.data ?? e.result?.content[0].text), ['first-event', 'second-event']);
  const rows = await waitRows(`select rpc_id, tool, response, is_error from mcpwarden.tool_calls where ${rowsOf(o)}`,
    (x) => x.length === 1 && x[0].is_error !== null, `the tools/call of pid ${o.pid} with its response`);
  assert.equal(rows[0].rpc_id, '7');
  assert.equal(rows[0].is_error, false);
  assert.equal(rows[0].response.content[0].text, 'second-event');
});

test('3. two pipelined POSTs in one write get their responses in order, both recorded and paired', async () => {
  const n0 = up.api.st.reqs.length;
  const o = await rawClient('api', [
    W(post(up.api.port, '/slow-first', rpc(1, 'tools/call', { name: 'first', arguments: { n: 1 } })) +
      post(up.api.port, '/slow-first', rpc(2, 'tools/call', { name: 'second', arguments: { n: 2 } }))),
    { op: 'waitResponses', n: 2, ms: 5000 },
  ]);
  assert.deepEqual(o.timeouts, [], show(o));
  assert.deepEqual(o.finals.map((r) => r.status), [200, 200], show(o));
  assert.deepEqual(o.finals.map((r) => JSON.parse(r.body).id), [1, 2], `responses out of order: ${show(o)}`);
  assert.deepEqual(o.finals.map((r) => JSON.parse(r.body).result.answered), [1, 2]);
  // The upstream saw both on one connection and answered the second first.
  const [q1, q2] = up.api.st.reqs.slice(n0);
  assert.equal(up.api.st.reqs.length - n0, 2);
  assert.equal(q1.sock, q2.sock, 'the two requests reached the server on different connections');
  assert.ok(q2.t < q1.respondedAt, 'the daemon held the second request back until the first was answered');
  assert.ok(q2.respondedAt < q1.respondedAt, 'the server did not answer the second request first');

  const rows = await waitRows(
    `select rpc_id, tool, arguments, response, is_error, conn_id from mcpwarden.tool_calls where ${rowsOf(o)} order by seq`,
    (x) => x.length === 2 && x.every((r) => r.is_error !== null), `both calls of pid ${o.pid} with responses`);
  assert.deepEqual(rows.map((r) => [r.rpc_id, r.tool, r.arguments.n, r.response.answered, r.is_error]),
    [['1', 'first', 1, 1, false], ['2', 'second', 2, 2, false]]);
  assert.equal(rows[0].conn_id, rows[1].conn_id);
});

test('3b. 200 pipelined requests of 64 KiB, written as fast as the socket takes them, reach the server intact and in order', async (t) => {
  const N = 200;
  const PAD = 64 * 1024;
  const n0 = up.api.st.reqs.length;
  const k0 = SPLICE && (await statusJson()).kernel;
  // the first write after the daemon has taken the connection: with splice
  // on, the requests start spliced, until the client outruns the daemon
  const p = spawnInCgroup(cg, NODE, ['-e', UPLOADER, '127.0.0.1', String(up.api.port), String(N), String(PAD), '300']);
  const closed = new Promise((res) => p.on('close', (code, signal) => res({ code, signal })));
  const out = await resultOf(p, closed, 150000);
  assert.equal(out.error, null, `${out.error}; ${out.responses.length} responses; daemon log (tail):\n${logTail()}`);
  assert.deepEqual(out.responses.map((r) => r.status), Array(N).fill(200));
  assert.deepEqual(out.responses.map((r) => JSON.parse(r.body).id), Array.from({ length: N }, (_, i) => i + 1));
  const reqs = up.api.st.reqs.slice(n0);
  assert.equal(reqs.length, N);
  assert.equal(new Set(reqs.map((r) => r.sock)).size, 1, 'the requests reached the server on several connections');
  const padFor = (i) => { const u = 'req' + i + ';'; return u.repeat(Math.ceil(PAD / u.length)).slice(0, PAD); };
  const bad = reqs.findIndex((r, i) => {
    try { return JSON.parse(r.body).params.arguments.data !== padFor(i + 1); } catch { return true; }
  });
  assert.equal(bad, -1, `request ${bad + 1} reached the server damaged: ${reqs[bad]?.body.slice(0, 200)}`);
  if (SPLICE) {
    const k1 = (await statusJson()).kernel;
    const spliced = k1.splice_redirect - k0.splice_redirect;
    t.diagnostic(`${spliced} messages spliced before the client outran the daemon`);
    assert.ok(spliced > 0, `nothing was spliced: ${JSON.stringify({ k0, k1 })}`);
    assert.equal(k1.splice_miss - k0.splice_miss, 1, `the connection did not leave the splice once: ${JSON.stringify({ k0, k1 })}`);
  }
  await waitRows(`select count(*) as n from mcpwarden.tool_calls where ${rowsOf({ pid: out.pid, since: p.since })} and is_error = false`,
    (x) => Number(x[0].n) === N, `the ${N} calls of pid ${out.pid}`, 30000);
});

test('4. Expect: 100-continue is answered by the daemon; the server gets the body with Content-Length', async () => {
  const n0 = up.api.st.reqs.length;
  const body = rpc(11, 'tools/call', { name: 'expect', arguments: { text: 'x'.repeat(3000) } });
  const o = await rawClient('api', [
    W(`POST /expect HTTP/1.1\r\nHost: 127.0.0.1:${up.api.port}\r\nContent-Type: application/json\r\n` +
      `Accept: application/json, text/event-stream\r\nExpect: 100-continue\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`),
    { op: 'waitFor', name: '100 Continue', text: 'HTTP/1.1 100 Continue\r\n\r\n', ms: 2000 },
    { op: 'mark', name: 'continued' },
    W(body),
    { op: 'waitResponses', n: 1, ms: 5000 },
  ]);
  assert.deepEqual(o.timeouts, [], `no 100 Continue or no final response: ${show(o)}`);
  assert.ok(o.text.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), `the first bytes are not a 100 Continue: ${show(o)}`);
  assert.deepEqual(o.responses.map((r) => r.status), [100, 200], show(o));
  assert.equal(JSON.parse(o.finals[0].body).id, 11);
  const reqs = up.api.st.reqs.slice(n0);
  assert.equal(reqs.length, 1);
  const [q] = reqs;
  assert.equal(q.headers.expect, undefined, `the server saw Expect: ${JSON.stringify(q.rawHeaders)}`);
  assert.equal(q.headers['content-length'], String(Buffer.byteLength(body)), JSON.stringify(q.rawHeaders));
  assert.equal(q.headers['transfer-encoding'], undefined);
  assert.equal(q.body, body);
  await waitRows(`select rpc_id, tool, is_error from mcpwarden.tool_calls where ${rowsOf(o)}`,
    (x) => x.length === 1 && x[0].tool === 'expect' && x[0].is_error === false, `the call of pid ${o.pid}`);
});

test('4b. an HTTP/1.0 client\'s Expect: 100-continue is ignored: its first status line is the final one', async () => {
  // RFC 9110 §10.1.1 and §15.2: no 1xx to an HTTP/1.0 client, which
  // could take it for the answer
  const n0 = up.api.st.reqs.length;
  const body = rpc(12, 'tools/call', { name: 'expect10', arguments: { text: 'y'.repeat(300) } });
  const o = await rawClient('api', [
    W(`POST /expect10 HTTP/1.0\r\nHost: 127.0.0.1:${up.api.port}\r\nContent-Type: application/json\r\n` +
      `Accept: application/json, text/event-stream\r\nExpect: 100-continue\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`),
    // time for a 100 Continue to show, were one sent
    { op: 'sleep', ms: 500 },
    W(body),
    { op: 'waitResponses', n: 1, ms: 5000 },
  ]);
  assert.deepEqual(o.timeouts, [], `no final response: ${show(o)}`);
  assert.match(o.text, /^HTTP\/1\.[01] 200 /, `the first status line is not the final one: ${show(o)}`);
  assert.deepEqual(o.responses.map((r) => r.status), [200], show(o));
  assert.equal(JSON.parse(o.finals[0].body).id, 12);
  const reqs = up.api.st.reqs.slice(n0);
  assert.equal(reqs.length, 1);
  assert.equal(reqs[0].body, body);
});

test('5. a chunked request body reaches the server as the same bytes with Content-Length', async () => {
  const n0 = up.api.st.reqs.length;
  const body = rpc(21, 'tools/call', { name: 'chunked', arguments: { text: 'é ünïcødé ' + 'c'.repeat(5000) } });
  const b = Buffer.from(body);
  const cuts = [0, 1, 100, 4096, 4097, b.length];
  const plan = [W(`POST /chunked HTTP/1.1\r\nHost: 127.0.0.1:${up.api.port}\r\nContent-Type: application/json\r\n` +
    'Accept: application/json, text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n')];
  for (let i = 1; i < cuts.length; i++) {
    const part = b.subarray(cuts[i - 1], cuts[i]);
    plan.push({ op: 'write', b64: Buffer.concat([Buffer.from(`${part.length.toString(16).toUpperCase()}\r\n`),
      part, Buffer.from('\r\n')]).toString('base64') });
    plan.push({ op: 'sleep', ms: 20 });
  }
  plan.push(W('0\r\n\r\n'), { op: 'waitResponses', n: 1, ms: 5000 });
  const o = await rawClient('api', plan);
  assert.deepEqual(o.timeouts, [], show(o));
  assert.equal(o.finals[0].status, 200, show(o));
  assert.deepEqual(JSON.parse(o.finals[0].body), { jsonrpc: '2.0', id: 21, result: { path: '/chunked', len: body.length } });
  const reqs = up.api.st.reqs.slice(n0);
  assert.equal(reqs.length, 1);
  const [q] = reqs;
  assert.equal(q.headers['transfer-encoding'], undefined, `the server got chunked framing: ${JSON.stringify(q.rawHeaders)}`);
  assert.equal(q.headers['content-length'], String(b.length), JSON.stringify(q.rawHeaders));
  assert.equal(q.body, body);
  const rows = await waitRows(`select rpc_id, tool, arguments, is_error from mcpwarden.tool_calls where ${rowsOf(o)}`,
    (x) => x.length === 1 && x[0].is_error !== null, `the call of pid ${o.pid}`);
  assert.equal(rows[0].rpc_id, '21');
  assert.equal(rows[0].arguments.text, JSON.parse(body).params.arguments.text);
  assert.equal(rows[0].is_error, false);
});

test('6. after the client half-closes it still gets the whole response, then the close; the server sees the FIN', async () => {
  const n0 = up.halfclose.st.conns.length;
  const body = rpc(31, 'tools/call', { name: 'halfclose', arguments: {} });
  const req = post(up.halfclose.port, '/mcp', body);
  const o = await rawClient('halfclose', [W(req), { op: 'end' }, { op: 'mark', name: 'fin' }, { op: 'waitClose', ms: 5000 }]);
  assert.deepEqual(o.timeouts, [], `not closed after the response: ${show(o)}`);
  assert.equal(o.error, null, show(o));
  assert.equal(o.finals.length, 1, show(o));
  const [r] = o.finals;
  assert.equal(r.status, 200, show(o));
  assert.equal(r.complete, true, `the response was cut short: ${show(o)}`);
  const j = JSON.parse(r.body);
  assert.equal(j.id, 31);
  assert.equal(j.result.pad.length, 200000);
  assert.ok(o.endAt !== null, `the daemon did not close after the response: ${show(o)}`);

  assert.equal(up.halfclose.st.conns.length - n0, 1);
  const c = up.halfclose.st.conns.at(-1);
  assert.ok(c.finAt, `the server never saw the FIN: ${JSON.stringify({ ...c, bytes: c.bytes.length })}`);
  assert.equal(c.completeAtFin, true, `the FIN came before the whole request: ${c.bytes.toString('latin1').slice(0, 400)}`);
  assert.equal(c.bytes.toString('utf8').split('\r\n\r\n')[1], body);
  assert.ok(c.respondedAt > c.finAt, 'the server answered before the FIN');
  await until(async () => !(await statusJson()).connections.some((x) => x.pid === o.pid),
    'the daemon to drop the connection', 5000);
  await waitRows(`select rpc_id, response, is_error from mcpwarden.tool_calls where ${rowsOf(o)}`,
    (x) => x.length === 1 && x[0].is_error === false && x[0].response.afterFin === true, `the call of pid ${o.pid}`);
});

test('7. backpressure server→client: a paused client blocks the server; the daemon holds little; nothing is lost', async (t) => {
  const st = up.stream.st;
  const rss0 = rss(d.proc.pid);
  const p = spawnInCgroup(cg, NODE, ['-e', SSE_READER, '127.0.0.1', String(up.stream.port),
    String(STREAM_EVENTS), String(STREAM_PAD)]);
  const closed = new Promise((res) => p.on('close', (code, signal) => res({ code, signal })));
  try {
    await until(() => /^paused$/m.test(p.out) || p.exitCode !== null,
      `the client's first event (out: ${p.out} err: ${p.err})`, 20000);
    assert.match(p.out, /^paused$/m, `the client ended before the first event: ${p.out}${p.err}`);
    const t0 = Date.now();
    let rssMax = rss0;
    let mid = null;
    while (Date.now() - t0 < 3000) {
      rssMax = Math.max(rssMax, rss(d.proc.pid));
      if (!mid && Date.now() - t0 >= 1500) mid = { ...st };
      await sleep(100);
    }
    const end = { ...st };
    rssMax = Math.max(rssMax, rss(d.proc.pid));
    const ctx = JSON.stringify({ mid: { ...mid, flushLog: undefined }, end: { ...end, flushLog: undefined },
      rss0, rssMax });
    t.diagnostic(`paused client: server handed over ${(end.flushed / MiB).toFixed(1)} MiB of ` +
      `${(STREAM_EVENTS * STREAM_PAD / MiB).toFixed(0)}, write() false ${end.falses}x, blocked since ` +
      `${end.waitSince - t0} ms into the pause; daemon RSS +${((rssMax - rss0) / MiB).toFixed(1)} MiB`);
    assert.ok(end.falses > 0, `the server's write() never returned false: ${ctx}`);
    assert.equal(end.waiting, true, `the server is not blocked while the client does not read: ${ctx}`);
    assert.ok(end.waitSince - t0 < 1500, `the server was still making progress 1.5 s into the pause: ${ctx}`);
    assert.equal(end.flushed, mid.flushed, `the server kept handing bytes over while the client did not read: ${ctx}`);
    assert.ok(end.flushed < 16 * MiB, `the server handed over ${end.flushed} bytes of ${STREAM_EVENTS * STREAM_PAD}: ${ctx}`);
    assert.ok(rssMax - rss0 < 32 * MiB,
      `the daemon's RSS grew by ${((rssMax - rss0) / MiB).toFixed(1)} MiB while the client did not read: ${ctx}`);
  } finally {
    try { process.kill(p.pid, 'SIGUSR2'); } catch { /* gone */ }
  }
  const out = await resultOf(p, closed);
  assert.equal(out.error, null, JSON.stringify(out));
  assert.equal(out.status, 200);
  assert.match(out.ctype, /^text\/event-stream/);
  assert.equal(out.bad, null, `an event arrived damaged or out of order: ${out.bad}`);
  assert.equal(out.events, STREAM_EVENTS, JSON.stringify(out));
  assert.deepEqual(out.result, { jsonrpc: '2.0', id: 1, result: { events: STREAM_EVENTS } });
  assert.equal(out.complete, true);
  assert.equal(st.done, true, `the server did not finish: ${JSON.stringify({ ...st, flushLog: undefined })}`);
  const rows = await waitRows(`select count(*) filter (where kind = 'notification') as notes,
      count(*) filter (where kind = 'response') as resps from mcpwarden.messages where ${rowsOf({ pid: out.pid, since: p.since })}`,
  (x) => Number(x[0].notes) === STREAM_EVENTS && Number(x[0].resps) === 1,
  `the ${STREAM_EVENTS} notifications and the result of pid ${out.pid}`, 60000);
  assert.equal(Number(rows[0].notes), STREAM_EVENTS);
  assertDaemonAlive();
});

test('8. backpressure client→server: a server that does not read blocks the client after a bounded amount', async (t) => {
  const N = 40;
  const PAD = 1000000; // each request ~1 MB, under max_body_bytes
  const st = up.slowreader.st;
  const rss0 = rss(d.proc.pid);
  const p = spawnInCgroup(cg, NODE, ['-e', UPLOADER, '127.0.0.1', String(up.slowreader.port), String(N), String(PAD), '300']);
  const closed = new Promise((res) => p.on('close', (code, signal) => res({ code, signal })));
  const progress = () => {
    const ls = p.out.split('\n').filter((l) => l.startsWith('p '));
    return ls.length ? JSON.parse(ls.at(-1).slice(2)) : null;
  };
  try {
    await until(() => progress()?.queued > 0 || p.exitCode !== null, `the client to start (${p.out}${p.err})`, 10000);
    const t0 = Date.now();
    let rssMax = rss0;
    let mid = null;
    while (Date.now() - t0 < 3000) {
      rssMax = Math.max(rssMax, rss(d.proc.pid));
      if (!mid && Date.now() - t0 >= 1500) mid = progress();
      await sleep(100);
    }
    const end = progress();
    rssMax = Math.max(rssMax, rss(d.proc.pid));
    const ctx = JSON.stringify({ mid, end, rss0, rssMax, upstreamConns: st.conns });
    t.diagnostic(`non-reading server: client handed over ${(end.flushed / MiB).toFixed(1)} MiB ` +
      `(${end.written} of ${N} requests queued, ${end.bufferSize} bytes waiting in node); ` +
      `daemon RSS +${((rssMax - rss0) / MiB).toFixed(1)} MiB`);
    assert.ok(p.exitCode === null, `the client ended while the server was not reading: ${p.out.slice(-3000)}`);
    assert.equal(end.waiting, true, `the client's writes are not blocked: ${ctx}`);
    assert.ok(end.written < N, `the client wrote everything: ${ctx}`);
    assert.equal(end.flushed, mid.flushed, `the client kept handing bytes over while the server did not read: ${ctx}`);
    assert.ok(end.flushed < 24 * MiB, `${end.flushed} bytes left the client while the server read nothing: ${ctx}`);
    assert.ok(rssMax - rss0 < 32 * MiB,
      `the daemon's RSS grew by ${((rssMax - rss0) / MiB).toFixed(1)} MiB while the server did not read: ${ctx}`);
    assert.equal(end.responses, 0, ctx);
  } finally {
    st.release();
  }
  const out = await resultOf(p, closed);
  const summary = JSON.stringify({ ...out, responses: out.responses.map((r) => `${r.status} ${r.body.slice(0, 160)}`) });
  assert.equal(out.responses.length, N, `want ${N} responses once the server reads: ${summary}\n` +
    `server saw ${st.reqs.length} requests; daemon log (tail):\n${logTail()}`);
  assert.deepEqual(out.responses.map((r) => r.status), Array(N).fill(200), summary);
  assert.deepEqual(out.responses.map((r) => JSON.parse(r.body).id), Array.from({ length: N }, (_, i) => i + 1));
  assert.equal(st.reqs.length, N);
  assert.ok(st.reqs.every((r, i) => r.id === i + 1 && r.padOk && r.padLen === PAD && !r.te),
    `the server got damaged requests: ${JSON.stringify(st.reqs.filter((r) => !r.padOk).slice(0, 3))}`);
  await waitRows(`select count(*) as n from mcpwarden.tool_calls where ${rowsOf({ pid: out.pid, since: p.since })} and is_error = false`,
    (x) => Number(x[0].n) === N, `the ${N} calls of pid ${out.pid}`, 30000);
  assertDaemonAlive();
});

test('9. a protected server where nothing listens: the client gets 502 with a reason, recorded', async () => {
  const body = rpc(41, 'tools/call', { name: 'down', arguments: {} });
  const cases = [
    { what: 'request sent at once', plan: [W(post(up.down.port, '/mcp', body)), { op: 'waitClose', ms: 5000 }] },
    { what: 'request sent at once (2)', plan: [W(post(up.down.port, '/mcp', body)), { op: 'waitClose', ms: 5000 }] },
    { what: 'request sent at once (3)', plan: [W(post(up.down.port, '/mcp', body)), { op: 'waitClose', ms: 5000 }] },
    {
      what: 'request sent 200 ms after connecting',
      plan: [{ op: 'sleep', ms: 200 }, W(post(up.down.port, '/mcp', body)), { op: 'waitClose', ms: 5000 }],
    },
  ];
  const failures = [];
  for (const k of cases) {
    const o = await rawClient('down', k.plan);
    const rows = await waitRows(`select http_status, detail, server from mcpwarden.http_errors where ${rowsOf(o)}`,
      (x) => x.length >= 1, `the upstream failure of pid ${o.pid} (${k.what})`);
    assert.ok(rows.every((r) => r.http_status === 502 && r.server === 'down'), JSON.stringify(rows));
    assert.ok(rows.some((r) => /refused/i.test(r.detail)), `http_errors does not say why: ${JSON.stringify(rows)}`);
    const r = o.finals[0];
    if (!r || r.status !== 502 || !r.complete) {
      failures.push(`${k.what}: want a 502, got ${show(o)}`);
      continue;
    }
    const err = JSON.parse(r.body);
    assert.equal(err.jsonrpc, '2.0');
    assert.match(err.error.message, /cannot be reached/, `${k.what}: the 502 gives no reason`);
  }
  assert.deepEqual(failures, [], `clients got no 502:\n${failures.join('\n')}\ndaemon log (tail):\n${logTail()}`);
  assertDaemonAlive();
});

test('10. a JSON response over max_body_bytes is not passed on; http_errors says why', async () => {
  // Control: under the limit, the same kind of response passes whole.
  const small = await rawClient('api', [W(post(up.api.port, '/small', rpc(50, 'tools/call', { name: 'small' }))),
    { op: 'waitResponses', n: 1, ms: 8000 }], 15000);
  assert.equal(small.finals[0]?.status, 200, show(small));
  assert.equal(small.finals[0].complete, true);
  assert.equal(JSON.parse(small.finals[0].body).result.blob.length, Math.floor(MiB / 10) * 10);

  const unexplained = [];
  for (const path of ['/big', '/big-chunked']) {
    const o = await rawClient('api', [W(post(up.api.port, path, rpc(51, 'tools/call', { name: 'big' }))),
      { op: 'waitClose', ms: 8000 }], 15000);
    assert.deepEqual(o.timeouts, [], `${path}: the connection stayed open: ${show(o)}`);
    assert.ok(!o.text.includes('BIGPAYLOAD'), `${path}: part of the oversized body reached the client: ${show(o)}`);
    assert.ok(o.finals.length === 0 || (o.finals.length === 1 && o.finals[0].status === 502),
      `${path}: want a 502 or a closed connection: ${show(o)}`);
    const rows = await waitRows(`select http_status, detail, server from mcpwarden.http_errors where ${rowsOf(o)}`,
      (x) => x.length >= 1, `the oversized response to pid ${o.pid} (${path})`);
    assert.ok(rows.every((r) => r.http_status === 502 && r.server === 'api'), JSON.stringify(rows));
    if (!rows.some((r) => /over the limit/.test(r.detail) && r.detail.includes(String(MAX_BODY)))) {
      unexplained.push(`${path}: ${JSON.stringify(rows)}`);
    }
    await waitRows(`select is_error from mcpwarden.tool_calls where ${rowsOf(o)}`,
      (x) => x.length === 1 && x[0].is_error === null, `${path}: the request recorded without a response`);
  }
  assertDaemonAlive();
  assert.deepEqual(unexplained, [], 'http_errors does not say the response was over the limit');
});

test('10b. a request body over max_body_bytes gets 413 with the reason and never reaches the server', async () => {
  const n0 = up.api.st.reqs.length;
  const declared = 2 * MAX_BODY;
  const o = await rawClient('api', [
    W(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${up.api.port}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${declared}\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"x":"`),
    { op: 'waitClose', ms: 5000 },
  ]);
  assert.equal(o.finals[0]?.status, 413, show(o));
  assert.match(o.finals[0].body.toString('utf8'), /over the limit/, `the 413 gives no reason: ${show(o)}`);
  const rows = await waitRows(`select http_status, detail from mcpwarden.http_errors where ${rowsOf(o)}`,
    (x) => x.length >= 1, `the refused request of pid ${o.pid}`);
  assert.deepEqual(rows.map((r) => r.http_status), [413], JSON.stringify(rows));
  assert.match(rows[0].detail, new RegExp(`${declared} bytes is over the limit of ${MAX_BODY}`), JSON.stringify(rows));
  assert.equal(up.api.st.reqs.length, n0, 'the oversized request reached the server');
});

test('11. a request with Connection: close, not half-closed, still gets the whole streamed response', async () => {
  // The client asks the server to close after the response; it does not
  // shut its sending side. Straight to the server, the stream arrives whole.
  const req = post(up.api.port, '/sse-slow', rpc(61, 'tools/call', { name: 'slow', arguments: {} }),
    'Connection: close\r\n');
  const plan = [W(req), { op: 'waitClose', ms: 5000 }];
  const events = (o) => o.finals[0].body.toString('utf8').split('\n\n').filter(Boolean)
    .map((e) => JSON.parse(e.replace(/^data: /, '')));
  const want = [
    ...[1, 2, 3].map((progress) => ({ jsonrpc: '2.0', method: 'notifications/progress',
      params: { progressToken: 61, progress, total: 3 } })),
    { jsonrpc: '2.0', id: 61, result: { content: [{ type: 'text', text: 'done' }] } },
  ];
  const direct = await rawClient('api', plan, 10000, { direct: true });
  assert.equal(direct.finals[0]?.complete, true, `directly: ${show(direct)}`);
  assert.deepEqual(events(direct), want, 'directly');

  const n0 = up.api.st.reqs.length;
  const o = await rawClient('api', plan);
  const q = up.api.st.reqs[n0];
  assert.equal(q?.aborted, undefined, `the server's response was aborted (it saw the connection end): ${show(o)}\n` +
    `daemon log (tail):\n${logTail(12)}`);
  assert.equal(o.finals[0]?.status, 200, show(o));
  assert.equal(o.finals[0].complete, true, `the stream was cut short: ${show(o)}`);
  assert.deepEqual(events(o), want);
  assert.ok(o.endAt !== null, `not closed after the response: ${show(o)}`);
});

test('14. out of descriptors, accept() waits without a busy loop or a flood of log lines, and resumes', async () => {
  const pid = d.proc.pid;
  const used = fs.readdirSync(`/proc/${pid}/fd`).length;
  const lim = await run('prlimit', ['--pid', String(pid), '--nofile', '--raw', '--noheadings', '--output=SOFT,HARD']);
  const [soft, hard] = lim.stdout.trim().split(/\s+/);
  const logBefore = d.log().length;
  // room for a few connections (each is a client and a server socket)
  let r = await run('prlimit', ['--pid', String(pid), `--nofile=${used + 6}:${hard}`]);
  assert.equal(r.code, 0, r.stderr);
  const holders = [];
  try {
    for (let i = 0; i < 8; i++) {
      holders.push(spawnInCgroup(cg, NODE, ['-e',
        `const s = require('net').connect(${up.api.port}, '127.0.0.1'); s.on('error', () => {}); setTimeout(() => {}, 60000);`]));
    }
    await sleep(1000);
    const share = await cpuShare(pid, 2000);
    assert.ok(share < 0.2, `the daemon used ${(share * 100).toFixed(0)}% of a core out of descriptors`);
    const lines = d.log().slice(logBefore).split('\n').filter((l) => /accept: /.test(l));
    assert.ok(lines.length >= 1 && lines.length <= 2, `accept log lines: ${lines.length}\n${lines.slice(0, 5).join('\n')}`);
    const st = JSON.parse((await d.cli(['status', '--json'])).stdout);
    assert.ok(st.proxy.accept_paused >= 1, JSON.stringify(st.proxy));
  } finally {
    for (const h of holders) { try { process.kill(-h.pid, 'SIGKILL'); } catch { /* gone */ } }
    r = await run('prlimit', ['--pid', String(pid), `--nofile=${soft}:${hard}`]);
    assert.equal(r.code, 0, r.stderr);
  }
  // descriptors free again: the waiting connections and new ones are served
  const o = await rawClient('api', [W(post(up.api.port, '/t14', rpc(4, 'ping'))), { op: 'waitResponses', n: 1, ms: 5000 }]);
  assert.deepEqual(o.finals.map((x) => x.status), [200], show(o));
});

if (SPLICE) {
  test('15. splice: a client that sends a request at a time stays spliced, and gets every answer', async () => {
    // more than one window's charge (bpf/splice.bpf.c): the daemon must
    // move the bound as it reads
    const N = 100;
    const k0 = (await statusJson()).kernel;
    const plan = [{ op: 'sleep', ms: 300 }];
    for (let i = 1; i <= N; i++) {
      plan.push(W(post(up.api.port, '/t15', rpc(i, 'tools/call', { name: 'small', arguments: { i } }))),
        { op: 'waitResponses', n: i, ms: 5000 });
    }
    const o = await rawClient('api', plan, 30000);
    assert.deepEqual(o.timeouts, [], show(o));
    assert.deepEqual(o.finals.map((x) => JSON.parse(x.body).id), Array.from({ length: N }, (_, i) => i + 1));
    const k1 = (await statusJson()).kernel;
    assert.ok(k1.splice_redirect - k0.splice_redirect >= N, `${N} requests, but fewer spliced: ${JSON.stringify({ k0, k1 })}`);
    assert.equal(k1.splice_miss, k0.splice_miss, `the connection left the splice: ${JSON.stringify({ k0, k1 })}`);
  });
}
