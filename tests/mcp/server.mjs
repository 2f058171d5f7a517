#!/usr/bin/env node
// Runs the reference MCP server (@modelcontextprotocol/server-everything)
// over HTTP for mcpwarden's tests, using the package's own entry point:
//
//   node dist/index.js streamableHttp   Streamable HTTP, endpoint /mcp
//   node dist/index.js sse              legacy HTTP+SSE: GET /sse, POST /message
//
// Both read the port from $PORT (default 3001) and call express'
// app.listen(PORT) with no host, i.e. they bind the IPv6 wildcard "::"
// dual-stack, reachable on 127.0.0.1 and on [::1] alike. --host narrows the
// bind address (e.g. 127.0.0.1, ::1, 127.0.0.2) by adding it to that one
// listen() call; nothing else of the package is changed.
//
// Usage: node server.mjs [--legacy] [--port N] [--host ADDR]
//   --port 0 picks a free port. When listening, prints exactly one line
//   "ready PORT URL" on stdout, URL being the MCP endpoint (/mcp, or /sse with
//   --legacy) on --host, or on 127.0.0.1 for a wildcard bind. The
//   package's own logs (one line per request) go to stderr.
import net from 'node:net';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

function usage(msg) {
  if (msg) process.stderr.write(`server.mjs: ${msg}\n`);
  process.stderr.write('usage: node server.mjs [--legacy] [--port N] [--host ADDR]\n');
  process.exit(2);
}

let legacy = false;
let port = process.env.PORT ?? '3001';
let host;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const val = () => {
    if (i + 1 >= argv.length) usage(`${a} needs a value`);
    return argv[++i];
  };
  if (a === '--legacy' || a === '--sse') legacy = true;
  else if (a === '--port') port = val();
  else if (a === '--host') host = val();
  else if (a === '-h' || a === '--help') usage();
  else usage(`unknown argument: ${a}`);
}
if (!/^\d+$/.test(String(port)) || Number(port) > 65535) usage(`bad port: ${port}`);
if (host !== undefined) host = host.replace(/^\[(.*)\]$/, '$1');

// Keep stdout for our single "ready" line: the package logs every request
// with console.log.
console.log = console.error;
console.info = console.error;

// The package calls app.listen(PORT, cb) exactly once; add the host there
// and report readiness from the real bound address.
const origListen = net.Server.prototype.listen;
let patched = false;
net.Server.prototype.listen = function (...args) {
  if (!patched) {
    patched = true;
    if (host !== undefined && args.length >= 1 &&
        (typeof args[0] === 'number' || typeof args[0] === 'string')) {
      const cb = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
      args = [Number(args[0]), host, ...(cb ? [cb] : [])];
    }
    this.once('listening', () => {
      const addr = this.address();
      // URL: the bound host, or 127.0.0.1 for a wildcard bind
      const h = host === undefined || host === '::' || host === '0.0.0.0' ? '127.0.0.1' : host;
      const hp = h.includes(':') ? `[${h}]` : h;
      const url = `http://${hp}:${addr.port}${legacy ? '/sse' : '/mcp'}`;
      process.stdout.write(`ready ${addr.port} ${url}\n`);
    });
  }
  return origListen.apply(this, args);
};

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

process.env.PORT = String(port);
const require = createRequire(import.meta.url);
const pkgJson = require.resolve('@modelcontextprotocol/server-everything/package.json');
const entry = new URL('dist/index.js', pathToFileURL(pkgJson));
// dist/index.js picks its transport from argv[2].
process.argv = [process.argv[0], entry.pathname, legacy ? 'sse' : 'streamableHttp'];
await import(entry.href);
