#!/usr/bin/env node
// An MCP server built with the official TypeScript SDK (McpServer over
// Streamable HTTP, one session per client) whose tools return rows of a real
// PostgreSQL table of customers, card numbers and SSNs included: what
// mcpwarden's masking tests put between it and a client.
//
// Tools:
//   lookup_customers {name_prefix?, card?}  the matching rows, as text (JSON)
//                    and as structuredContent {rows}; card filters on the
//                    exact card number (so a test can prove the server got
//                    the raw argument)
//   stream_customers {}  the same rows after progress notifications, so that
//                    the result comes on an SSE stream
//   card_image {}    an image (base64 PNG bytes) and a text with a card
//
// Beside /mcp, what servers also send that is not JSON-RPC:
//   GET /debug       a 500 error page (text/plain) quoting the first row
//   GET /events      an event stream: an "audit" event quoting it too, then a
//                    JSON-RPC message whose block has a comment quoting it
//   POST /number     answers a JSON-RPC request with its first card's digits
//                    as the bare integer result (JSON-RPC allows any value);
//                    ?form=real as a real (4111111111111111.0, as Python
//                    prints a float), ?form=exp in exponent form
//
// Usage: node billing.mjs --pg CONNSTRING [--port N] [--host ADDR]
//   CONNSTRING as libpq takes it (e.g. postgresql:///billing?host=/tmp/dir)
//   Prints "ready PORT URL" on stdout once listening (URL: the /mcp endpoint).
import { z } from 'zod';
import pg from 'pg';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { serve } from './serve.mjs';

let port = 0;
let host = '127.0.0.1';
let conn = process.env.BILLING_PG;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--port') port = Number(argv[++i]);
  else if (argv[i] === '--host') host = argv[++i];
  else if (argv[i] === '--pg') conn = argv[++i];
  else {
    process.stderr.write(`billing.mjs: unknown argument ${argv[i]}\n`);
    process.exit(2);
  }
}
if (!conn) {
  process.stderr.write('billing.mjs: --pg CONNSTRING is required\n');
  process.exit(2);
}

const db = new pg.Pool({ connectionString: conn, max: 4 });

// Bytes a card number's digits could be read in, were they masked as text.
export const IMAGE_B64 = Buffer.from('\x89PNG\r\n\x1a\n4111111111111111 not text').toString('base64');

async function rows(where, params) {
  const r = await db.query(
    `SELECT id, name, email, card, ssn, note FROM customers ${where} ORDER BY id`, params);
  return r.rows;
}

function result(list) {
  return {
    content: [{ type: 'text', text: JSON.stringify(list) }],
    structuredContent: { rows: list },
  };
}

function newServer() {
  const server = new McpServer({ name: 'mcpwarden-billing', version: '1.0.0' });
  server.registerTool('lookup_customers', {
    description: 'Customers by name prefix or by card number.',
    inputSchema: { name_prefix: z.string().optional(), card: z.string().optional() },
  }, async ({ name_prefix: prefix, card }) => {
    if (card !== undefined) return result(await rows('WHERE card = $1', [card]));
    return result(await rows('WHERE name LIKE $1', [`${prefix ?? ''}%`]));
  });
  server.registerTool('stream_customers', {
    description: 'Every customer, after reporting progress.',
  }, async (extra) => { // no inputSchema: the handler gets extra alone
    const token = extra._meta?.progressToken;
    for (let k = 1; k <= 3; k++) {
      if (token !== undefined) {
        await extra.sendNotification({ method: 'notifications/progress',
          params: { progressToken: token, progress: k, total: 3 } });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return result(await rows('', []));
  });
  server.registerTool('card_image', {
    description: 'A scanned card, and its number as text.',
  }, async () => ({
    content: [
      { type: 'image', mimeType: 'image/png', data: IMAGE_B64 },
      { type: 'text', text: 'card on file: 4111 1111 1111 1111' },
    ],
  }));
  return server;
}

async function firstRowText() {
  const r = await rows('', []);
  return `customer ${r[0].name}: card ${r[0].card}, ssn ${r[0].ssn}`;
}

async function routes(req, res) {
  if (req.url.split('?')[0] === '/number' && req.method === 'POST') {
    let body = '';
    for await (const chunk of req) body += chunk;
    const r = await rows('', []);
    const digits = r[0].card.replace(/\D/g, '');
    const form = new URL(req.url, 'http://x').searchParams.get('form');
    const value = form === 'real' ? `${digits}.0`
      : form === 'exp' ? `${digits[0]}.${digits.slice(1)}e${digits.length - 1}` : digits;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`{"jsonrpc":"2.0","id":${JSON.stringify(JSON.parse(body).id)},"result":${value}}`);
    return true;
  }
  if (req.url === '/debug') {
    const r = await rows('', []);
    res.writeHead(500, { 'content-type': 'text/plain', 'x-debug-card': r[0].card });
    res.end(`internal error while billing ${await firstRowText()}\n`);
    return true;
  }
  // JSON that is not JSON-RPC, its SSN written with escapes
  if (req.url === '/debug-json') {
    const r = await rows('', []);
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(`{"error":"no customer with ssn ${r[0].ssn.replace(/-/g, '\\u002d')}"}`);
    return true;
  }
  // a lone surrogate (JSON.parse reads it, jansson does not) before a card
  if (req.url === '/debug-lone') {
    const r = await rows('', []);
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(`{"error":"card \\uDC00${r[0].card}"}`);
    return true;
  }
  // the same with a duplicate key: no parse reads it one way only
  if (req.url === '/debug-dup') {
    const r = await rows('', []);
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(`{"error":"none","error":"no customer with ssn ${r[0].ssn.replace(/-/g, '\\u002d')}"}`);
    return true;
  }
  // a request from the server on a GET stream, naming a tool after a
  // customer's e-mail address (what masking rewrites in place)
  if (req.url === '/server-request') {
    const r = await rows('', []);
    const msg = { jsonrpc: '2.0', id: 'r1', method: 'tools/call', params: { name: r[0].email, arguments: {} } };
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(`event: message\ndata: ${JSON.stringify(msg)}\n\n`);
    return true;
  }
  // a customer's values where no mask can go: a notification's method,
  // a server request's id (a string, and an integer), the id of a result
  // and of an error that answer no request of the client's
  if (req.url === '/server-names') {
    const r = await rows('', []);
    const card = r[0].card.replace(/\D/g, '');
    const msgs = [{ jsonrpc: '2.0', method: `notifications/${r[0].ssn}` },
      { jsonrpc: '2.0', id: r[0].card, method: 'ping' },
      { jsonrpc: '2.0', id: Number(card), method: 'ping' },
      { jsonrpc: '2.0', id: card, result: {} },
      { jsonrpc: '2.0', id: Number(card), error: { code: -32603, message: 'no such request' } },
      { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'names ok' } }];
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(msgs.map((m) => `data: ${JSON.stringify(m)}\n\n`).join(''));
    return true;
  }
  // a tools/list answer naming a tool after a customer's SSN; ?v=2
  // changes its definition (the pin's "changed" event and log line)
  if (req.url.split('?')[0] === '/tools-named' && req.method === 'POST') {
    let body = '';
    for await (const chunk of req) body += chunk;
    const r = await rows('', []);
    const v = new URL(req.url, 'http://x').searchParams.get('v') ?? '1';
    const tools = [{ name: `lookup_${r[0].ssn}`, description: `version ${v}`,
      inputSchema: { type: 'object' } }];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: JSON.parse(body).id, result: { tools } }));
    return true;
  }
  // a session id made of a customer's card, as a server may make one of
  // what it knows of the user: the answer to any request names it
  if (req.url === '/session-card' && req.method === 'POST') {
    let body = '';
    for await (const chunk of req) body += chunk;
    const r = await rows('', []);
    res.writeHead(200, { 'content-type': 'application/json',
      'mcp-session-id': `srv-${r[0].card.replace(/\D/g, '')}` });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: JSON.parse(body).id, result: {} }));
    return true;
  }
  // the legacy transport's endpoint event, its URL holding a card: a URL
  // masked is none a client can use
  if (req.url === '/endpoint-card') {
    const r = await rows('', []);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(`event: endpoint\ndata: /messages?sessionId=abc&card=${r[0].card.replace(/\D/g, '')}\n\n`
      + 'event: endpoint\ndata: /messages?sessionId=abc\n\n');
    return true;
  }
  // the error page in UTF-16, where a scanner of ASCII sees no digits
  if (req.url === '/debug-utf16') {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-16le' });
    res.end(Buffer.from(await firstRowText(), 'utf16le'));
    return true;
  }
  // the same, where one escape breaks the card the text shows while another
  // makes one it does not (the counts of what is seen stay equal)
  if (req.url === '/debug-swap') {
    const r = await rows('', []);
    const digits = r[0].card.replace(/\D/g, '');
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(`{"a":"${digits}\\u0031","a":"${digits.match(/.{4}/g).join('\\u0020')}"}`);
    return true;
  }
  // A byte-order mark, comments, a retry that is a card number, an id, a
  // field no client reads, JSON with escapes in an event that is not a
  // message, then a message.
  if (req.url === '/events') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const r = await rows('', []);
    const row = await firstRowText();
    const note = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message',
      params: { level: 'info', data: 'billing ready' } });
    res.end(`\ufeff: note ${row}\nevent: audit\nretry: ${r[0].card.replace(/\D/g, '')}\ndata: ${row}\n\n`
      + `id: ${r[0].card}\nx-note: ${row}\nevent: audit-json\n`
      + `data: {"ssn":"${r[0].ssn.replace(/-/g, '\\u002d')}"}\n\n`
      + `: trace ${row}\ndata: ${note}\n\n`);
    return true;
  }
  return false;
}

serve(newServer, { port, host, name: 'billing.mjs', routes });
