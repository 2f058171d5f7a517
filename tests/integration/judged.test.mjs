// What the daemon judged is what the peers read: a request body in another
// charset or compressed is refused (the server would decode another
// message), and a server answer whose type has stray whitespace is still
// judged and recorded before the client sees it.
//
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/judged.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  cgroupRelPath, makeCgroup, runInCgroup, startDaemon, uniqueName, cleanupAll, freePort, auditSettled,
} from './helpers.mjs';

let d;
let cg;
let upstream;
let port;
const seen = [];

// Sends one raw HTTP request from inside the cgroup and prints the answer.
const RAW = String.raw`
const net = require('net');
const [port, file] = process.argv.slice(1);
const s = net.connect(Number(port), '127.0.0.1');
let got = '';
s.on('connect', () => s.write(require('fs').readFileSync(file)));
s.on('data', (c) => { got += c; if (/\r\n\r\n[\s\S]*\}/.test(got) || /\r\n\r\nmcpwarden/.test(got)) s.end(); });
s.on('close', () => process.stdout.write(got));
s.on('error', (e) => process.stdout.write('error ' + e.code));
setTimeout(() => s.destroy(), 5000).unref();
`;

// The request goes through a file: an argument is limited to 128 KiB.
async function raw(req) {
  const file = path.join(os.tmpdir(), `${uniqueName('raw')}.req`);
  fs.writeFileSync(file, req);
  try {
    const r = await runInCgroup(cg, process.execPath, ['-e', RAW, String(port), file], { timeout: 10000 });
    return r.stdout;
  } finally {
    fs.rmSync(file, { force: true });
  }
}

// body: a string (sent as UTF-8) or a Buffer (sent as is).
function post(body, headers) {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return Buffer.concat([Buffer.from(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${headers}` +
    `Content-Length: ${b.length}\r\n\r\n`), b]);
}

const TOOLS = (list) => JSON.stringify({ jsonrpc: '2.0', id: '1', result: { tools: list } });
const SAMPLING = '{"jsonrpc":"2.0","id":5,"method":"sampling/createMessage","params":{"messages":[],"maxTokens":9}}';

// A hostile server, one behaviour per path.
const HOSTILE = {
  '/gzip': (res) => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
    res.end(zlib.gzipSync('{"jsonrpc":"2.0","id":1,"result":{}}'));
  },
  '/utf7': (res) => {
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-7' });
    res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
  },
  // Answers tools/list with an id that pairs with nothing ("1" for 1).
  '/tools-unpaired': (res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(TOOLS([{ name: 'echo', inputSchema: { type: 'object' } },
      { name: 'secret_tool', inputSchema: { type: 'object' } }]));
  },
  '/tools-twice': (res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(TOOLS([{ name: 'echo', inputSchema: { type: 'object' } },
      { name: 'twin', description: 'harmless' }, { name: 'twin', description: 'evil' }]));
  },
  // 1,000 names listed twice, beside echo: sorted out at once, and the
  // trail gets a few events for them, not 1,000 (short names: the body
  // limit is 64 KiB here).
  '/tools-many-twins': (res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    const twins = Array.from({ length: 1000 }, (_, i) => ({ name: `twin-${i}` }));
    res.end(TOOLS([{ name: 'echo', inputSchema: { type: 'object' } }, ...twins, ...twins]));
  },
  '/tools-too-many': (res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(TOOLS([{ name: 'echo', inputSchema: { type: 'object' } },
      ...Array.from({ length: 4100 }, (_, i) => ({ name: (46656 - 1 - i).toString(36) }))]));
  },
  '/tools-long': (res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(TOOLS([{ name: 'echo', inputSchema: { type: 'object' } }, { name: 'x'.repeat(200) }]));
  },
  // Event streams typed as something else: clients still read them.
  '/sse-untyped': (res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`data: ${SAMPLING}\n\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"plain"}}\n\n`);
  },
  '/sse-suffixed': (res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-streamx' });
    res.end(`data: ${SAMPLING}\n\n`);
  },
  '/sse-u2028': (res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.end(`: quiet\u2028data: ${SAMPLING}\u2028\u2028\n\n` +
      'data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"a\u2028b"}}\n\n');
  },
  // Python's str.splitlines() also ends lines at VT, FF, FS, GS and RS
  '/sse-fs': (res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.end(`: quiet\x1cdata: ${SAMPLING}\x1c\x1c\n\n` +
      'data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"fs"}}\n\n');
  },
  // a message whose JSON is written out again (it carries a U+2028), its
  // id and type holding separators and a request in between
  '/sse-id-break': (res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.end(`id: 1\u2028data: ${SAMPLING}\u2028\u2028\nevent: message\x0bdata: ${SAMPLING}\x0b\x0b\n` +
      'data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"a\u2028b"}}\n\n');
  },
  // a byte-order mark decoded as Latin-1 and sent as UTF-8 ("\u00ef\u00bb\u00bf"):
  // eventsource-parser takes those three characters off the stream's
  // first chunk, so the TypeScript SDK reads the request; and one whose
  // empty data line makes it no message to the daemon
  '/sse-bom-latin1': (res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.end(`\u00ef\u00bb\u00bfdata: ${SAMPLING}\n\n\u00ef\u00bb\u00bfdata: ${SAMPLING}\ndata:\n\n` +
      'id: 41\nfoo: x\n\n' +
      'data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"latin1"}}\n\n');
  },
  // a CR alone ends a line for the daemon, not for Go's line readers:
  // what follows it would be the data's; and a request behind a
  // no-break space, which Go's TrimSpace takes off type and data
  '/sse-lone-cr': (res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.end('data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","logger"\r' +
      ':"a","data":"UNJUDGED","x"\ndata: :"a"}}\n\n' +
      `event: message\u00a0\ndata: \u00a0${SAMPLING}\n\n` +
      'data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"after"}}\n\n');
  },
  // a long id, then blocks framed with a CR alone, each written out again:
  // the id must not go with each of them (40 KB for one byte)
  '/sse-long-id': (res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.end(`id: ${'a'.repeat(40000)}\n\r${'\r'.repeat(2000)}` +
      'data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"after-id"}}\n\n');
  },
  // a block the daemon drops, then one behind a byte-order mark: a client
  // whose stream starts there takes the mark off and reads the data
  '/sse-bom': (res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.end(Buffer.concat([Buffer.from('data: {broken\n\n'), Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(`data: ${SAMPLING}\n\n` +
        'data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"bom"}}\n\n')]));
  },
};

before(async () => {
  port = await freePort();
  upstream = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      seen.push({ headers: req.headers, body, url: req.url });
      const hostile = HOSTILE[req.url];
      if (hostile) return hostile(res);
      // Stray tab after the media type: clients still read it as JSON.
      res.writeHead(200, { 'Content-Type': 'application/json\t' });
      res.end('{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"tab-typed"}]}}');
    });
  });
  await new Promise((r) => upstream.listen(port, '127.0.0.1', r));
  d = await startDaemon({ servers: [{ name: 'judged', address: `127.0.0.1:${port}` }],
    limits: { max_body_bytes: 65536 },
    default: 'allow',
    rules: [
      { name: 'hide-secret', tool: 'secret_tool', action: 'deny' },
      { name: 'no-sampling', direction: 'server', method: 'sampling/createMessage', action: 'deny' },
    ] });
  cg = makeCgroup(uniqueName('mw-judged'));
  const en = await d.cli(['enforce', cgroupRelPath(cg)]);
  assert.equal(en.code, 0, en.stderr);
});

after(async () => {
  await cleanupAll();
  upstream?.close();
});

const CALL = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}';

test('a request body in another charset is refused before the server sees it', async () => {
  const n = seen.length;
  const out = await raw(post(CALL, 'Content-Type: application/json; charset=utf-7\r\n'));
  assert.match(out, /^HTTP\/1\.1 415 /, out);
  assert.match(out, /UTF-8/);
  assert.equal(seen.length, n, 'the server received nothing');
});

test('a compressed request body is refused before the server sees it', async () => {
  const n = seen.length;
  const out = await raw(post(CALL, 'Content-Type: application/json\r\nContent-Encoding: gzip\r\n'));
  assert.match(out, /^HTTP\/1\.1 415 /, out);
  assert.match(out, /Content-Encoding/);
  assert.equal(seen.length, n, 'the server received nothing');
});

test('charset=utf-8 is accepted, and an answer typed "application/json<TAB>" is judged and recorded', async () => {
  const out = await raw(post(CALL, 'Content-Type: application/json; charset=UTF-8\r\n'));
  assert.match(out, /^HTTP\/1\.1 200 /, out);
  assert.match(out, /tab-typed/);
  let rows = [];
  for (let i = 0; i < 50 && !rows.length; i++) {
    rows = await d.sqlObjects(
      "select direction, result::text as result from mcpwarden.messages where direction = 's2c'");
    if (!rows.length) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(rows.length, 1, JSON.stringify(rows));
  assert.match(rows[0].result, /tab-typed/);
});

async function httpErrors() {
  return d.sqlObjects('select http_status, detail from mcpwarden.http_errors order by ts');
}

// the rows after the first n, once one of them matches re
async function httpErrorsUntil(n, re) {
  for (let i = 0; i < 50; i++) {
    const rows = (await httpErrors()).slice(n);
    if (rows.some((r) => re.test(r.detail))) return rows;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no http_errors row matches ${re}`);
}

async function waitHttpError(n, match) {
  for (let i = 0; i < 50; i++) {
    const rows = await httpErrors();
    if (rows.length > n) return rows.slice(n);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no http_errors row for ${match}`);
}

// Issue 3 point 6: anything two parsers could read differently is refused
// before the server sees it, answered with a reason and recorded.
const REFUSED = [
  ['duplicate object keys',
    post('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"rm"}}',
      'Content-Type: application/json\r\n'), 400, /duplicate/],
  ['invalid UTF-8',
    post(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ech'),
      Buffer.from([0xff]), Buffer.from('"}}')]), 'Content-Type: application/json\r\n'), 400, /invalid JSON/],
  // jansson's look-ahead drops a NUL after a number: it read this as id 1,
  // where the server's parser refuses it or reads something else
  ['a NUL byte after a number',
    post(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1'), Buffer.from([0]),
      Buffer.from(',"method":"tools/call","params":{"name":"echo"}}')]), 'Content-Type: application/json\r\n'),
    400, /invalid JSON/],
  ['a lone surrogate',
    post('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"e\\ud800"}}',
      'Content-Type: application/json\r\n'), 400, /invalid JSON/],
  ['Content-Length with Transfer-Encoding',
    `POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${CALL.length}\r\n` +
    `Transfer-Encoding: chunked\r\n\r\n${CALL.length.toString(16)}\r\n${CALL}\r\n0\r\n\r\n`, 400, /content-length/i],
  ['two Content-Lengths',
    `POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${CALL.length}\r\n` +
    `Content-Length: ${CALL.length}\r\n\r\n${CALL}`, 400, /content-length/i],
  ['a batch where the protocol version has none',
    post(`[${CALL}]`, 'Content-Type: application/json\r\nMCP-Protocol-Version: 2025-06-18\r\n'), 400,
    /batches are not part of MCP protocol version 2025-06-18/],
  ['an Mcp-Method header that disagrees with the body',
    post(CALL, 'Content-Type: application/json\r\nMcp-Method: tools/list\r\n'), 400, /Mcp-Method/],
  ['an Mcp-Name header that disagrees with the body',
    post(CALL, 'Content-Type: application/json\r\nMcp-Method: tools/call\r\nMcp-Name: rm\r\n'), 400, /Mcp-Name/],
  ['a member named __proto__',
    post('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"__proto__":{"path":"/etc"}}}}',
      'Content-Type: application/json\r\n'), 400, /__proto__/],
  ['a second Mcp-Session-Id',
    post(CALL, 'Content-Type: application/json\r\nMcp-Session-Id: a\r\nMcp-Session-Id: b\r\n'), 400,
    /mcp-session-id sent more than once/],
  ['a legacy session id the server could read another way',
    Buffer.from(`POST /message?sessionId=a&sessionId=b HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${CALL.length}\r\n\r\n${CALL}`), 400, /ambiguous session id/],
  ['an oversized body',
    post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"x":"${'a'.repeat(80000)}"}}}`,
      'Content-Type: application/json\r\n'), 413, /over the limit/],
  // Still being sent when the answer goes out: the daemon drains it rather
  // than closing under it (a reset would destroy the answer).
  ['an oversized body the client is still sending',
    post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"x":"${'a'.repeat(4 << 20)}"}}}`,
      'Content-Type: application/json\r\n'), 413, /over the limit/],
];

for (const [what, req, status, reason] of REFUSED) {
  test(`refused before the server sees it: ${what}`, async () => {
    const n = seen.length;
    const before = (await httpErrors()).length;
    const out = await raw(req);
    assert.match(out, new RegExp(`^HTTP/1\\.1 ${status} `), out.slice(0, 300));
    assert.match(out, reason, out.slice(0, 300));
    assert.equal(seen.length, n, 'the server received nothing');
    const rows = await waitHttpError(before, what);
    assert.equal(Number(rows[0].http_status), status);
    assert.match(rows[0].detail, reason);
  });
}

test('a header mismatch is answered with the JSON-RPC HeaderMismatch error and the request id', async () => {
  const out = await raw(post(CALL, 'Content-Type: application/json\r\nMcp-Method: ping\r\n'));
  const body = JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4));
  assert.equal(body.id, 1);
  assert.equal(body.error.code, -32020);
});

test('headers that agree with the body, base64 names and batches without a version pass', async () => {
  const n = seen.length;
  const toolName = 'tööl';
  const call = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"${toolName}","arguments":{}}}`;
  const b64 = Buffer.from(toolName).toString('base64');
  let out = await raw(post(call,
    `Content-Type: application/json\r\nMcp-Method: tools/call\r\nMcp-Name: =?base64?${b64}?=\r\n`));
  assert.match(out, /^HTTP\/1\.1 200 /, out);
  out = await raw(post(`[${CALL}]`, 'Content-Type: application/json\r\n'));
  assert.match(out, /^HTTP\/1\.1 200 /, out);
  out = await raw(post(`[${CALL}]`, 'Content-Type: application/json\r\nMCP-Protocol-Version: 2025-03-26\r\n'));
  assert.match(out, /^HTTP\/1\.1 200 /, out);
  assert.equal(seen.length, n + 3);
  assert.equal(seen[n].headers['mcp-name'], `=?base64?${b64}?=`, 'headers reach the server as sent');

  // The trail's text is read back as the UTF-8 that was hashed, whatever
  // client encoding the auditor's environment asks for.
  await auditSettled(d);
  const v = await d.cli(['audit', 'verify'], { env: { PGCLIENTENCODING: 'LATIN1' } });
  assert.equal(v.code, 0, `${v.stdout}${v.stderr}`);
});

// Reads the whole answer (the daemon closes after it: Connection: close).
const RAW_ALL = String.raw`
const net = require('net');
const [port, b64] = process.argv.slice(1);
const s = net.connect(Number(port), '127.0.0.1');
const chunks = [];
s.on('connect', () => s.write(Buffer.from(b64, 'base64')));
s.on('data', (c) => chunks.push(c));
s.on('close', () => process.stdout.write(Buffer.concat(chunks).toString('latin1')));
s.on('error', (e) => process.stdout.write('error ' + e.code));
setTimeout(() => s.destroy(), 5000).unref();
`;

async function rawAll(req) {
  const r = await runInCgroup(cg, process.execPath,
    ['-e', RAW_ALL, String(port), Buffer.from(req).toString('base64')], { timeout: 10000 });
  return r.stdout;
}

const LIST = '{"jsonrpc":"2.0","id":1,"method":"tools/list"}';
const postTo = (pathName, body) => `POST ${pathName} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n` +
  `Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n` +
  `Content-Length: ${body.length}\r\n\r\n${body}`;
const getFrom = (pathName) => `GET ${pathName} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n` +
  'Accept: text/event-stream\r\n\r\n';

test('the server is asked for identity encoding, and a compressed answer is refused', async () => {
  await raw(post(CALL, 'Content-Type: application/json\r\nAccept-Encoding: gzip, br\r\n'));
  assert.equal(seen.at(-1).headers['accept-encoding'], 'identity');
  const before = (await httpErrors()).length;
  const out = await rawAll(postTo('/gzip', CALL));
  assert.match(out, /^HTTP\/1\.1 502 /, out.slice(0, 200));
  assert.match(out, /answer cannot be passed on: a compressed response/, out);
  const rows = await waitHttpError(before, 'gzip');
  assert.match(rows.map((r) => r.detail).join(), /compressed/);
});

test('a JSON answer in another charset is refused', async () => {
  const out = await rawAll(postTo('/utf7', CALL));
  assert.match(out, /^HTTP\/1\.1 502 /, out.slice(0, 200));
});

test('tools/list is filtered even when the answer pairs with no request', async () => {
  const out = await rawAll(postTo('/tools-unpaired', LIST));
  assert.match(out, /^HTTP\/1\.1 200 /, out.slice(0, 200));
  assert.match(out, /"echo"/);
  assert.doesNotMatch(out, /secret_tool/);
});

test('a tool listed twice is withheld, both copies', async () => {
  const out = await rawAll(postTo('/tools-twice', LIST));
  assert.match(out, /"echo"/);
  assert.doesNotMatch(out, /twin/);
  const rows = await waitHttpError(0, 'twin');
  assert.ok(rows.some((r) => /twin listed more than once/.test(r.detail)));
});

test('thousands of tools listed twice are withheld in one pass, recorded in a few events', async () => {
  const before = (await httpErrors()).length;
  const out = await rawAll(postTo('/tools-many-twins', LIST));
  assert.match(out, /"echo"/);
  assert.doesNotMatch(out, /twin-/);
  const rows = await httpErrorsUntil(before, /992 more tool names listed more than once/);
  const twins = rows.filter((r) => /twin-/.test(r.detail) || /more tool names/.test(r.detail));
  assert.equal(twins.length, 9, twins.map((r) => r.detail).join('\n'));
});

test('a listing of more tools than can be pinned is withheld whole', async () => {
  const before = (await httpErrors()).length;
  const out = await rawAll(postTo('/tools-too-many', LIST));
  assert.match(out, /^HTTP\/1\.1 200 /, out.slice(0, 200));
  assert.match(out, /"tools":\[\]/);
  await httpErrorsUntil(before, /4101 tools, over 4096: the listing is withheld/);
});

test('a tool that cannot be pinned (its name over 128 bytes) is withheld', async () => {
  const out = await rawAll(postTo('/tools-long', LIST));
  assert.match(out, /"echo"/);
  assert.doesNotMatch(out, /xxxxxxxx/);
});

for (const [what, route] of [['typed text/plain', '/sse-untyped'], ['typed text/event-streamx', '/sse-suffixed']]) {
  test(`an event stream ${what} is still judged: a refused server request never reaches the client`, async () => {
    const out = await rawAll(getFrom(route));
    assert.match(out, /^HTTP\/1\.1 200 /, out.slice(0, 200));
    assert.doesNotMatch(out, /createMessage/, out);
    const rows = await d.sqlObjects("select decision, rule from mcpwarden.messages where method = " +
      "'sampling/createMessage' and decision = 'deny'");
    assert.ok(rows.length >= 1 && rows.every((r) => r.rule === 'no-sampling'));
  });
}

test('line separators Python splits on: a comment block holding one is dropped; an id or type holding one is not written out again', async () => {
  for (const [route, clean] of [['/sse-fs', /"data":"fs"/], ['/sse-id-break', /"data":"a\\u2028b"/]]) {
    const out = Buffer.from(await rawAll(getFrom(route)), 'latin1').toString('utf8');
    assert.match(out, /^HTTP\/1\.1 200 /, out.slice(0, 200));
    assert.doesNotMatch(out, /createMessage/, `${route}: ${JSON.stringify(out)}`);
    assert.doesNotMatch(out, /[\x0b\x0c\x1c-\x1e\u0085\u2028\u2029]/u, `${route}: a separator reaches the client`);
    assert.match(out, clean, `${route}: the judged message goes on: ${JSON.stringify(out)}`);
  }
  // the id not written out again is reset, not left at an older one
  assert.match(Buffer.from(await rawAll(getFrom('/sse-id-break')), 'latin1').toString('utf8'), /\nid:\n/);
  const rows = await d.sqlObjects("select detail from mcpwarden.http_errors where detail like " +
    "'SSE block with a line separator other than CR or LF dropped'");
  assert.ok(rows.length >= 1, JSON.stringify(rows));
});

test('a stream to an HTTP/1.0 client that asked to keep the connection ends with the connection', async () => {
  // no chunked encoding for it: the stream goes with "Connection: close"
  // and no length, so its end must be the connection's
  const t0 = Date.now();
  const out = await rawAll('GET /sse-fs HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  assert.match(out, /^HTTP\/1\.1 200 /, out.slice(0, 200));
  assert.match(out, /\r\nConnection: close\r\n/i, out.slice(0, 300));
  assert.match(out, /"data":"fs"/, out);
  assert.ok(Date.now() - t0 < 4000, `the client waited ${Date.now() - t0} ms for the end`);
});

test('a field no client reads (a byte-order mark mis-decoded before data) is not passed on; the fields clients read are', async () => {
  const out = Buffer.from(await rawAll(getFrom('/sse-bom-latin1')), 'latin1').toString('utf8');
  assert.match(out, /^HTTP\/1\.1 200 /, out.slice(0, 200));
  assert.doesNotMatch(out, /createMessage/, JSON.stringify(out));
  assert.doesNotMatch(out, /\u00ef\u00bb\u00bf|foo/u, JSON.stringify(out));
  // the id a client resumes from still reaches it, and what follows
  assert.match(out, /\nid: 41\n/, JSON.stringify(out));
  assert.match(out, /"data":"latin1"/);
});

test('a CR alone, and a request behind a no-break space: what Go clients read is what was judged', async () => {
  const out = Buffer.from(await rawAll(getFrom('/sse-lone-cr')), 'latin1').toString('utf8');
  assert.match(out, /^HTTP\/1\.1 200 /, out.slice(0, 200));
  assert.doesNotMatch(out, /UNJUDGED|createMessage/, JSON.stringify(out));
  const body = out.slice(out.indexOf('\r\n\r\n') + 4).replace(/\r\n[0-9a-f]+\r\n/g, '');
  assert.doesNotMatch(body.replace(/^[0-9a-f]+\r\n/, ''), /\r(?!\n)/, 'a CR alone reaches the client');
  assert.match(out, /"data":"after"/);
});

test('a block written out again carries the id only when the client lacks it', async () => {
  const out = await rawAll(getFrom('/sse-long-id'));
  assert.match(out, /^HTTP\/1\.1 200 /, out.slice(0, 200));
  assert.ok(out.length < 200000, `${out.length} bytes reached the client for 42 KB`);
  assert.equal(out.split(`id: ${'a'.repeat(40000)}\n`).length, 2, 'the id reaches the client once');
  assert.match(out, /"data":"after-id"/);
});

test('a byte-order mark past the stream\'s first block: the block is dropped, recorded', async () => {
  const out = Buffer.from(await rawAll(getFrom('/sse-bom')), 'latin1');
  assert.equal(out.indexOf(Buffer.from([0xef, 0xbb, 0xbf])), -1, 'a byte-order mark reaches the client');
  assert.doesNotMatch(out.toString('utf8'), /createMessage/);
  assert.match(out.toString('utf8'), /"data":"bom"/);
  const rows = await d.sqlObjects("select detail from mcpwarden.http_errors where detail = " +
    "'SSE block starting with a byte-order mark dropped'");
  assert.equal(rows.length, 1, JSON.stringify(rows));
});

test('Unicode line separators: a comment block holding one is dropped, JSON carrying one is escaped', async () => {
  const out = Buffer.from(await rawAll(getFrom('/sse-u2028')), 'latin1').toString('utf8');
  assert.doesNotMatch(out, /createMessage/);
  assert.doesNotMatch(out, /\u2028/u, 'no raw separator reaches the client');
  assert.match(out, /"a\\u2028b"/, out);
});
