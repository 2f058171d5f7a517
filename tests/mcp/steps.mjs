#!/usr/bin/env node
// An MCP client on the official TypeScript SDK that runs a list of steps in
// one session and prints ONE JSON object: what each step got, so a test can
// compare what a client sees with and without a policy.
//
// Usage: node steps.mjs URL STEPS [--timeout MS]
//   STEPS: a JSON array of
//     {"op": "list"}                        tools/list: the tool names, sorted
//     {"op": "describe", "name": T}         tools/list: T's description
//     {"op": "call", "name": T, "args": {}} tools/call
//       "full": true      also the whole content and structuredContent
//       "progress": true  ask for progress (the result then comes on an
//                         SSE stream), and count the notifications
//     {"op": "announce"}                    the session id, on stderr at once
//                                           ("session: ID")
//     {"op": "wait", "file": P}             until file P exists
//   The client offers roots (one root, file:///srv/data) and counts how
//   often the server asked for them.
// Output: {"steps": [{"ok": true, "tools"|"text"|"description": ...} or
//   {"ok": false, "code": N, "message": S}], "roots_asked": N,
//   "tools_changed": N (notifications/tools/list_changed received)}
// Exit status: 0 when every step ran (refusals included), 1 otherwise.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ListRootsRequestSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';

const [url, stepsText, ...rest] = process.argv.slice(2);
let timeout = 15000;
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === '--timeout') timeout = Number(rest[++i]);
}
if (!url || !stepsText) {
  process.stderr.write('usage: node steps.mjs URL STEPS [--timeout MS]\n');
  process.exit(2);
}
const steps = JSON.parse(stepsText);
const out = { steps: [], roots_asked: 0, tools_changed: 0 };

const client = new Client({ name: 'mcpwarden-steps', version: '1.0.0' },
  { capabilities: { roots: { listChanged: false } } });
client.setRequestHandler(ListRootsRequestSchema, async () => {
  out.roots_asked++;
  return { roots: [{ uri: 'file:///srv/data', name: 'data' }] };
});
client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
  out.tools_changed++;
});

const timer = setTimeout(() => {
  process.stderr.write(`steps.mjs: error: timed out after ${timeout} ms\n`);
  process.exit(1);
}, timeout);

try {
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  for (const s of steps) {
    try {
      if (s.op === 'announce') {
        process.stderr.write(`session: ${transport.sessionId}\n`);
        out.steps.push({ ok: true });
      } else if (s.op === 'wait') {
        const fs = await import('node:fs');
        while (!fs.existsSync(s.file)) await new Promise((r) => setTimeout(r, 50));
        out.steps.push({ ok: true });
      } else if (s.op === 'list' || s.op === 'describe') {
        const r = await client.listTools();
        if (s.op === 'list') out.steps.push({ ok: true, tools: r.tools.map((t) => t.name).sort() });
        else out.steps.push({ ok: true, description: r.tools.find((t) => t.name === s.name)?.description ?? null });
      } else if (s.op === 'call') {
        let progress = 0;
        const r = await client.callTool({ name: s.name, arguments: s.args ?? {} }, undefined,
          s.progress ? { onprogress: () => { progress++; } } : undefined);
        const step = { ok: true, text: r.content?.[0]?.text ?? null, is_error: !!r.isError };
        if (s.full) Object.assign(step, { content: r.content, structured: r.structuredContent ?? null });
        if (s.progress) step.progress = progress;
        out.steps.push(step);
      } else if (s.op === 'read') {
        const r = await client.readResource({ uri: s.uri });
        out.steps.push({ ok: true, contents: r.contents });
      } else {
        throw new Error(`unknown op ${s.op}`);
      }
    } catch (e) {
      if (e.code === undefined) throw e;
      out.steps.push({ ok: false, code: e.code, message: e.message });
    }
  }
  await client.close();
} catch (e) {
  process.stderr.write(`steps.mjs: error: ${e.stack ?? e}\n`);
  process.exit(1);
}
clearTimeout(timer);
process.stdout.write(JSON.stringify(out) + '\n');
