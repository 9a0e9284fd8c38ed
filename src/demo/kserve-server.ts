import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { DEMO_MNIST_ONNX } from './demo-mnist-model.js';
import { ModelRegistry } from './model-registry.js';
import { v2Infer, v2ModelMetadata, v2ModelReady } from './oip-v2-routes.js';
import type { ServedModelSpec } from './served-model.js';
import { ServerError } from './server-error.js';
import { tfModelMetadata, tfModelStatus, tfPredict } from './tfserving-routes.js';

/** Options for {@link startKServeServer}. */
export interface KServeServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (an ephemeral port). */
  port?: number;
  /** Default: `mnist` from models/demo-mnist/model.onnx. */
  models?: ServedModelSpec[];
  /** Largest request body accepted, in bytes. Default 32 MiB. */
  maxBodyBytes?: number;
}

/** Request counts seen by the server (the test hooks under /__stats are not counted). */
export interface KServeServerStats {
  requests: number;
  byPath: Record<string, number>;
}

/** A running demo model server. */
export interface KServeServer {
  /** e.g. http://127.0.0.1:43121 */
  url: string;
  port: number;
  /** Stops accepting, drops open connections and frees the ONNX sessions. */
  close(): Promise<void>;
  stats(): KServeServerStats;
}

/** The model served when none are given. */
export const DEFAULT_MODELS: readonly ServedModelSpec[] = Object.freeze([{ name: 'mnist', path: DEMO_MNIST_ONNX, version: '1' }]);

const NAME = '[A-Za-z0-9._%-]+';
const V2_MODEL = new RegExp(`^/v2/models/(${NAME})(?:/versions/(${NAME}))?(/ready|/infer)?$`);
const V1_MODEL = new RegExp(`^/v1/models/(${NAME})(?:/versions/(${NAME}))?(:predict|:classify|:regress|/metadata)?$`);

type Reply = { status: number; body: unknown };

/**
 * Starts a demo tensor model server on node:http that serves ONNX models with
 * onnxruntime-node, speaking the Open Inference Protocol v2 (KServe) and TF Serving REST.
 * It stands in for a real model server behind the gateway in tests, demos and benchmarks.
 *
 * Routes:
 * - GET  /v2, /v2/health/live, /v2/health/ready
 * - GET  /v2/models/{name}[/versions/{v}]          metadata
 * - GET  /v2/models/{name}[/versions/{v}]/ready
 * - POST /v2/models/{name}[/versions/{v}]/infer
 * - GET  /v1/models/{name}[/versions/{v}]          TF Serving status
 * - GET  /v1/models/{name}[/versions/{v}]/metadata
 * - POST /v1/models/{name}[/versions/{v}]:predict
 * - GET  /__stats, POST /__stats/reset             test hooks: requests seen
 *
 * Errors are `{"error": "..."}` with 400 (bad request), 404 (unknown model or route),
 * 405, 413 or 500.
 *
 * @example
 * const server = await startKServeServer({ port: 0 });
 * await fetch(`${server.url}/v2/models/mnist/infer`, { method: 'POST', body: JSON.stringify({ inputs: [...] }) });
 * await server.close();
 */
export async function startKServeServer(options: KServeServerOptions = {}): Promise<KServeServer> {
  const { host = '127.0.0.1', port = 0, models = DEFAULT_MODELS, maxBodyBytes = 32 * 1024 * 1024 } = options;
  const registry = await ModelRegistry.load([...models]);
  let stats: KServeServerStats = { requests: 0, byPath: {} };

  const route = async (req: IncomingMessage, path: string): Promise<Reply> => {
    const method = req.method ?? 'GET';
    const only = (allowed: string) => {
      if (method !== allowed) throw new ServerError(405, `${method} is not allowed on ${path}; use ${allowed}`);
    };
    if (path === '/__stats') {
      only('GET');
      return { status: 200, body: stats };
    }
    if (path === '/__stats/reset') {
      only('POST');
      stats = { requests: 0, byPath: {} };
      return { status: 200, body: stats };
    }
    if (path === '/v2') {
      only('GET');
      return { status: 200, body: { name: 'palisade-demo-model-server', version: '1', extensions: [] } };
    }
    if (path === '/v2/health/live' || path === '/v2/health/ready') {
      only('GET');
      return { status: 200, body: path.endsWith('live') ? { live: true } : { ready: true } };
    }
    let m = V2_MODEL.exec(path);
    if (m) {
      const [name, version] = [segment(m[1]), m[2] === undefined ? undefined : segment(m[2])];
      if (m[3] === '/infer') {
        only('POST');
        registry.get(name, version); // an unknown model is a 404 whatever the body says
        return { status: 200, body: await v2Infer(registry, name, version, await readJson(req, maxBodyBytes)) };
      }
      only('GET');
      return { status: 200, body: m[3] === '/ready' ? v2ModelReady(registry, name, version) : v2ModelMetadata(registry, name, version) };
    }
    m = V1_MODEL.exec(path);
    if (m) {
      const [name, version] = [segment(m[1]), m[2] === undefined ? undefined : segment(m[2])];
      if (m[3] === ':predict') {
        only('POST');
        registry.get(name, version);
        return { status: 200, body: await tfPredict(registry, name, version, await readJson(req, maxBodyBytes)) };
      }
      if (m[3] === ':classify' || m[3] === ':regress') {
        registry.get(name, version);
        throw new ServerError(400, `${m[3].slice(1)} is not supported by this server; use :predict`);
      }
      only('GET');
      return { status: 200, body: m[3] === '/metadata' ? tfModelMetadata(registry, name, version) : tfModelStatus(registry, name, version) };
    }
    throw new ServerError(404, `no route for ${method} ${path}`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = pathOf(req.url);
    if (!path.startsWith('/__stats')) {
      stats.requests++;
      stats.byPath[path] = (stats.byPath[path] ?? 0) + 1;
    }
    let reply: Reply;
    try {
      reply = await route(req, path);
    } catch (err) {
      reply =
        err instanceof ServerError
          ? { status: err.status, body: { error: err.message } }
          : { status: 500, body: { error: 'internal server error' } };
    }
    send(res, reply);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, { status: 500, body: { error: 'internal server error' } });
      else res.destroy();
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await registry.release();
    throw err;
  }
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    stats: () => ({ requests: stats.requests, byPath: { ...stats.byPath } }),
    close: () => {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await registry.release();
      })();
      return closing;
    },
  };
}

function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  return q === -1 ? raw : raw.slice(0, q);
}

function segment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ServerError(400, 'malformed percent-encoding in the path');
  }
}

function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return; // keep reading and discarding, so the 413 reaches the client
      size += chunk.length;
      if (size > maxBytes) {
        tooLarge = true;
        chunks.length = 0;
        reject(new ServerError(413, `request body larger than ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => reject(new ServerError(400, 'the request body could not be read')));
    req.on('end', () => {
      if (tooLarge) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return reject(new ServerError(400, 'request body is empty; expected JSON'));
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new ServerError(400, 'request body is not valid JSON'));
      }
    });
  });
}

function send(res: ServerResponse, reply: Reply): void {
  const body = JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    // A body we stopped reading (413) cannot be followed by another request on this connection.
    ...(reply.status === 413 ? { connection: 'close' } : {}),
  });
  res.end(body);
}

/** Parses the CLI arguments: --host H, --port N, --model name[@version]=path (repeatable). */
export function parseServerArgs(argv: string[]): KServeServerOptions {
  const options: KServeServerOptions = {};
  const models: ServedModelSpec[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--host' || flag === '--port' || flag === '--model') {
      if (value === undefined) throw new Error(`${flag} needs a value`);
      i++;
    }
    if (flag === '--host') options.host = value;
    else if (flag === '--port') {
      const port = Number(value);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${value} is not a port number`);
      options.port = port;
    } else if (flag === '--model') {
      const m = /^([^@=]+)(?:@([^=]+))?=(.+)$/.exec(value);
      if (!m) throw new Error(`--model ${value}: expected name[@version]=path`);
      models.push({ name: m[1], version: m[2], path: m[3] });
    } else throw new Error(`unknown argument ${flag}`);
  }
  if (models.length > 0) options.models = models;
  return options;
}

async function main(): Promise<void> {
  let options: KServeServerOptions;
  try {
    options = parseServerArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\nusage: kserve-server [--host H] [--port N] [--model name[@version]=path ...]\n`);
    process.exit(2);
  }
  const server = await startKServeServer(options);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(`${JSON.stringify({ listening: server.url })}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
}
