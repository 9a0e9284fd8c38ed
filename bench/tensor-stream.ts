/**
 * `npm run bench:tensor-stream`: cost of the tensor and stream detectors on this machine.
 *
 *   1. The mnist-adversarial package: one request of 1 row, and of 32 rows, through its
 *      ONNX session (the featurizer included).
 *   2. The stream detector: one query against a full window (256 earlier queries), on the
 *      memory store and, when it answers, on Redis at 127.0.0.1:6379; tensor and text.
 *
 * Writes bench/results/tensor-stream.md (and prints it). Not a test: numbers vary by machine.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMnist, takeSubset } from '../src/demo/mnist-data.js';
import { builtinFeaturizers } from '../src/detect/featurizers/registry.js';
import { loadPackage } from '../src/detect/package.js';
import { DetectorSessions } from '../src/detect/sessions.js';
import { readTrustedKey } from '../src/detect/signing.js';
import { streamSettingsSchema } from '../src/detect/stream/config.js';
import { QueryStreamDetector } from '../src/detect/stream/stream-detector.js';
import { scoreTensors } from '../src/detect/tensor-scorer.js';
import type { InferenceRequest } from '../src/pipeline/types.js';
import { MemoryStore } from '../src/state/memory.js';
import { RedisStore } from '../src/state/redis.js';
import type { StateStore } from '../src/state/store.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const D = 784;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

async function time(n: number, fn: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < Math.min(50, n); i++) await fn(i);
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    ts.push(performance.now() - t);
  }
  return { p50: pct(ts, 0.5), p99: pct(ts, 0.99) };
}

const tensorRequest = (x: Float32Array, rows: number): InferenceRequest => ({
  protocol: 'kserve-v2',
  model: 'mnist',
  operation: 'infer',
  texts: [],
  tensors: [{ name: 'input', shape: [rows, D], datatype: 'FP32', data: x }],
  params: { stream: false },
  body: {},
});

async function streamCost(store: StateStore, digits: Float32Array): Promise<{ tensor: { p50: number; p99: number }; text: { p50: number; p99: number } }> {
  const d = new QueryStreamDetector('bench', streamSettingsSchema.parse({}), store);
  for (let i = 0; i < 256; i++) {
    await d.observe(tensorRequest(digits.subarray(i * D, (i + 1) * D), 1), { principal: 'bench' });
    await d.observe({ ...tensorRequest(new Float32Array(0), 0), tensors: [], texts: [{ role: 'user', text: `question number ${i} about topic ${i * 7}`, path: 'p' }] }, { principal: 'bench-text' });
  }
  const tensor = await time(500, (i) => d.observe(tensorRequest(digits.subarray((i % 500) * D, ((i % 500) + 1) * D), 1), { principal: 'bench' }));
  const text = await time(500, (i) =>
    d.observe({ ...tensorRequest(new Float32Array(0), 0), tensors: [], texts: [{ role: 'user', text: `another question ${i} on subject ${i * 13}`, path: 'p' }] }, { principal: 'bench-text' }),
  );
  return { tensor, text };
}

async function main(): Promise<void> {
  const digits = takeSubset(loadMnist().test, 600, 1).x;
  const pkg = await loadPackage(join(ROOT, 'models/mnist-adversarial'), {
    trustedKeys: [await readTrustedKey(join(ROOT, 'models/keys/palisade-models.pub.jwk'))],
    featurizers: builtinFeaturizers(),
  });
  const sessions = new DetectorSessions();
  const lease = await sessions.acquire(pkg, { maxSize: 64, maxWaitMs: 0 });
  const one = await time(1000, (i) => scoreTensors(lease.engine, tensorRequest(digits.subarray((i % 500) * D, ((i % 500) + 1) * D), 1).tensors));
  const batch = await time(300, (i) => scoreTensors(lease.engine, tensorRequest(digits.subarray((i % 10) * D, ((i % 10) + 32) * D), 32).tensors));
  lease.release();
  await sessions.close();

  const memory = new MemoryStore();
  const mem = await streamCost(memory, digits);
  await memory.close();
  let redis: Awaited<ReturnType<typeof streamCost>> | undefined;
  const rs = new RedisStore({ url: 'redis://127.0.0.1:6379', keyPrefix: `palisade-bench:${process.pid}:`, connectTimeoutMs: 1000, commandTimeoutMs: 1000 });
  try {
    if (await rs.waitReady(1000)) redis = await streamCost(rs, digits);
  } finally {
    await rs.client.del(`stream:bench:mnist:p:bench`, `stream:bench:mnist:p:bench-text`).catch(() => 0);
    await rs.close();
  }

  const ms = (r: { p50: number; p99: number }) => `${r.p50.toFixed(3)} | ${r.p99.toFixed(3)}`;
  const md = `# Tensor and stream detectors: cost

\`npm run bench:tensor-stream\` (bench/tensor-stream.ts) on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.
Sequential calls, no other load from this process (the machine may have had some).

| what | p50 ms | p99 ms |
|---|---|---|
| mnist-adversarial, 1 row | ${ms(one)} |
| mnist-adversarial, 32 rows | ${ms(batch)} |
| stream detector, tensor query, window full (256), memory store | ${ms(mem.tensor)} |
| stream detector, text query, window full (256), memory store | ${ms(mem.text)} |
${redis ? `| stream detector, tensor query, window full (256), Redis | ${ms(redis.tensor)} |\n| stream detector, text query, window full (256), Redis | ${ms(redis.text)} |` : '| stream detector on Redis | (Redis did not answer at 127.0.0.1:6379) | |'}
`;
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/tensor-stream.md'), md);
  process.stdout.write(md);
}

await main();
