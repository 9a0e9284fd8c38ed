/**
 * Mixed traffic for soak runs: good calls (JSON and SSE, every OpenAI operation, raw),
 * bad calls (malformed, unknown, oversized, poisoned, wrong type), upstream faults
 * (5xx, resets before headers and mid-stream, slow drips, oversized responses) and
 * clients that hang up mid-stream, in a fixed pseudo-random order. Every answer is
 * checked against what its kind allows; PALISADE_INTERNAL is never allowed.
 *
 * Used by bench/soak.ts (`npm run soak`, 100,000 requests) and
 * test/hardening/soak.test.ts (a short run in npm test).
 */
import { Pool } from 'undici';

/** The gateway config the traffic expects (`llmUrl`: the demo LLM server). */
export function soakConfig(llmUrl: string): string {
  return `
server:
  bodyLimit: 64kb
  maxConnectionsPerClient: 0
  overload: { maxInFlight: 256, maxQueued: 256, maxEventLoopDelay: 0ms }
upstreams:
  llm:
    protocol: openai
    url: "${llmUrl}"
    timeouts: { connect: 1s, headers: 2s, body: 300ms }
    maxResponseSize: 128kb
  flaky:
    protocol: openai
    url: "${llmUrl}"
    timeouts: { connect: 1s, headers: 5s, body: 200ms }
    maxResponseSize: 64kb
    circuitBreaker: { failureThreshold: 20, cooldown: 200ms }
  rawllm: { protocol: raw, url: "${llmUrl}/v1" }
models:
  - { name: demo-llm, upstream: llm }
  - { name: flaky, upstream: flaky, upstreamModel: demo-llm }
  - { name: r, upstream: rawllm, pathPrefix: /raw/r }
`;
}

interface Kind {
  name: string;
  weight: number;
  method?: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
  /** Hang up after the first chunk of the response. */
  abort?: boolean;
  /** Statuses (and PALISADE codes, as `status:CODE`) this kind may end in. */
  allow: string[];
}

const chat = (model: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model, messages: [{ role: 'user', content: 'tell me about the weather in spring' }], max_tokens: 12, ...extra });
// Faults on the flaky upstream may also meet its open circuit.
const CIRCUIT = '503:PALISADE_CIRCUIT_OPEN';

export const KINDS: Kind[] = [
  { name: 'chat', weight: 30, path: '/v1/chat/completions', body: chat('demo-llm'), allow: ['200'] },
  { name: 'chat-stream', weight: 10, path: '/v1/chat/completions', body: chat('demo-llm', { stream: true }), allow: ['200'] },
  { name: 'completions', weight: 5, path: '/v1/completions', body: JSON.stringify({ model: 'demo-llm', prompt: 'once upon a time', max_tokens: 8 }), allow: ['200'] },
  { name: 'embeddings', weight: 5, path: '/v1/embeddings', body: JSON.stringify({ model: 'demo-llm', input: ['a', 'b'] }), allow: ['200'] },
  { name: 'models', weight: 3, method: 'GET', path: '/v1/models', allow: ['200'] },
  { name: 'raw', weight: 3, method: 'GET', path: '/raw/r/models', allow: ['200'] },
  { name: 'flaky-good', weight: 6, path: '/v1/chat/completions', body: chat('flaky'), allow: ['200', CIRCUIT] },
  { name: 'bad-json', weight: 3, path: '/v1/chat/completions', body: '{"model":"demo-llm",', allow: ['400:PALISADE_BAD_REQUEST'] },
  { name: 'proto', weight: 2, path: '/v1/chat/completions', body: '{"__proto__":{"x":1},"model":"demo-llm","messages":[]}', allow: ['400:PALISADE_BAD_REQUEST'] },
  { name: 'unknown-model', weight: 2, path: '/v1/chat/completions', body: chat('nope'), allow: ['404:PALISADE_UNKNOWN_MODEL'] },
  { name: 'not-found', weight: 2, method: 'GET', path: '/v1/../admin', allow: ['404:PALISADE_NOT_FOUND'] },
  { name: 'wrong-type', weight: 2, path: '/v1/chat/completions', body: chat('demo-llm'), headers: { 'content-type': 'text/plain' }, allow: ['415:PALISADE_UNSUPPORTED_MEDIA_TYPE'] },
  { name: 'too-large', weight: 1, path: '/v1/chat/completions', body: chat('demo-llm', { pad: 'x'.repeat(70_000) }), allow: ['413:PALISADE_BODY_TOO_LARGE'] },
  { name: 'deep', weight: 1, path: '/v1/chat/completions', body: `{"model":"demo-llm","x":${'['.repeat(200)}${']'.repeat(200)}}`, allow: ['400:PALISADE_BAD_REQUEST'] },
  { name: 'fault-500', weight: 4, path: '/v1/chat/completions', body: chat('flaky'), headers: { 'x-demo-fault': 'status-500' }, allow: ['500', CIRCUIT] },
  { name: 'fault-reset', weight: 3, path: '/v1/chat/completions', body: chat('flaky'), headers: { 'x-demo-fault': 'reset-before-headers' }, allow: ['502:PALISADE_UPSTREAM_UNAVAILABLE', CIRCUIT] },
  { name: 'fault-mid-sse', weight: 3, path: '/v1/chat/completions', body: chat('flaky', { stream: true, max_tokens: 30 }), headers: { 'x-demo-fault': 'die-mid-stream' }, allow: ['200:sse-error', CIRCUIT] },
  { name: 'fault-mid-json', weight: 2, path: '/v1/chat/completions', body: chat('flaky', { max_tokens: 30 }), headers: { 'x-demo-fault': 'die-mid-stream' }, allow: ['200:cut', CIRCUIT] },
  // Upstream timeouts are checked about twice a second: the drip must outlast 200 ms plus
  // that, and is cut before the first byte (504) or, when the check comes late, after it.
  { name: 'fault-drip', weight: 1, path: '/v1/chat/completions', body: chat('flaky'), headers: { 'x-demo-fault': 'slow-body:1500' }, allow: ['504:PALISADE_UPSTREAM_TIMEOUT', '200:cut', CIRCUIT] },
  { name: 'fault-huge', weight: 2, path: '/v1/chat/completions', body: chat('flaky'), headers: { 'x-demo-fault': 'huge:100000' }, allow: ['502:PALISADE_UPSTREAM_RESPONSE_TOO_LARGE', CIRCUIT] },
  { name: 'client-abort', weight: 4, path: '/v1/chat/completions', body: chat('demo-llm', { stream: true, max_tokens: 40 }), headers: { 'x-demo-token-delay-ms': '5' }, abort: true, allow: ['200:aborted'] },
];

/** What a soak run saw. */
export interface SoakStats {
  requests: number;
  /** Outcomes by kind: `status[:code]` → count. */
  byKind: Record<string, Record<string, number>>;
  /** Outcomes a kind does not allow, with a sample each (empty when all is well). */
  unexpected: string[];
}

/** A small seeded generator (mulberry32), so a run's order of kinds is repeatable. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick(r: () => number): Kind {
  const total = KINDS.reduce((s, k) => s + k.weight, 0);
  let x = r() * total;
  for (const k of KINDS) if ((x -= k.weight) < 0) return k;
  return KINDS[0];
}

async function one(pool: Pool, k: Kind): Promise<string> {
  const ac = new AbortController();
  let res;
  try {
    res = await pool.request({
      method: (k.method ?? 'POST') as 'POST',
      path: k.path,
      headers: { ...(k.body ? { 'content-type': 'application/json' } : {}), ...k.headers },
      body: k.body,
      signal: ac.signal,
    });
  } catch (err) {
    return `error:${(err as { code?: string }).code ?? (err as Error).name}`;
  }
  let text = '';
  try {
    for await (const c of res.body) {
      text += c;
      if (k.abort) {
        ac.abort();
        break;
      }
    }
  } catch (err) {
    if (k.abort) return `${res.statusCode}:aborted`;
    if (res.statusCode === 200 && !k.abort) return '200:cut';
    return `${res.statusCode}:error:${(err as { code?: string }).code ?? (err as Error).name}`;
  }
  if (k.abort) return `${res.statusCode}:aborted`;
  const code = /"code":"(PALISADE_[A-Z_]+)"/.exec(text)?.[1];
  if (res.statusCode === 200 && /event: error\ndata: /.test(text)) return '200:sse-error';
  return code ? `${res.statusCode}:${code}` : String(res.statusCode);
}

/**
 * Sends `requests` requests of the mixed kinds, `concurrency` at a time, over one
 * keep-alive pool that is closed at the end. `onProgress` is called every `every`.
 */
export async function runSoak(
  url: string,
  opts: { requests: number; concurrency: number; seed?: number; every?: number; onProgress?: (done: number) => Promise<void> | void },
): Promise<SoakStats> {
  const pool = new Pool(url, { connections: opts.concurrency, pipelining: 1 });
  const r = rng(opts.seed ?? 1);
  const order = Array.from({ length: opts.requests }, () => pick(r));
  const stats: SoakStats = { requests: 0, byKind: {}, unexpected: [] };
  const seen = new Set<string>();
  let next = 0;
  let paused: Promise<void> | undefined;
  const worker = async () => {
    for (;;) {
      if (paused) await paused;
      const i = next++;
      if (i >= order.length) return;
      const k = order[i];
      const outcome = await one(pool, k);
      const byKind = (stats.byKind[k.name] ??= {});
      byKind[outcome] = (byKind[outcome] ?? 0) + 1;
      stats.requests++;
      if (!k.allow.includes(outcome) && !seen.has(`${k.name} ${outcome}`)) {
        seen.add(`${k.name} ${outcome}`);
        stats.unexpected.push(`${k.name}: ${outcome}`);
      }
      if (opts.onProgress && opts.every && stats.requests % opts.every === 0) {
        // Let the others finish their request, then report at a quiet moment.
        let release!: () => void;
        paused = new Promise((res) => (release = res));
        void Promise.resolve(opts.onProgress(stats.requests)).finally(() => {
          paused = undefined;
          release();
        });
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
  } finally {
    await pool.close();
  }
  return stats;
}
