// What the daemon judged is what the peers read: a request body in another
// charset or compressed is refused (the server would decode another
// message), and a server answer whose type has stray whitespace is still
// judged and recorded before the client sees it.
//
// Run: MW_BUILD=build node --test --test-concurrency=1 tests/integration/judged.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  cgroupRelPath, makeCgroup, runInCgroup, startDaemon, uniqueName, cleanupAll, freePort,
} from './helpers.mjs';

let d;
let cg;
let upstream;
let port;
const seen = [];

// Sends one raw HTTP request from inside the cgroup and prints the answer.
const RAW = String.raw`
const net = require('net');
const [port, b64] = process.argv.slice(1);
const s = net.connect(Number(port), '127.0.0.1');
let got = '';
s.on('connect', () => s.write(Buffer.from(b64, 'base64')));
s.on('data', (c) => { got += c; if (/\r\n\r\n[\s\S]*\}/.test(got) || /\r\n\r\nmcpwarden/.test(got)) s.end(); });
s.on('close', () => process.stdout.write(got));
s.on('error', (e) => process.stdout.write('error ' + e.code));
setTimeout(() => s.destroy(), 5000);
`;

async function raw(req) {
  const r = await runInCgroup(cg, process.execPath,
    ['-e', RAW, String(port), Buffer.from(req).toString('base64')], { timeout: 10000 });
  return r.stdout;
}

function post(body, headers) {
  return `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${headers}` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

before(async () => {
  port = await freePort();
  upstream = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      seen.push({ headers: req.headers, body });
      // Stray tab after the media type: clients still read it as JSON.
      res.writeHead(200, { 'Content-Type': 'application/json\t' });
      res.end('{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"tab-typed"}]}}');
    });
  });
  await new Promise((r) => upstream.listen(port, '127.0.0.1', r));
  d = await startDaemon({ servers: [{ name: 'judged', address: `127.0.0.1:${port}` }] });
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
