// Random requests, each read by the daemon and by a real server's HTTP
// parser (Node's, which the SDK's servers use), compared: whatever the
// server acts on must be what the daemon judged and recorded. Clients in
// the enforced cgroup write generated HTTP/1.1 (pipelined, split at random
// places, chunked or not, JSON written in odd but valid ways, and now and
// then a framing two parsers could read two ways); the upstream records
// every message it parsed. Then:
//   - no tools/call of the denied tool, and no denied method, reached it;
//   - every message it got is recorded as allowed, with the same method,
//     tool, id and params (as JSON.parse reads them);
//   - the daemon is still up.
//
// MW_FUZZ_SEED=N repeats a run; MW_FUZZ_CASES=N sets its length.
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/differential.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import {
  makeCgroup, runInCgroup, startDaemon, uniqueName, cleanupAll, cgroupRelPath, until, statusJson,
  eachRequest, MCP_DIR,
} from './helpers.mjs';

const NODE = process.execPath;
const SEED = Number(process.env.MW_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CASES = Number(process.env.MW_FUZZ_CASES ?? 240);
let d, cg, up, raw;
const CARD = '4111 1111 1111 1111';

// mulberry32: small, seeded, enough for test generation
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Runs the cases given in a JSON file: each a list of segments written in
// turn on one connection (base64, a delay before each); prints, per case,
// what came back (base64). Sixteen connections at a time.
const CLIENT = String.raw`
const net = require('net');
const fs = require('fs');
const [host, port, file] = process.argv.slice(1);
const cases = JSON.parse(fs.readFileSync(file, 'utf8'));
const out = new Array(cases.length);
function one(i) {
  return new Promise((resolve) => {
    const s = net.connect(Number(port), host);
    const chunks = [];
    let quiet;
    const fin = () => { clearTimeout(quiet); s.destroy(); out[i] = Buffer.concat(chunks).toString('base64'); resolve(); };
    const rearm = () => { clearTimeout(quiet); quiet = setTimeout(fin, 700); };
    s.on('data', (c) => { chunks.push(c); rearm(); });
    s.on('error', () => {});
    s.on('close', fin);
    s.on('connect', async () => {
      for (const seg of cases[i].segments) {
        if (seg.delay) await new Promise((r) => setTimeout(r, seg.delay));
        if (s.destroyed) break;
        s.write(Buffer.from(seg.b64, 'base64'));
      }
      if (cases[i].halfClose && !s.destroyed) s.end();
      rearm();
    });
  });
}
(async () => {
  let next = 0;
  const worker = async () => { while (next < cases.length) await one(next++); };
  await Promise.all(Array.from({ length: 16 }, worker));
  process.stdout.write(JSON.stringify(out));
})();
`;

// What a Node MCP server would act on: every message JSON.parse gives it.
function startUpstream() {
  const st = { msgs: [], requests: 0 };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('error', () => {});
    req.on('end', () => {
      st.requests++;
      if (req.method !== 'POST') {
        res.writeHead(405).end();
        return;
      }
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400).end();
        return;
      }
      const list = Array.isArray(body) ? body : [body];
      const answers = [];
      for (const m of list) {
        if (!m || typeof m !== 'object' || typeof m.method !== 'string') continue;
        st.msgs.push(m);
        if (m.id !== undefined) {
          answers.push({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: `ran ${m.params?.name ?? m.method}` }] } });
        }
      }
      if (!answers.length) {
        res.writeHead(202).end();
        return;
      }
      const text = JSON.stringify(Array.isArray(body) ? answers : answers[0]);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(text);
    });
  });
  server.keepAliveTimeout = 5000;
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({ port: server.address().port, st, server })));
}

// --- generation --------------------------------------------------------

function generator(rand) {
  const pick = (a) => a[Math.floor(rand() * a.length)];
  const chance = (p) => rand() < p;
  const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

  const ws = () => (chance(0.8) ? '' : pick([' ', '\t', '\n', '\r\n', '  ']));
  function str(s) {
    let o = '"';
    for (const ch of s) {
      const c = ch.codePointAt(0);
      if (ch === '"' || ch === '\\') o += `\\${ch}`;
      else if (c < 0x20) o += `\\u${c.toString(16).padStart(4, '0')}`;
      else if (ch === '/' && chance(0.3)) o += '\\/';
      else if (c < 0x10000 && chance(0.08)) {
        const h = c.toString(16).padStart(4, '0');
        o += `\\u${chance(0.5) ? h : h.toUpperCase()}`;
      } else o += ch;
    }
    return `${o}"`;
  }
  // JSON text for v, written as a careless or clever peer might
  function json(v) {
    if (v === null || typeof v === 'boolean') return String(v);
    if (typeof v === 'number') {
      if (Number.isInteger(v) && chance(0.1)) return pick([`${v}.0`, `${v}e0`, `${v}.000E+0`]);
      return String(v);
    }
    if (typeof v === 'string') return str(v);
    if (Array.isArray(v)) return `[${ws()}${v.map((x) => json(x)).join(`${ws()},${ws()}`)}${ws()}]`;
    const keys = Object.keys(v);
    if (chance(0.3)) keys.reverse();
    const members = keys.map((k) => `${str(k)}${ws()}:${ws()}${json(v[k])}`);
    return `{${ws()}${members.join(`${ws()},${ws()}`)}${ws()}}`;
  }

  const TOOLS = ['fine', 'secret', 'forbidden', 'Forbidden', 'forbidden ', 'fine2'];
  let nextId = 1;
  function message() {
    const r = rand();
    const id = chance(0.8) ? nextId++ : `s-${nextId++}`;
    if (r < 0.55) {
      const name = pick(TOOLS);
      const args = chance(0.5) ? {} : { q: pick(['x', 'ünï', '\u2028', 'a"b', '4111 1111 1111 1111']), n: int(-5, 1e6) };
      const m = { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } };
      // a name given twice: JSON.parse (the server) takes the last
      if (chance(0.12)) {
        const decoy = pick(TOOLS);
        return { value: m, text: json(m).replace(/"name"\s*:\s*/, (k) => `${k}${str(decoy)},${k}`) };
      }
      return { value: m, text: json(m) };
    }
    if (r < 0.65) {
      const m = { jsonrpc: '2.0', id, method: 'prompts/get', params: { name: 'p' } };
      return { value: m, text: json(m) };
    }
    if (r < 0.75) {
      const m = { jsonrpc: '2.0', method: pick(['notifications/initialized', 'notifications/cancelled']),
        ...(chance(0.5) ? { params: { requestId: 1 } } : {}) };
      return { value: m, text: json(m) };
    }
    const m = { jsonrpc: '2.0', id, method: pick(['tools/list', 'ping', 'resources/list']) };
    return { value: m, text: json(m) };
  }

  function body() {
    if (chance(0.08)) {
      const ms = Array.from({ length: int(1, 3) }, message);
      return `[${ms.map((m) => m.text).join(',')}]`;
    }
    return message().text;
  }

  // Lines of a head, each with its terminator, and a body, framed.
  function request(port) {
    const b = Buffer.from(body(), 'utf8');
    const eol = () => '\r\n';
    const head = [`POST ${pick(['/mcp', '/mcp', '/mcp?x=1', '/MCP'])} HTTP/1.1`];
    head.push(`${pick(['Host', 'host', 'HOST'])}: 127.0.0.1:${port}`);
    head.push(`Content-Type: ${pick(['application/json', 'application/json; charset=utf-8', 'Application/JSON'])}`);
    head.push('Accept: application/json, text/event-stream');
    let chunked = chance(0.35);
    let payload;
    const mutation = chance(0.3) ? int(0, 17) : -1;
    if (chunked) {
      head.push(`Transfer-Encoding: ${mutation === 0 ? 'Chunked' : 'chunked'}`);
      const parts = [];
      for (let at = 0; at < b.length;) {
        const n = Math.min(b.length - at, int(1, 64));
        const size = mutation === 1 ? `0${n.toString(16)}` : n.toString(16);
        const ext = mutation === 2 ? ';x=y' : '';
        parts.push(Buffer.from(`${chance(0.5) ? size : size.toUpperCase()}${ext}\r\n`));
        parts.push(b.subarray(at, at + n), Buffer.from('\r\n'));
        at += n;
      }
      parts.push(Buffer.from(mutation === 3 ? '0\r\nX-Trailer: 1\r\n\r\n' : '0\r\n\r\n'));
      payload = Buffer.concat(parts);
    } else {
      head.push(`Content-Length: ${mutation === 4 ? `0${b.length}` : b.length}`);
      payload = b;
    }
    // framings two parsers might read two ways: each must be refused,
    // or read the way the server reads it
    switch (mutation) {
      case 5: head.push(chunked ? `Content-Length: ${payload.length}` : 'Transfer-Encoding: chunked'); break;
      case 6: head.push(`Content-Length: ${b.length + 1}`); break;
      case 7: head.push('X-Folded: a', ' b'); break;
      case 8: head.push(`Content-Length : ${b.length}`); break;
      case 9: head.push('Transfer-Encoding: identity'); break;
      case 10: head.push(`Content-Length: ${b.length}, ${b.length}`); break;
      case 11: head[0] = head[0].replace('HTTP/1.1', 'HTTP/1.0'); break;
      case 12: head.push('Expect: 100-continue'); break;
      case 13: head.push('Transfer-Encoding: gzip, chunked'); break;
      case 14: head.push('X-Nul: a\0b'); break;
      case 15: head.push('Content-Encoding: gzip'); break;
      case 16: head.push(`Content-Length: +${b.length}`); break;
      case 17: head.push('Bad Header: 1'); break;
      default: break;
    }
    const lf = mutation === -1 && chance(0.03);
    const h = head.map((l) => l + (lf ? '\n' : eol())).join('') + (lf ? '\n' : '\r\n');
    return Buffer.concat([Buffer.from(h, 'latin1'), payload]);
  }

  function oneCase(port) {
    const whole = Buffer.concat(Array.from({ length: chance(0.7) ? 1 : int(2, 4) }, () => request(port)));
    const cuts = Array.from({ length: int(0, 5) }, () => int(1, whole.length - 1)).sort((x, y) => x - y);
    const segments = [];
    let at = 0;
    for (const c of [...cuts, whole.length]) {
      if (c <= at) continue;
      segments.push({ b64: whole.subarray(at, c).toString('base64'), delay: chance(0.3) ? int(1, 30) : 0 });
      at = c;
    }
    return { segments, halfClose: chance(0.1) };
  }
  return { oneCase };
}

// --- the run ------------------------------------------------------------

const canon = (v) => JSON.stringify(v, (k, x) => (x && typeof x === 'object' && !Array.isArray(x)
  ? Object.fromEntries(Object.keys(x).sort().map((y) => [y, x[y]])) : x));

before(async () => {
  up = await startUpstream();
  raw = await startRawUpstream();
  d = await startDaemon({
    servers: [{ name: 'up', address: `127.0.0.1:${up.port}` }, { name: 'raw', address: `127.0.0.1:${raw.port}` }],
    default: 'allow',
    rules: [
      { name: 'no-forbidden', tool: 'forbidden', action: 'deny' },
      { name: 'no-prompts', method: 'prompts/get', action: 'deny' },
      { name: 'no-sampling', direction: 'server', method: 'sampling/createMessage', action: 'deny' },
    ],
    masking: [{ name: 'cards', server: 'raw', detectors: ['card'], style: 'full' }],
  });
  cg = makeCgroup(uniqueName('mw-differential'));
  const r = await d.cli(['enforce', cgroupRelPath(cg)]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await cleanupAll();
  up?.server.close();
  raw?.server.close();
});

test(`random requests: what the server acts on is what the daemon judged (seed ${SEED}, ${CASES} cases)`, async (t) => {
  const gen = generator(prng(SEED));
  const cases = Array.from({ length: CASES }, () => gen.oneCase(up.port));
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mw-diff-')), 'cases.json');
  fs.writeFileSync(file, JSON.stringify(cases));
  fs.chmodSync(path.dirname(file), 0o755);
  const r = await runInCgroup(cg, NODE, ['-e', CLIENT, '127.0.0.1', String(up.port), file], { timeout: 300000 });
  assert.equal(r.code, 0, r.stderr);
  const answers = JSON.parse(r.stdout).map((b) => Buffer.from(b, 'base64').toString('latin1'));
  const again = `(repeat with MW_FUZZ_SEED=${SEED} MW_FUZZ_CASES=${CASES})`;

  // the daemon lived through it
  assert.equal(d.proc.exitCode, null, `the daemon exited ${again}:\n${d.log()}`);
  assert.equal(d.proc.signalCode, null, `the daemon was killed ${again}:\n${d.log()}`);
  assert.doesNotMatch(d.log(), /AddressSanitizer|runtime error:/, d.log());
  await statusJson(d);

  // nothing denied reached the server
  const denied = up.st.msgs.filter((m) => (m.method === 'tools/call' && m.params?.name === 'forbidden') ||
    m.method === 'prompts/get');
  assert.deepEqual(denied, [], `denied messages reached the server ${again}`);

  // every message the server got was judged allowed as the server read it
  let rows = [];
  await until(async () => {
    rows = await d.sqlObjects("select kind, method, tool, rpc_id, params::text as params, decision " +
      "from mcpwarden.events where kind in ('request', 'notification') and decision = 'allow'");
    return rows.length >= up.st.msgs.length;
  }, 'the allowed messages recorded', 30000).catch(() => {});
  const recorded = new Map();
  for (const row of rows) {
    const params = row.params === null ? null : JSON.parse(row.params);
    const key = canon([row.method, row.method === 'tools/call' ? row.tool : null, params]);
    recorded.set(key, (recorded.get(key) ?? 0) + 1);
  }
  const unjudged = [];
  for (const m of up.st.msgs) {
    const key = canon([m.method, m.method === 'tools/call' ? m.params?.name : null, m.params ?? null]);
    const n = recorded.get(key) ?? 0;
    if (n) recorded.set(key, n - 1);
    else unjudged.push(m);
  }
  assert.deepEqual(unjudged, [], `messages the server got that the daemon did not record as allowed, as read ${again}`);
  // and the run exercised both sides: some allowed, some refused
  assert.ok(up.st.msgs.some((m) => m.method === 'tools/call'), `no tools/call got through ${again}`);
  const refused = answers.filter((a) => /^HTTP\/1\.[01] 4\d\d/m.test(a)).length;
  assert.ok(refused > 0, `nothing was refused ${again}`);
  t.diagnostic(`${up.st.requests} requests and ${up.st.msgs.length} messages reached the server; ` +
    `${refused} connections answered 4xx; ${rows.length} allowed messages recorded`);
});

// --- the other way ------------------------------------------------------

// A server that answers each tools/call (its id a case number) with what
// answerFor(id) makes of it: the answer, as JSON or as an event stream
// written in any way the standard allows and some it does not, with
// requests and notifications of its own before it; every message holds
// the card number. What the client reads (fetch, and the SDK's
// eventsource-parser) must hold no card, no denied request, and nothing
// the daemon did not record.
function answerFor(id) {
  const rand = prng(SEED ^ (id * 0x9e3779b1));
  const pick = (a) => a[Math.floor(rand() * a.length)];
  const chance = (p) => rand() < p;
  const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
  const text = (what) => `${what}: card ${pick([CARD, CARD.replace(/ /g, ''), CARD.replace(/ /g, '-')])}`;
  const final = { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: text('result') }] } };
  if (chance(0.3)) {
    const b = Buffer.from(JSON.stringify(final));
    return { type: 'application/json', body: b };
  }
  const msgs = [];
  for (let i = int(0, 3); i > 0; i--) {
    msgs.push(pick([
      { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: text('log') } },
      { jsonrpc: '2.0', id: `srv-${id}-${i}`, method: 'sampling/createMessage',
        params: { messages: [{ role: 'user', content: { type: 'text', text: text('sample') } }], maxTokens: 5 } },
      { jsonrpc: '2.0', id: `srv-${id}-${i}`, method: 'roots/list', params: { note: text('roots') } },
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: id, progress: i, message: text('progress') } },
    ]));
  }
  msgs.push(final);
  const eol = pick(['\n', '\r\n', '\n', '\r']);
  let out = chance(0.1) ? '\ufeff' : '';
  for (const m of msgs) {
    const lines = [];
    if (chance(0.2)) lines.push(`: ${pick(['keep-alive', 'x', ''])}`);
    if (chance(0.3)) lines.push(`id: ${pick([`${id}-${msgs.indexOf(m)}`, '', 'a b'])}`);
    if (chance(0.4)) lines.push(pick(['event: message', 'event:message', 'event: message ', 'event: other']));
    if (chance(0.1)) lines.push(`retry: ${int(1, 5000)}`);
    if (chance(0.05)) lines.push(pick(['x-unknown: 1', 'data', ': a\u2028data: {}', 'dat a: 1']));
    // data split between lines only between tokens: the lines join with \n
    const j = JSON.stringify(m);
    const parts = chance(0.3) ? j.split(/(?<=,)/) : [j];
    for (const p of parts) lines.push(`${pick(['data: ', 'data:', 'data:  '])}${p}`);
    out += lines.join(eol) + eol + eol;
  }
  if (chance(0.05)) out += `data: ${JSON.stringify(final).slice(0, 20)}`; // unfinished at the end
  return { type: pick(['text/event-stream', 'text/event-stream; charset=utf-8', 'Text/Event-Stream']), body: Buffer.from(out) };
}

function startRawUpstream() {
  const st = { answered: 0 };
  const server = net.createServer((s) => {
    s.on('error', () => {});
    eachRequest(s, (head, body) => {
      let msg = null;
      try { msg = JSON.parse(body); } catch { /* answered 400 below */ }
      if (!msg || typeof msg.id !== 'number') {
        s.write(msg && msg.id === undefined ? 'HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n'
          : 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      st.answered++;
      const a = answerFor(msg.id);
      const rand = prng(SEED ^ msg.id);
      let framed;
      if (rand() < 0.5) {
        framed = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: ${a.type}\r\n` +
          `Content-Length: ${a.body.length}\r\n\r\n`), a.body]);
      } else {
        const parts = [Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: ${a.type}\r\nTransfer-Encoding: chunked\r\n\r\n`)];
        for (let at = 0; at < a.body.length;) {
          const n = Math.min(a.body.length - at, 1 + Math.floor(rand() * 40));
          parts.push(Buffer.from(`${n.toString(16)}\r\n`), a.body.subarray(at, at + n), Buffer.from('\r\n'));
          at += n;
        }
        parts.push(Buffer.from('0\r\n\r\n'));
        framed = Buffer.concat(parts);
      }
      // written in pieces, as a server under load might
      const cuts = [0, ...Array.from({ length: Math.floor(rand() * 4) },
        () => Math.floor(rand() * framed.length)).sort((x, y) => x - y), framed.length];
      let i = 0;
      const next = () => {
        if (i + 1 >= cuts.length || s.destroyed) return;
        s.write(framed.subarray(cuts[i], cuts[i + 1]));
        i++;
        setTimeout(next, rand() < 0.3 ? 5 : 0);
      };
      next();
    });
  });
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({ port: server.address().port, st, server })));
}

// Calls tools/call with ids first..last (eight at a time, fetch, as the
// SDK does) and prints what it read: each message from a JSON body or an
// event stream (through the SDK's eventsource-parser), and the bodies.
const READER = String.raw`
import { EventSourceParserStream } from 'PARSER';
const [port, first, last] = process.argv.slice(1).map(Number);
const got = [];
async function one(id) {
  const rec = { id, msgs: [], body: '', status: 0 };
  got.push(rec);
  try {
    const r = await fetch('http://127.0.0.1:' + port + '/mcp', { method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'lookup', arguments: {} } }),
      signal: AbortSignal.timeout(10000) });
    rec.status = r.status;
    const type = r.headers.get('content-type') ?? '';
    if (/^text\/event-stream/i.test(type)) {
      const [a, b] = r.body.tee();
      const text = new Response(a).text();
      const events = b.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
      for await (const ev of events) {
        // the SDK's client: events typed "message", or not typed
        if (ev.event && ev.event !== 'message') continue;
        try { rec.msgs.push(JSON.parse(ev.data)); } catch { rec.msgs.push({ unparsed: ev.data }); }
      }
      rec.body = await text;
    } else {
      rec.body = await r.text();
      try { rec.msgs.push(JSON.parse(rec.body)); } catch { /* not JSON */ }
    }
  } catch (e) {
    rec.error = String(e);
  }
}
let next = first;
await Promise.all(Array.from({ length: 8 }, async () => { while (next <= last) await one(next++); }));
process.stdout.write(JSON.stringify(got));
`;

test(`random answers: what the client reads is masked, judged and recorded (seed ${SEED}, ${CASES} cases)`, async (t) => {
  const parser = path.join(MCP_DIR, 'node_modules/eventsource-parser/dist/stream.js');
  const script = READER.replace('PARSER', parser);
  const r = await runInCgroup(cg, NODE, ['--input-type=module', '-e', script, String(raw.port), '1', String(CASES)],
    { timeout: 300000 });
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  const again = `(repeat with MW_FUZZ_SEED=${SEED} MW_FUZZ_CASES=${CASES})`;
  assert.equal(d.proc.exitCode, null, `the daemon exited ${again}:\n${d.log()}`);
  assert.doesNotMatch(d.log(), /AddressSanitizer|runtime error:/, d.log());

  const digits = (v) => JSON.stringify(v).replace(/[^0-9]/g, '');
  const failures = [];
  const seen = [];
  for (const rec of got) {
    if (rec.error) failures.push({ id: rec.id, error: rec.error });
    if (rec.body.replace(/[ -]/g, '').includes(CARD.replace(/ /g, ''))) failures.push({ id: rec.id, card: rec.body });
    for (const m of rec.msgs) {
      if (digits(m).includes(CARD.replace(/ /g, ''))) failures.push({ id: rec.id, card: m });
      if (m.method === 'sampling/createMessage') failures.push({ id: rec.id, denied: m });
      if (m.unparsed !== undefined) failures.push({ id: rec.id, unparsed: m.unparsed });
      seen.push(m);
    }
  }
  assert.deepEqual(failures, [], `what the client read ${again}`);

  // every message the client read is in the trail as it read it
  const key = (m) => canon(m.method ? ['msg', m.method, m.params ?? null] : ['answer', m.result ?? null, m.error ?? null]);
  let rows = [];
  await until(async () => {
    rows = await d.sqlObjects("select kind, method, params::text as params, result::text as result, error::text as error " +
      "from mcpwarden.events where server = 'raw' and kind in ('request', 'notification', 'response')");
    return rows.filter((x) => x.kind === 'response').length >= got.filter((g) => g.status === 200).length;
  }, 'the answers recorded', 30000).catch(() => {});
  const recorded = new Map();
  for (const row of rows) {
    const parse = (x) => (x === null ? null : JSON.parse(x));
    const k = row.kind === 'response' ? canon(['answer', parse(row.result), parse(row.error)])
      : canon(['msg', row.method, parse(row.params)]);
    recorded.set(k, (recorded.get(k) ?? 0) + 1);
  }
  const unrecorded = [];
  for (const m of seen) {
    const k = key(m);
    const n = recorded.get(k) ?? 0;
    if (n) recorded.set(k, n - 1);
    else if (!(m.error && m.id !== undefined && /mcpwarden/i.test(JSON.stringify(m.error)))) unrecorded.push(m);
  }
  assert.deepEqual(unrecorded, [], `messages the client read that the trail does not hold ${again}`);
  const answered = got.filter((g) => g.msgs.some((m) => m.id === g.id && m.result)).length;
  assert.ok(answered > CASES / 2, `only ${answered} of ${CASES} calls were answered ${again}`);
  t.diagnostic(`${raw.st.answered} calls reached the server; ${answered} answered; ${seen.length} messages read; ` +
    `statuses ${JSON.stringify(got.reduce((o, g) => ({ ...o, [g.status]: (o[g.status] ?? 0) + 1 }), {}))}`);
});
