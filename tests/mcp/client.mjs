#!/usr/bin/env node
// An MCP client built on the official TypeScript SDK, for mcpwarden's tests.
// It connects to URL, runs a scenario against the reference server
// (server-everything) and prints ONE JSON object on stdout. Volatile values
// (session ids, UUIDs, timestamps, progress tokens) are left out or
// normalised, so the output of a direct run and of a run through mcpwarden
// can be compared for equality.
//
// Usage: node client.mjs URL [--scenario full|echo|list] [--legacy]
//                            [--message TEXT] [--timeout MS] [--include-session]
//   URL         Streamable HTTP endpoint (http://127.0.0.1:3001/mcp), or with
//               --legacy the HTTP+SSE endpoint (http://127.0.0.1:3001/sse)
//   --legacy    use the legacy HTTP+SSE transport (SSEClientTransport)
//   --scenario  full (default): initialize, tools/list, echo, the long-running
//                 tool with progress notifications, resources/list + read,
//                 a resource subscription whose notifications come over the
//                 standalone GET SSE stream, then DELETE the session;
//               echo: initialize, one echo call, close;
//               list: initialize, tools/list, close
//   --include-session  add "session_id" (volatile!) to the output, e.g. to
//               look the session up in the audit trail
// Output fields: transport, scenario, server, capabilities, protocol_version,
//   tools (sorted names), echo, long_running (content + the progress
//   notifications seen at the transport), resources, resource_read (sha256 of
//   a static document), resource_read_dynamic (timestamp removed),
//   notifications (the logging and resources/updated notifications that
//   arrive on the GET stream), http (the set of "METHOD STATUS content-type"
//   exchanges the transport made).
// Exit status: 0 on success; 1 with "client.mjs: error: ..." on stderr when
// any step fails or times out; 2 on bad usage.
import { createHash } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import {
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';

function usage(msg) {
  if (msg) process.stderr.write(`client.mjs: ${msg}\n`);
  process.stderr.write(
    'usage: node client.mjs URL [--scenario full|echo|list] [--legacy] ' +
      '[--message TEXT] [--timeout MS] [--include-session]\n');
  process.exit(2);
}

const opts = { scenario: 'full', legacy: false, message: 'hello from mcpwarden tests',
  timeout: 20000, includeSession: false, url: undefined };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const val = () => {
    if (i + 1 >= argv.length) usage(`${a} needs a value`);
    return argv[++i];
  };
  if (a === '--scenario') opts.scenario = val();
  else if (a === '--legacy') opts.legacy = true;
  else if (a === '--message') opts.message = val();
  else if (a === '--timeout') opts.timeout = Number(val());
  else if (a === '--include-session') opts.includeSession = true;
  else if (a === '-h' || a === '--help') usage();
  else if (a.startsWith('-')) usage(`unknown option: ${a}`);
  else if (opts.url === undefined) opts.url = a;
  else usage(`unexpected argument: ${a}`);
}
if (!opts.url) usage('missing URL');
if (!['full', 'echo', 'list'].includes(opts.scenario)) usage(`unknown scenario: ${opts.scenario}`);
if (!(opts.timeout > 0)) usage('bad --timeout');
let url;
try {
  url = new URL(opts.url);
} catch {
  usage(`bad URL: ${opts.url}`);
}

const UUID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const norm = (s) => (typeof s === 'string' ? s.replace(UUID_RE, '<uuid>') : s);
const sha256 = (s) => createHash('sha256').update(s).digest('hex');

let step = 'start';
function fail(msg) {
  process.stderr.write(`client.mjs: error: ${msg}\n`);
  process.exit(1);
}
const deadline = setTimeout(
  () => fail(`timed out after ${opts.timeout} ms during step "${step}" (${url})`), opts.timeout);
deadline.unref();

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

// Every HTTP exchange the transport makes, to see the GET stream and DELETE.
const http = [];
let resolveGetStream;
const getStreamOpen = new Promise((r) => { resolveGetStream = r; });
async function recordingFetch(input, init) {
  const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  const res = await fetch(input, init);
  const ctype = (res.headers.get('content-type') ?? '').split(';')[0].trim();
  http.push({ method, status: res.status, ctype });
  if (method === 'GET' && res.ok && ctype === 'text/event-stream') resolveGetStream();
  return res;
}

// Server-to-client notifications, by kind.
const notes = { logging: [], updated: [] };
const waiters = [];
function notify() {
  for (const w of [...waiters]) if (w.check()) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
}
function waitFor(check, ms, what) {
  if (check()) return Promise.resolve();
  return withTimeout(new Promise((resolve) => waiters.push({ check, resolve })), ms, what);
}

const client = new Client({ name: 'mcpwarden-test-client', version: '1.0.0' }, { capabilities: {} });
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
  notes.logging.push({ level: n.params.level, data: norm(String(n.params.data)) });
  notify();
});
client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
  notes.updated.push(n.params.uri);
  notify();
});
let transportError;
client.onerror = (e) => {
  if (!/progress notification for an unknown token/.test(e?.message)) transportError = e;
};
let progressTap;

const transport = opts.legacy
  ? new SSEClientTransport(url, { fetch: recordingFetch, eventSourceInit: { fetch: recordingFetch } })
  : new StreamableHTTPClientTransport(url, { fetch: recordingFetch,
    reconnectionOptions: { maxRetries: 0, initialReconnectionDelay: 1000,
      maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1 } });

const textOf = (result) => (result.content ?? []).map((c) =>
  (c.type === 'text' ? { type: 'text', text: norm(c.text) } : { type: c.type }));

async function run() {
  const out = { transport: opts.legacy ? 'sse' : 'streamable-http', scenario: opts.scenario };

  step = 'initialize';
  await client.connect(transport);
  const sdkOnMessage = transport.onmessage;
  transport.onmessage = (msg, extra) => {
    if (msg?.method === 'notifications/progress' && progressTap) progressTap(msg.params);
    sdkOnMessage?.(msg, extra);
  };
  const sv = client.getServerVersion();
  out.server = { name: sv?.name, version: sv?.version };
  out.capabilities = Object.keys(client.getServerCapabilities() ?? {}).sort();
  if (!opts.legacy) {
    out.protocol_version = transport.protocolVersion;
    if (!transport.sessionId) throw new Error('the server gave no Mcp-Session-Id');
  }
  const sessionId = opts.legacy ? transport._endpoint?.searchParams.get('sessionId') : transport.sessionId;
  if (opts.includeSession) out.session_id = sessionId ?? null;

  if (opts.scenario === 'full' || opts.scenario === 'list') {
    step = 'tools/list';
    const { tools } = await client.listTools();
    out.tools = tools.map((t) => t.name).sort();
  }

  if (opts.scenario === 'full' || opts.scenario === 'echo') {
    step = 'tools/call echo';
    const r = await client.callTool({ name: 'echo', arguments: { message: opts.message } });
    out.echo = { content: textOf(r), isError: r.isError ?? false };
    const want = `Echo: ${opts.message}`;
    if (r.content?.[0]?.text !== want) throw new Error(`echo returned ${JSON.stringify(r.content)}, want "${want}"`);
  }

  if (opts.scenario === 'full') {
    step = 'tools/call trigger-long-running-operation';
    // The SDK dispatches notifications a microtask later than responses, so
    // when the last progress notification and the result arrive in one read
    // (which a proxy may well cause) it drops that notification ("unknown
    // token"). Count progress at the transport instead; onprogress is still
    // given so that the SDK sends a progressToken.
    const progress = [];
    progressTap = (p) => progress.push({ progress: p.progress, total: p.total });
    const r = await client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 2, steps: 4 } },
      undefined,
      { onprogress: () => {}, timeout: 15000 });
    progressTap = undefined;
    out.long_running = { content: textOf(r), isError: r.isError ?? false, progress };
    if (progress.length !== 4) throw new Error(`got ${progress.length} progress notifications, want 4`);

    step = 'resources/list';
    const { resources } = await client.listResources();
    out.resources = resources.map((x) => x.uri).sort();
    const doc = 'demo://resource/static/document/instructions.md';
    if (!out.resources.includes(doc)) throw new Error(`${doc} not in resources/list`);

    step = 'resources/read';
    const rd = await client.readResource({ uri: doc });
    const c = rd.contents?.[0];
    if (!c?.text) throw new Error(`resources/read ${doc} returned no text`);
    out.resource_read = { uri: c.uri, mimeType: c.mimeType, length: c.text.length, sha256: sha256(c.text) };
    const dyn = await client.readResource({ uri: 'demo://resource/dynamic/text/1' });
    // "...created at <local time>": drop the timestamp
    out.resource_read_dynamic = {
      uri: dyn.contents?.[0]?.uri,
      text: String(dyn.contents?.[0]?.text).replace(/ created at .*$/, ' created at <time>'),
    };

    // Notifications not tied to a request travel on the standalone GET SSE
    // stream (Streamable HTTP; the SDK opens it after notifications/initialized)
    // or on the one SSE stream (legacy). The server drops them while no GET
    // stream is open, so wait for it first.
    step = 'GET SSE stream';
    if (!opts.legacy) await withTimeout(getStreamOpen, 5000, 'the standalone GET SSE stream to open');
    const subUri = 'demo://resource/dynamic/text/1';
    step = 'resources/subscribe';
    await client.subscribeResource({ uri: subUri });
    await waitFor(() => notes.logging.some((l) => l.data.includes('Subscribe')), 5000,
      'the logging notification acknowledging resources/subscribe');
    step = 'toggle-subscriber-updates';
    const on = await client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
    await waitFor(() => notes.updated.length > 0, 5000, 'notifications/resources/updated');
    const off = await client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
    step = 'resources/unsubscribe';
    await client.unsubscribeResource({ uri: subUri });
    await waitFor(() => notes.logging.some((l) => l.data.includes('Unsubscribe')), 5000,
      'the logging notification acknowledging resources/unsubscribe');
    out.notifications = {
      logging: notes.logging.filter((l) => /[Ss]ubscribe/.test(l.data)),
      resource_updated: [...new Set(notes.updated)],
      toggle: [textOf(on)[0]?.text, textOf(off)[0]?.text],
    };
  }

  step = 'close';
  // Also in the short scenarios: let the GET stream open before closing, so
  // that the HTTP exchanges (and what a proxy records) are the same every run.
  if (!opts.legacy) await withTimeout(getStreamOpen, 5000, 'the standalone GET SSE stream to open');
  if (!opts.legacy) {
    await transport.terminateSession(); // DELETE with Mcp-Session-Id
    if (transport.sessionId) throw new Error('session not terminated');
  }
  await client.close();

  // HTTP exchanges as a set: each method/status/content-type seen.
  out.http = [...new Set(http.map((h) => `${h.method} ${h.status} ${h.ctype || '-'}`))].sort();
  if (opts.scenario === 'full') {
    const get = http.some((h) => h.method === 'GET' && h.status === 200 && h.ctype === 'text/event-stream');
    if (!get) throw new Error('no GET SSE stream was opened');
    if (!opts.legacy && !http.some((h) => h.method === 'DELETE' && h.status === 200)) {
      throw new Error('DELETE of the session did not answer 200');
    }
  }
  return out;
}

try {
  const out = await run();
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
} catch (e) {
  let why = e?.message ?? String(e);
  if (e?.cause) why += ` (${[e.cause.code, e.cause.message].filter(Boolean).join(': ')})`;
  fail(`${step}: ${why}${transportError && transportError !== e ? ` (transport: ${transportError.message})` : ''}`);
}
