/**
 * The node floor: node:http in front of an undici Pool, no framework, body piped with
 * `body.pipe(res)`. What a reverse proxy costs in node before anyone adds policy.
 *
 * Usage: node bench/peers/node-proxy.ts --upstream URL [--port 0]
 * Prints `{"listening":"http://HOST:PORT"}` once it accepts connections.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({ options: { upstream: { type: 'string' }, port: { type: 'string', default: '0' } } });
if (!values.upstream) throw new Error('--upstream URL is required');

const pool = new Pool(values.upstream, { connections: 128 });
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'upgrade', 'te', 'trailer', 'proxy-connection']);

const server = http.createServer((req, res) => {
  const headers: Record<string, string | string[]> = {};
  for (const k in req.headers) if (!HOP.has(k)) headers[k] = req.headers[k]!;
  pool.request({ method: req.method as 'GET', path: req.url!, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : req }).then(
    (up) => {
      const out: Record<string, string | string[]> = {};
      for (const k in up.headers) if (!HOP.has(k)) out[k] = up.headers[k]!;
      res.writeHead(up.statusCode, out);
      up.body.pipe(res);
    },
    () => {
      res.writeHead(502);
      res.end();
    },
  );
});
server.keepAliveTimeout = 5000;
server.listen(Number(values.port), '127.0.0.1', () => {
  const a = server.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ listening: `http://127.0.0.1:${a.port}` })}\n`);
});
const stop = () => {
  server.close();
  server.closeAllConnections();
  void pool.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
