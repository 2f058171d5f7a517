// Streamable HTTP hosting for the SDK-built test servers (sqlserver.mjs,
// billing.mjs): one McpServer (from newServer()) per session, at /mcp.
// routes(req, res), when given, may answer other paths first (true: done).
// Prints "ready PORT URL" on stdout once listening.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

export function serve(newServer, { port = 0, host = '127.0.0.1', name = 'server', routes } = {}) {
  const transports = new Map();
  const httpServer = http.createServer(async (req, res) => {
    try {
      if (routes && await routes(req, res)) return;
      if (!req.url.startsWith('/mcp')) {
        res.writeHead(404).end();
        return;
      }
      const sid = req.headers['mcp-session-id'];
      const body = req.method === 'POST' ? await readBody(req) : undefined;
      let transport = sid ? transports.get(sid) : undefined;
      if (!transport) {
        if (req.method !== 'POST' || !isInitializeRequest(body)) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end('{"jsonrpc":"2.0","error":{"code":-32000,"message":"no session"},"id":null}');
          return;
        }
        transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => transports.set(id, transport),
        });
        transport.onclose = () => transports.delete(transport.sessionId);
        await newServer().connect(transport);
      }
      await transport.handleRequest(req, res, body);
    } catch (e) {
      process.stderr.write(`${name}: ${e.stack}\n`);
      if (!res.headersSent) res.writeHead(500).end();
    }
  });
  httpServer.listen(port, host, () => {
    const a = httpServer.address();
    const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    process.stdout.write(`ready ${a.port} http://${h}:${a.port}/mcp\n`);
  });
  return httpServer;
}
