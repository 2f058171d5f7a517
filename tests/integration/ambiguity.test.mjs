// Inputs that the daemon and a server (or a client) could read two ways.
// The daemon judges one reading; if the peer acts on the other, a message
// passes unjudged, is masked by the wrong rule, or is recorded under the
// wrong session. Each case here must be refused (400 to a client, 502 for
// a server's answer) and recorded, or normalised so that both sides read
// the same thing, or (a reused request id) answered under the strictest
// reading: every tool's masking rules.
//
// One daemon for the file, a raw upstream written here (it answers every
// tools/call with a card number, and sends a malformed answer on demand),
// clients that are node scripts in the enforced cgroup writing raw bytes.
//
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/ambiguity.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  eachRequest, makeCgroup, runInCgroup, startDaemon, uniqueName, cleanupAll, cgroupRelPath, until, auditSettled,
} from './helpers.mjs';

const NODE = process.execPath;
const CARD = '4111 1111 1111 1111';
let d, cg, up, bare;

// Writes the bytes (base64 in argv) and prints what came back, base64,
// at the close or after ms.
const CLIENT = String.raw`
const net = require('net');
const [host, port, b64, ms] = process.argv.slice(1);
const s = net.connect(Number(port), host);
const chunks = [];
s.on('data', (c) => chunks.push(c));
s.on('error', () => {});
const fin = () => { process.stdout.write(Buffer.concat(chunks).toString('base64')); process.exit(0); };
s.on('close', fin);
s.on('connect', () => s.write(Buffer.from(b64, 'base64')));
setTimeout(fin, Number(ms));
`;

async function raw(bytes, ms = 1500, to = up) {
  const r = await runInCgroup(cg, NODE, ['-e', CLIENT, '127.0.0.1', String(to.port),
    Buffer.from(bytes, 'latin1').toString('base64'), String(ms)], { timeout: ms + 10000 });
  return Buffer.from(r.stdout, 'base64').toString('latin1');
}

// The status lines of the responses in out, in order.
const statuses = (out) => [...out.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

// Answers tools/call with "NAME: card CARD" as JSON; with X-Test: dupct,
// answers tools/list as an event stream under two Content-Type headers.
function startUpstream() {
  const st = { reqs: [] };
  const server = net.createServer((s) => {
    s.on('error', () => {});
    eachRequest(s, (head, body) => {
      st.reqs.push({ head, body });
      if (head.startsWith('DELETE ')) {
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      // with X-Test: endpoint, a GET stream of endpoint events: the legacy
      // transport's URL, then a server request, then one that does not parse
      if (head.startsWith('GET ') && /\r\nx-test: endpoint/i.test(head)) {
        const req = { jsonrpc: '2.0', id: 's1', method: 'sampling/createMessage',
          params: { messages: [], maxTokens: 1 } };
        const b = 'event: endpoint\ndata: /messages?sessionId=abc\n\n' +
          `event: endpoint\ndata: ${JSON.stringify(req)}\n\n` +
          `event: endpoint\ndata: ${JSON.stringify({ ...req, id: 's2', odd: 1 })}\n\n`;
        s.end('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n' +
          `Content-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`);
        return;
      }
      let msg = null;
      try { msg = JSON.parse(body); } catch { /* not JSON */ }
      const id = msg && !Array.isArray(msg) ? msg.id : null;
      if (/\r\nx-test: dupct/i.test(head)) {
        const r = { jsonrpc: '2.0', id, result: { tools: [
          { name: 'forbidden', description: 'denied by the policy', inputSchema: { type: 'object' } },
          { name: 'fine', description: 'allowed', inputSchema: { type: 'object' } }] } };
        const b = `event: message\ndata: ${JSON.stringify(r)}\n\n`;
        s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Type: text/event-stream\r\n' +
          `Content-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`);
        return;
      }
      // with X-Test: typed, tools/list answered in an event whose type is
      // not "message" (with a space after it), then an unfinished event
      // holding another answer at the end of the stream
      if (/\r\nx-test: typed/i.test(head)) {
        const r = { jsonrpc: '2.0', id, result: { tools: [
          { name: 'forbidden', description: 'denied by the policy', inputSchema: { type: 'object' } },
          { name: 'fine', description: 'allowed', inputSchema: { type: 'object' } }] } };
        const late = { jsonrpc: '2.0', id: 999, result: { content: [{ type: 'text', text: `late card ${CARD}` }] } };
        const b = `event: message \ndata: ${JSON.stringify(r)}\n\ndata: ${JSON.stringify(late)}\n`;
        s.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n' +
          `Content-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`);
        return;
      }
      const r = JSON.stringify({ jsonrpc: '2.0', id,
        result: { content: [{ type: 'text', text: `${msg?.params?.name}: card ${CARD}` }] } });
      // with X-Test: junk=N, the answer on an event stream after N events
      // whose data is no JSON
      const junk = /\r\nx-test: junk=(\d+)/i.exec(head);
      if (junk) {
        const b = 'data: {x\n\n'.repeat(Number(junk[1])) + `event: message\ndata: ${r}\n\n`;
        s.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n' +
          `Content-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`);
        return;
      }
      // with X-Test: slow=MS, the answer comes MS later
      const slow = /\r\nx-test: slow=(\d+)/i.exec(head);
      if (slow) {
        setTimeout(() => s.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n' +
          `Content-Length: ${Buffer.byteLength(r)}\r\n\r\n${r}`), Number(slow[1]));
        return;
      }
      // with X-Test: rpc500, the answer in a 500 typed text/plain; with
      // X-Test: odd500, the same with a member JSON-RPC does not define
      const in500 = /\r\nx-test: (rpc|odd)500/i.exec(head);
      if (in500) {
        const b = in500[1] === 'odd' ? `${r.slice(0, -1)},"x":1}` : r;
        s.write('HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n' +
          `Content-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`);
        return;
      }
      if (/\r\nx-test: err500/i.test(head)) {
        s.write('HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\noops');
        return;
      }
      // with X-Test: ct=TYPE, the answer typed TYPE
      const ct = /\r\nx-test: ct=([^\r]*)/i.exec(head);
      if (ct) {
        s.write(`HTTP/1.1 200 OK\r\nContent-Type: ${ct[1]}\r\nContent-Length: ${Buffer.byteLength(r)}\r\n\r\n${r}`);
        return;
      }
      // with X-Test: dupsid, two session ids (fetch would read "A, B")
      const sids = /\r\nx-test: dupsid/i.test(head) ? 'Mcp-Session-Id: A\r\nMcp-Session-Id: B\r\n' : '';
      s.write(`HTTP/1.1 200 OK\r\n${sids}Content-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(r)}\r\n\r\n${r}`);
    });
  });
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({ port: server.address().port, st, server })));
}

function post(body, extra = '', path = '/mcp', version = '1.1') {
  return `POST ${path} HTTP/${version}\r\n${version === '1.1' ? `Host: 127.0.0.1:${up.port}\r\n` : ''}` +
    'Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n' +
    `${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}
const call = (id, name) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });

async function httpErrors(pattern) {
  let rows = [];
  await until(async () => {
    rows = await d.sqlObjects('select http_status, detail from mcpwarden.http_errors order by ts');
    return rows.some((r) => pattern.test(r.detail ?? ''));
  }, `an http_errors row matching ${pattern}`, 15000);
  return rows.filter((r) => pattern.test(r.detail ?? ''));
}

before(async () => {
  up = await startUpstream();
  bare = await startUpstream(); // a server no masking rule names
  d = await startDaemon({
    servers: [{ name: 'fake', address: `127.0.0.1:${up.port}` }, { name: 'bare', address: `127.0.0.1:${bare.port}` }],
    default: 'allow',
    rules: [{ name: 'no-forbidden', tool: 'forbidden', action: 'deny' }],
    masking: [{ name: 'secret-cards', server: 'fake', tool: ['secret'], apply: ['client'],
      detectors: ['card'], style: 'full' }],
  });
  cg = makeCgroup(uniqueName('mw-ambiguity'));
  const r = await d.cli(['enforce', cgroupRelPath(cg)]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await cleanupAll();
  up?.server.close();
  bare?.server.close();
});

test('1. a tool-scoped masking rule masks its tool\'s answer (the control for 2 and 3)', async () => {
  const out = await raw(post(call(7, 'secret')));
  assert.deepEqual(statuses(out), [200], out);
  assert.ok(!out.includes(CARD), `the card passed unmasked: ${out}`);
  assert.match(out, /secret: card \[MASKED:card\]/);
});

test('1b. the answer to tasks/result, a tool\'s output, gets every tool\'s masking rules', async () => {
  // a task-augmented tools/call is answered later, through tasks/result,
  // whose request names no tool
  const tr = JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'tasks/result', params: { taskId: 't1' } });
  const out = await raw(post(tr));
  assert.deepEqual(statuses(out), [200], out);
  assert.ok(!out.includes(CARD), `the task's result passed unmasked: ${out}`);
  assert.match(out, /card \[MASKED:card\]/);
});

test('2. an id reused while its request waits: both go on, and both answers get every tool\'s masking rules', async () => {
  // MCP forbids the reuse, but a waiting id may never be answered (a
  // cancelled request, a server that failed): refusing it would lock the
  // id for good. Either answer could be either request's, so neither is
  // masked as one tool's only.
  const n = up.st.reqs.length;
  const out = await raw(post(call(1, 'secret'), 'Mcp-Session-Id: s-reuse\r\n') +
    post(call(1, 'other'), 'Mcp-Session-Id: s-reuse\r\n'));
  assert.ok(!out.includes(CARD), `the card passed unmasked: ${out}`);
  assert.deepEqual(statuses(out), [200, 200], out);
  assert.match(out, /secret: card \[MASKED:card\]/);
  assert.match(out, /other: card \[MASKED:card\]/);
  assert.deepEqual(up.st.reqs.slice(n).map((r) => JSON.parse(r.body).params.name), ['secret', 'other']);
  await until(async () => {
    const rows = await d.sqlObjects("select count(*)::int as n from mcpwarden.chain_events " +
      "where kind = 'response' and detail like 'paired ambiguously%'");
    return rows[0].n >= 1;
  }, 'a response recorded as paired ambiguously', 15000);
  // a fresh id in the session pairs as before
  const again = await raw(post(call(2, 'other'), 'Mcp-Session-Id: s-reuse\r\n'));
  assert.deepEqual(statuses(again), [200], again);
  assert.ok(again.includes(CARD), `the other tool has no masking rule: ${again}`);
});

test('2b. an id whose request the server failed is free again: its next use pairs plainly', async () => {
  // an error page answers none of the exchange's requests, and none will
  // come later: the waiting entry goes with the exchange
  let out = await raw(post(call(21, 'secret'), 'Mcp-Session-Id: s-500\r\nX-Test: err500\r\n'));
  assert.deepEqual(statuses(out), [500], out);
  out = await raw(post(call(21, 'other'), 'Mcp-Session-Id: s-500\r\n'));
  assert.deepEqual(statuses(out), [200], out);
  // other has no masking rule: masked, it would have been taken as ambiguous
  assert.ok(out.includes(`other: card ${CARD}`), out);
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A reused id stays ambiguous while the first request may still be
// answered: after the entry put over it is used up (answered, or given
// up by a refusal), a third request with the id must not pair plainly.
for (const [name, second] of [['a refused request', 'forbidden'], ['a fast answer', 'other']]) {
  test(`2c. an id reused, then ${name} over it, then reused again: the first answer is still masked`, async () => {
    const sid = `Mcp-Session-Id: s-again-${second}\r\n`;
    const first = raw(post(call(31, 'secret'), `${sid}X-Test: slow=2500\r\n`), 5000);
    await sleep(700);
    await raw(post(call(31, second), sid), 1000);
    const third = raw(post(call(31, 'other'), `${sid}X-Test: slow=4000\r\n`), 6000);
    const out = await first;
    await third;
    assert.deepEqual(statuses(out), [200], out);
    assert.ok(!out.includes(CARD), `the secret tool's card passed unmasked: ${out}`);
  });
}

// Opens conns connections, pipelines per requests on each (tools/call
// "secret", ids from first on, in session sid, answered slowly), and
// resets them all after ms: every request is cut while it waits.
const FLOOD = String.raw`
const net = require('net');
const [host, port, sid, first, conns, per, ms] = process.argv.slice(1).map((a, i) => (i > 2 ? Number(a) : a));
const socks = [];
let id = first;
for (let i = 0; i < conns; i++) {
  let bytes = '';
  for (let j = 0; j < per; j++, id++) {
    const b = JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'secret', arguments: {} } });
    bytes += 'POST /mcp HTTP/1.1\r\nHost: ' + host + ':' + port + '\r\nContent-Type: application/json\r\n' +
      'Accept: application/json, text/event-stream\r\nMcp-Session-Id: ' + sid + '\r\nX-Test: slow=60000\r\n' +
      'Content-Length: ' + Buffer.byteLength(b) + '\r\n\r\n' + b;
  }
  const s = net.connect(Number(port), host, () => s.write(bytes));
  s.on('error', () => {});
  socks.push(s);
}
setTimeout(() => { for (const s of socks) s.resetAndDestroy(); setTimeout(() => process.exit(0), 200); }, ms);
`;

test('2d. a session that lost more ids than the daemon follows pairs every answer ambiguously; other sessions are not touched', async () => {
  // 1,056 requests cut while they wait: their answers could still come
  // on a stream the client resumes, so each id stays ambiguous. Past
  // 1,024 of them the session is not followed id by id any more.
  const lost = 33 * 32;
  const r = await runInCgroup(cg, NODE, ['-e', FLOOD, '127.0.0.1', String(up.port), 's-flood', '1000',
    '33', '32', '4000'], { timeout: 30000 });
  assert.equal(r.code, 0, r.stderr);
  let n = 0;
  await until(async () => {
    n = (await d.sqlObjects("select count(*)::int as n from mcpwarden.events " +
      "where session_id = 's-flood' and kind = 'request'"))[0].n;
    return n === lost;
  }, `${lost} requests recorded before the cut (${n})`, 15000);
  const sid = (s) => `Mcp-Session-Id: ${s}\r\n`;
  // a fresh id in that session: the other tool's answer gets every rule
  let out = await raw(post(call(1, 'other'), sid('s-flood')));
  assert.deepEqual(statuses(out), [200], out);
  assert.match(out, /other: card \[MASKED:card\]/);
  // another session's id 1000 (cut in s-flood) is its own
  out = await raw(post(call(1000, 'other'), sid('s-calm')));
  assert.ok(out.includes(`other: card ${CARD}`), `another session's pairing was touched: ${out}`);
});

test('2e. a DELETE answered 2xx does not make the session\'s reused ids plain: an earlier request may still be answered', async () => {
  // a stateless server answers any DELETE with 200, and a request put over
  // (secret, id 41) is still running when the id is used again
  const sid = 'Mcp-Session-Id: s-delete\r\n';
  const first = raw(post(call(41, 'secret'), `${sid}X-Test: slow=2500\r\n`), 5000);
  await sleep(700);
  await raw(post(call(41, 'other'), sid), 1000);
  const del = await raw(`DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\n${sid}\r\n`);
  assert.deepEqual(statuses(del), [200], del);
  const third = raw(post(call(41, 'other'), `${sid}X-Test: slow=4000\r\n`), 6000);
  const out = await first;
  await third;
  assert.deepEqual(statuses(out), [200], out);
  assert.ok(!out.includes(CARD), `the secret tool's card passed unmasked: ${out}`);
});

test('3. a batch that holds one id twice is refused before the server sees it', async () => {
  const n = up.st.reqs.length;
  const b = JSON.stringify([JSON.parse(call(2, 'secret')), JSON.parse(call(2, 'other'))]);
  const out = await raw(post(b, 'Mcp-Protocol-Version: 2025-03-26\r\n'));
  assert.deepEqual(statuses(out), [400], out);
  assert.match(out, /request id 2 appears twice in the batch/);
  assert.equal(up.st.reqs.length, n, 'the server got the batch');
});

test('4. a request naming its Content-Type or Content-Encoding twice, or a judged header in Connection, is refused', async () => {
  const n = up.st.reqs.length;
  for (const extra of ['Content-Encoding: identity\r\nContent-Encoding: gzip\r\n',
    'Content-Type: text/plain\r\n']) {
    const out = await raw(post(call(3, 'x'), extra));
    assert.deepEqual(statuses(out), [400], `${extra}: ${out}`);
    assert.match(out, /header content-(encoding|type) sent more than once/);
  }
  // a header the daemon reads, named by Connection, would not reach the
  // server: judged under session S, the request would arrive without one
  const out = await raw(post(call(3, 'x'), 'Connection: keep-alive, Mcp-Session-Id\r\nMcp-Session-Id: S\r\n'));
  assert.deepEqual(statuses(out), [400], out);
  assert.match(out, /Connection names header mcp-session-id/);
  assert.equal(up.st.reqs.length, n, 'the server got a request with a repeated header');
});

test('5. session ids: header and query must agree, the query must read one way, values are trimmed', async () => {
  const n = up.st.reqs.length;
  let out = await raw(post(call(4, 'x'), 'Mcp-Session-Id: AAAA\r\n', '/message?sessionId=BBBB'));
  assert.deepEqual(statuses(out), [400], out);
  assert.match(out, /ambiguous session id: the query names another one than Mcp-Session-Id/);
  out = await raw(post(call(5, 'x'), '', '/message?session%49d=DDDD&x=1'));
  assert.deepEqual(statuses(out), [400], out);
  assert.match(out, /the query could be read two ways/);
  out = await raw(post(call(6, 'x'), '', '/message?a=1#&sessionId=EEEE'));
  assert.deepEqual(statuses(out), [400], out);
  assert.match(out, /fragment/);
  // Express's query parser reads sessionId[]=B and sessionId[0]=B as B
  for (const q of ['sessionId[]=FFFF', 'sessionId%5B0%5D=FFFF', 'session_id.x=FFFF', 'sessionId']) {
    out = await raw(post(call(7, 'x'), '', `/message?${q}`));
    assert.deepEqual(statuses(out), [400], `${q}: ${out}`);
    assert.match(out, /the query could be read two ways/, q);
  }
  // MCP session ids are visible ASCII: nothing else is taken (a space
  // would name the daemon's own scope of requests without a session)
  for (const bad of ['conn 1', 'caf\xe9', 'a\tb']) {
    out = await raw(post(call(7, 'x'), `Mcp-Session-Id: x${bad}\r\n`));
    assert.deepEqual(statuses(out), [400], `${JSON.stringify(bad)}: ${out}`);
    assert.match(out, /invalid Mcp-Session-Id/);
  }
  assert.equal(up.st.reqs.length, n, 'the server got an ambiguous request');
  // a percent-encoded name that is not a session's is the server's own
  out = await raw(post(call(10, 'x'), 'Mcp-Session-Id: GGGG\r\n', '/mcp?env%5BAPI_KEY%5D=1&caf%C3%A9=2'));
  assert.deepEqual(statuses(out), [200], out);

  // the same id in both places: the query's session must still be one a
  // stream announced to this user (the header does not vouch for it)
  out = await raw(post(call(8, 'x'), 'Mcp-Session-Id: SAME\r\n', '/message?sessionId=SAME'));
  assert.deepEqual(statuses(out), [400], out);
  assert.match(out, /no event stream of this server announced to this user/);
  // trailing whitespace is not part of the value (RFC 9110 5.5): the
  // server and the trail both see CCCC
  out = await raw(post(call(9, 'x'), 'Mcp-Session-Id: CCCC \t\r\n'));
  assert.deepEqual(statuses(out), [200], out);
  const fwd = up.st.reqs.at(-1).head;
  assert.match(fwd, /\r\nmcp-session-id: CCCC\r\n/i, fwd);
  await until(async () => (await d.sqlObjects(
    "select session_id from mcpwarden.events where rpc_id = '9' and kind = 'request'")).length === 1,
  'the request with id 9 recorded');
  const rows = await d.sqlObjects("select session_id from mcpwarden.events where rpc_id = '9' and kind = 'request'");
  assert.deepEqual(rows.map((r) => r.session_id), ['CCCC']);
});

test('6. an HTTP/1.0 request without Host is refused: it would go on as HTTP/1.1 without one', async () => {
  const n = up.st.reqs.length;
  const out = await raw(post(call(10, 'x'), '', '/mcp', '1.0'));
  assert.equal(statuses(out)[0], 400, out);
  assert.match(out, /exactly one Host/);
  assert.equal(up.st.reqs.length, n);
});

test('7. a response naming two Content-Types or two session ids is not passed on: 502, recorded', async () => {
  const tl = JSON.stringify({ jsonrpc: '2.0', id: 11, method: 'tools/list', params: {} });
  const out = await raw(post(tl, 'X-Test: dupct\r\n'));
  assert.deepEqual(statuses(out), [502], out);
  assert.ok(!out.includes('forbidden'), `the unjudged tools/list reached the client: ${out}`);
  const rows = await httpErrors(/the response: header content-type sent more than once/);
  assert.ok(rows.every((r) => r.http_status === 502), JSON.stringify(rows));
  const again = await raw(post(call(12, 'x'), 'X-Test: dupsid\r\n'));
  assert.deepEqual(statuses(again), [502], again);
  assert.ok(!again.includes(CARD), again);
  await httpErrors(/the response: header mcp-session-id sent more than once/);
});

test('7b. an event of another type is judged as a message; an unfinished last event is dropped, recorded', async () => {
  // Some clients parse every event's data as JSON-RPC and trim the type,
  // and some hand on what they hold when the stream ends.
  const tl = JSON.stringify({ jsonrpc: '2.0', id: 13, method: 'tools/list', params: {} });
  const out = await raw(post(tl, 'X-Test: typed\r\n'));
  assert.deepEqual(statuses(out), [200], out);
  assert.match(out, /"fine"/, out);
  assert.ok(!out.includes('forbidden'), `the unjudged tools/list reached the client: ${out}`);
  assert.ok(!out.includes('late card'), `the unfinished event reached the client: ${out}`);
  await httpErrors(/unfinished SSE event at the end of the stream dropped/);
});

test('7c. a stream of events nobody can judge is recorded one by one up to 64, then at each doubling', async () => {
  // a few bytes an event must not make a row of the trail each
  const out = await raw(post(call(20, 'junk'), 'X-Test: junk=300\r\n', '/mcp-junk'), 3000);
  assert.deepEqual(statuses(out), [200], out);
  assert.match(out, /junk: card/, 'the answer after the dropped events');
  let rows = [];
  await until(async () => {
    rows = await d.sqlObjects(`select detail from mcpwarden.http_errors where http_path = '/mcp-junk'
      and detail like '%dropped%' order by seq`);
    return rows.length >= 66;
  }, 'the dropped events recorded', 15000);
  await auditSettled(d);
  rows = await d.sqlObjects(`select detail from mcpwarden.http_errors where http_path = '/mcp-junk'
    and detail like '%dropped%' order by seq`);
  const one = rows.filter((r) => r.detail.startsWith('SSE event from the server dropped: '));
  const counted = rows.filter((r) => /^\d+ SSE events from the server dropped on this stream so far/.test(r.detail));
  assert.equal(one.length, 64, JSON.stringify(rows.slice(60)));
  assert.deepEqual(counted.map((r) => Number(r.detail.split(' ')[0])), [128, 256], JSON.stringify(counted));
  assert.equal(rows.length, 66);
});

test('7d. an endpoint event whose data could be JSON is judged as a message', async () => {
  const out = await raw(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\nAccept: text/event-stream\r\n` +
    'X-Test: endpoint\r\n\r\n');
  assert.deepEqual(statuses(out), [200], out);
  assert.match(out, /data: \/messages\?sessionId=abc\n/, out);
  assert.match(out, /"id":"s1"/, out);
  assert.ok(!out.includes('"s2"'), `an endpoint event nobody could judge reached the client: ${out}`);
  await until(async () => (await d.sqlObjects(`select 1 from mcpwarden.messages
    where method = 'sampling/createMessage' and rpc_id = '"s1"'`)).length === 1,
  'the server request in an endpoint event recorded', 15000);
  await httpErrors(/SSE event from the server dropped/);
});

test('7e. an answer in a charset that cannot be read as judged is refused, whatever parameter names it', async () => {
  for (const type of ['text/plain; charset=utf-16le', 'application/json; x-charset=utf-8; charset=utf-16le',
    'application/json; charset=utf-8; charset=utf-16le', 'application/json; charset*0=utf-16le',
    "text/plain; charset*=us-ascii''utf-16"]) {
    const out = await raw(post(call(18, 'plain'), `X-Test: ct=${type}\r\n`), 1500, bare);
    assert.deepEqual(statuses(out), [502], `${type}: ${out}`);
  }
  // a parameter that only ends in "charset" names nothing
  const ok = await raw(post(call(19, 'plain'), 'X-Test: ct=application/json; x-charset=utf-16le\r\n'), 1500, bare);
  assert.deepEqual(statuses(ok), [200], ok);
});

test('7c. an error\'s body is judged as an answer too; one that reads as JSON but not as JSON-RPC is withheld', async () => {
  // Some clients parse any error body as the JSON-RPC answer.
  const out = await raw(post(call(14, 'secret'), 'X-Test: rpc500\r\n'));
  assert.deepEqual(statuses(out), [500], out);
  assert.ok(!out.includes(CARD), `the card passed unmasked: ${out}`);
  assert.match(out, /secret: card \[MASKED:card\]/);
  const odd = await raw(post(call(15, 'secret'), 'X-Test: odd500\r\n'));
  assert.deepEqual(statuses(odd), [500], odd);
  assert.ok(!odd.includes(CARD), `the unjudged body reached the client: ${odd}`);
  assert.match(odd, /it was withheld/);
  // the same from a server no masking rule names: judging does not
  // depend on masking holding the body
  const plain = await raw(post(call(17, 'plain'), 'X-Test: odd500\r\n'), 1500, bare);
  assert.deepEqual(statuses(plain), [500], plain);
  assert.ok(!plain.includes('"x":1'), `the unjudged body reached the client: ${plain}`);
  assert.match(plain, /it was withheld/);
  await httpErrors(/invalid JSON-RPC from the server \(HTTP 500\)/);
  // an error page that is not JSON still passes as it is
  const page = await raw(post(call(16, 'x'), 'X-Test: err500\r\n'));
  assert.deepEqual(statuses(page), [500], page);
  assert.match(page, /\r\n\r\noops$/);
});

test('8. a stop with a request in flight ends cleanly', async () => {
  // (last: it stops the file's daemon) the exchange's pairing entries go
  // before the table does; under ASan a use after free exits non-zero
  const inflight = raw(post(call(51, 'secret'), 'Mcp-Session-Id: s-stop\r\nX-Test: slow=5000\r\n'), 3000);
  await sleep(800);
  const r = await d.stop();
  await inflight;
  assert.deepEqual(r, { code: 0, signal: null }, d.log().slice(-2000));
});
