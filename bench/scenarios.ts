/**
 * The scenarios of `npm run bench`: what is sent, to which process, at what load.
 * A scenario is data; bench/run.ts runs them all the same way.
 */
import { chatBody, mnistBody } from './lib/bodies.js';
import { gatewayTarget, nginxTarget, scriptTarget, type TargetSpec } from './lib/targets.js';

export interface Scenario {
  /** Stable name, the key in latest.json (`direct`, `passthrough`, `full-chain`, ...). */
  name: string;
  /** One line for the report. */
  description: string;
  group: 'proxy' | 'fixed-rate' | 'sse' | 'tensor' | 'long-prompt' | 'limits' | 'full-chain';
  /** The process the load goes to (and whose CPU per request is reported). */
  target: string;
  path: string;
  body: string;
  headers?: Record<string, string>;
  /** Concurrent connections. */
  connections: number;
  /** A fixed request rate (req/s) instead of as fast as possible. */
  rate?: number;
  /** Prompt size in KB (long-prompt scenarios). */
  promptKb?: number;
  /** Streamed responses: also probe time to first byte. */
  stream?: boolean;
  /** Send the bench's bearer token (bench/lib/tokens.ts). */
  auth?: boolean;
}

export const TARGETS: TargetSpec[] = [
  scriptTarget('llm', 'src/demo/llm-server.ts', () => ['--port', '0']),
  scriptTarget('kserve', 'src/demo/kserve-server.ts', () => ['--port', '0']),
  gatewayTarget('gateway', 'bench/configs/passthrough.yaml', ['llm', 'kserve']),
  scriptTarget('fastify-proxy', 'bench/peers/fastify-proxy.ts', (ctx) => ['--upstream', ctx.started.get('llm')!.url], ['llm']),
  scriptTarget('node-proxy', 'bench/peers/node-proxy.ts', (ctx) => ['--upstream', ctx.started.get('llm')!.url], ['llm']),
  nginxTarget('nginx', 'llm'),
  gatewayTarget('gateway-full', 'bench/configs/full-chain.yaml', ['llm', 'kserve']),
  gatewayTarget('gateway-chain', 'bench/configs/chain-no-defense.yaml', ['llm', 'kserve']),
  gatewayTarget('gateway-text-detector', 'bench/configs/text-detector.yaml', ['llm']),
  gatewayTarget('gateway-tensor-detector', 'bench/configs/tensor-detector.yaml', ['kserve']),
  gatewayTarget('gateway-limits-memory', 'bench/configs/limits-memory.yaml', ['llm']),
  gatewayTarget('gateway-limits-redis', 'bench/configs/limits-redis.yaml', ['llm'], ['redis']),
  gatewayTarget('gateway-auth-only', 'bench/configs/auth-only.yaml', ['llm']),
  gatewayTarget('gateway-defense-only', 'bench/configs/defense-only.yaml', ['llm']),
];

const CHAT = '/v1/chat/completions';
const INFER = '/v2/models/mnist/infer';
const JSON_HEADERS = { 'content-type': 'application/json' };
const C = 32;

/** The same small chat request for every proxy: a 32-byte prompt, 16 tokens back. */
const chat = chatBody(32);
const mnist = mnistBody();
const streamed = chatBody(32, { stream: true, maxTokens: 16 });

function plain(name: string, target: string, description: string, group: Scenario['group'] = 'proxy'): Scenario {
  return { name, description, group, target, path: CHAT, body: chat, headers: JSON_HEADERS, connections: C };
}

const withAuth = (s: Scenario): Scenario => ({ ...s, auth: true });

export const SCENARIOS: Scenario[] = [
  plain('direct', 'llm', 'the demo LLM server, no proxy'),
  plain('passthrough', 'gateway', 'palisade with no security stages'),
  plain('fastify-proxy', 'fastify-proxy', 'a bare @fastify/http-proxy app (the peer floor)'),
  plain('node-proxy', 'node-proxy', 'node:http + undici Pool, body.pipe(res): no framework, no policy'),
  plain('nginx', 'nginx', 'nginx as a plain reverse proxy (1 worker, upstream keep-alive)'),
  withAuth(plain('full-chain', 'gateway-full', 'palisade with JWT (cached), limits, prompt-injection detector, output defense', 'full-chain')),
  withAuth(plain('chain-no-defense', 'gateway-chain', 'the full chain minus output defenses: JWT (cached), limits, prompt-injection detector', 'full-chain')),
  // One stage at a time, the same request: what each stage of the full chain costs by itself
  // (limits alone is `limits-memory` below).
  withAuth(plain('auth-only', 'gateway-auth-only', 'JWT (cached) alone', 'full-chain')),
  plain('detector-only', 'gateway-text-detector', 'the prompt-injection detector alone, on the 32-byte prompt', 'full-chain'),
  plain('defense-only', 'gateway-defense-only', 'the LLM output defense alone', 'full-chain'),

  { ...plain('direct@500', 'llm', 'direct, at a fixed 500 req/s', 'fixed-rate'), rate: 500, connections: 16 },
  { ...plain('passthrough@500', 'gateway', 'passthrough, at a fixed 500 req/s', 'fixed-rate'), rate: 500, connections: 16 },
  withAuth({ ...plain('full-chain@500', 'gateway-full', 'full chain, at a fixed 500 req/s', 'fixed-rate'), rate: 500, connections: 16 }),
  withAuth({ ...plain('chain-no-defense@500', 'gateway-chain', 'the chain minus output defenses, at a fixed 500 req/s', 'fixed-rate'), rate: 500, connections: 16 }),
  // Peers at the same rate: what one more proxy hop costs at p99 on this machine, whoever proxies.
  { ...plain('nginx@500', 'nginx', 'nginx, at a fixed 500 req/s (what any proxy hop adds)', 'fixed-rate'), rate: 500, connections: 16 },
  { ...plain('node-proxy@500', 'node-proxy', 'node:http + undici, at a fixed 500 req/s (what a node proxy hop adds)', 'fixed-rate'), rate: 500, connections: 16 },

  { ...plain('sse-direct', 'llm', 'streamed chat (16 SSE events), no proxy', 'sse'), body: streamed, stream: true },
  { ...plain('sse-passthrough', 'gateway', 'streamed chat through palisade, no stages', 'sse'), body: streamed, stream: true },
  withAuth({ ...plain('sse-full-chain', 'gateway-full', 'streamed chat through the full chain (defense event by event)', 'sse'), body: streamed, stream: true }),
  withAuth({ ...plain('sse-chain-no-defense', 'gateway-chain', 'streamed chat through the chain minus output defenses', 'sse'), body: streamed, stream: true }),

  { name: 'kserve-direct', description: 'KServe v2 infer, MNIST on ONNX, no proxy', group: 'tensor', target: 'kserve', path: INFER, body: mnist, headers: JSON_HEADERS, connections: C },
  { name: 'kserve-passthrough', description: 'KServe v2 infer through palisade, no stages', group: 'tensor', target: 'gateway', path: INFER, body: mnist, headers: JSON_HEADERS, connections: C },
  { name: 'kserve-tensor-detector', description: 'KServe v2 infer through palisade with the tensor detector', group: 'tensor', target: 'gateway-tensor-detector', path: INFER, body: mnist, headers: JSON_HEADERS, connections: C },
  withAuth({ name: 'kserve-full-chain', description: 'KServe v2 infer through JWT, limits and the classifier output defense', group: 'tensor', target: 'gateway-full', path: INFER, body: mnist, headers: JSON_HEADERS, connections: C }),

  ...[1, 4, 16, 64].flatMap((kb): Scenario[] => [
    { ...plain(`prompt-${kb}kb-passthrough`, 'gateway', `a ${kb} KB prompt through palisade, no stages`, 'long-prompt'), body: chatBody(kb * 1024), promptKb: kb },
    { ...plain(`prompt-${kb}kb-detector`, 'gateway-text-detector', `a ${kb} KB prompt through the prompt-injection detector`, 'long-prompt'), body: chatBody(kb * 1024), promptKb: kb },
  ]),

  plain('limits-memory', 'gateway-limits-memory', 'request, token, concurrency and query limits on the memory store', 'limits'),
  plain('limits-redis', 'gateway-limits-redis', 'the same limits on Redis (127.0.0.1:6379)', 'limits'),
];
