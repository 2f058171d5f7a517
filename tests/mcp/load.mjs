// A load of tools/call echo requests with the official SDK client, for the
// audit trail's durability tests: STREAMS sessions, each making calls one
// after another until CALLS calls have been made in all (or --seconds
// pass). It keeps going when calls fail (the gateway refusing, the gateway
// restarting: a failed session is replaced by a new one) and prints what
// the client saw as JSON: {ok, failed, errors: {message: count}}. A call is
// ok when its result is the echo of its own message.
//
// Usage: node load.mjs URL [--calls N] [--streams K] [--seconds S] [--tag T]
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const opts = { calls: 200, streams: 4, seconds: 60, tag: 'load' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const val = () => argv[++i];
  if (a === '--calls') opts.calls = Number(val());
  else if (a === '--streams') opts.streams = Number(val());
  else if (a === '--seconds') opts.seconds = Number(val());
  else if (a === '--tag') opts.tag = val();
  else if (!opts.url) opts.url = a;
  else { process.stderr.write(`load.mjs: unexpected argument ${a}\n`); process.exit(2); }
}
if (!opts.url || !(opts.calls > 0) || !(opts.streams > 0)) {
  process.stderr.write('usage: node load.mjs URL [--calls N] [--streams K] [--seconds S] [--tag T]\n');
  process.exit(2);
}

const out = { ok: 0, failed: 0, errors: {} };
const deadline = Date.now() + opts.seconds * 1000;
let started = 0;

function failed(e) {
  out.failed++;
  const m = String(e?.message ?? e).replace(/\d+/g, 'N').slice(0, 160);
  out.errors[m] = (out.errors[m] ?? 0) + 1;
}

async function session() {
  const client = new Client({ name: 'mcpwarden-load', version: '1.0.0' }, { capabilities: {} });
  client.onerror = () => {};
  const transport = new StreamableHTTPClientTransport(new URL(opts.url),
    { reconnectionOptions: { maxRetries: 0, initialReconnectionDelay: 1000,
      maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1 } });
  await client.connect(transport);
  return client;
}

async function stream(k) {
  let client = null;
  while (started < opts.calls && Date.now() < deadline) {
    if (!client) {
      try {
        client = await session();
      } catch (e) {
        failed(e);
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
    }
    const n = started++;
    const message = `${opts.tag} ${k} ${n}`;
    try {
      const r = await client.callTool({ name: 'echo', arguments: { message } },
        undefined, { timeout: 15000 });
      const text = (r.content ?? []).map((c) => c.text).join('');
      if (!r.isError && text === `Echo: ${message}`) out.ok++;
      else failed(new Error(`unexpected result: ${text}`));
    } catch (e) {
      failed(e);
      try { await client.close(); } catch { /* already broken */ }
      client = null;
    }
  }
  if (client) await client.close().catch(() => {});
}

await Promise.all(Array.from({ length: opts.streams }, (_, k) => stream(k)));
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
