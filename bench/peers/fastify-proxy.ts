/**
 * The peer floor: a bare @fastify/http-proxy app with no stages and default options
 * (undici underneath, through @fastify/reply-from). What fastify itself costs as a proxy.
 *
 * Usage: node bench/peers/fastify-proxy.ts --upstream URL [--port 0]
 * Prints `{"listening":"http://HOST:PORT"}` once it accepts connections.
 */
import { parseArgs } from 'node:util';
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';

const { values } = parseArgs({ options: { upstream: { type: 'string' }, port: { type: 'string', default: '0' } } });
if (!values.upstream) throw new Error('--upstream URL is required');

const app = Fastify({ logger: false });
await app.register(proxy, { upstream: values.upstream });
await app.listen({ host: '127.0.0.1', port: Number(values.port) });
const a = app.server.address() as { port: number };
process.stdout.write(`${JSON.stringify({ listening: `http://127.0.0.1:${a.port}` })}\n`);
const stop = () => void app.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
