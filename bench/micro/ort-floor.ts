/**
 * What one onnxruntime-node run costs before the model does any work: the fixed cost per
 * `run` that micro-batching amortizes and that a lone request (a gateway at low load)
 * pays in full. Graphs built here with onnx-proto, from the smallest (one Sigmoid) to the
 * shipped prompt-injection package's own graph, each timed two ways:
 *   - session.run: the public API (argument checks, a Promise, a setImmediate hop);
 *   - native: onnxruntime-node's binding alone, synchronously (what session.run wraps;
 *     an internal module, used here only to split the cost, never by the gateway);
 *   - native, cold: the same, with 32 MB written between runs (timed: the run only), which
 *     is what a gateway's other work between two detector runs does to the CPU caches.
 *     In a gateway under load the native run measured 164-184 us per batch of 4-8 rows
 *     (a timer around the binding's run, not committed), near this column, not the warm one.
 * Mean us per run, best of five repetitions (cold: mean of 2,000 runs after 500).
 *
 * Usage: node --import tsx bench/micro/ort-floor.ts
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from '../../src/detect/ort.js';
import { OnnxModelBuilder } from '../../src/ml/onnx-builder.js';
import { builtinFeaturizers } from '../../src/detect/featurizers/registry.js';
import type { HashedNgramsFeaturizer, HashedNgramsItem } from '../../src/detect/featurizers/hashed-ngrams.js';
import { loadPackage } from '../../src/detect/package.js';
import { readTrustedKey } from '../../src/detect/signing.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OPTIONS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };
interface NativeSession {
  loadModel(buffer: ArrayBufferLike, offset: number, length: number, options: object): void;
  run(feeds: Record<string, ort.Tensor>, fetches: Record<string, null>, options: object): unknown;
}
const { binding } = createRequire(import.meta.url)('onnxruntime-node/dist/binding') as { binding: { InferenceSession: new () => NativeSession } };

function timeSync(f: () => unknown, n: number): number {
  for (let i = 0; i < n / 4; i++) f();
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) f();
    best = Math.min(best, ((performance.now() - t) / n) * 1000);
  }
  return best;
}
async function timeAsync(f: () => Promise<unknown>, n: number): Promise<number> {
  for (let i = 0; i < n / 4; i++) await f();
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) await f();
    best = Math.min(best, ((performance.now() - t) / n) * 1000);
  }
  return best;
}

const f32 = (n: number) => new ort.Tensor('float32', new Float32Array(n), [1, n]);
interface Case {
  name: string;
  model: Uint8Array;
  feeds: Record<string, ort.Tensor>;
  output: string;
}
function graph(name: string, inputs: number, unary: number): Case {
  const b = new OnnxModelBuilder({ graphName: 'g', opset: 18, producerName: 'ort-floor' });
  const xs = Array.from({ length: inputs }, (_, i) => b.addInput(`x${i}`, 'float', ['B', 1]));
  let h = inputs > 1 ? b.op('Concat', xs, { axis: 1 }) : xs[0];
  for (let i = 0; i < unary - 1; i++) h = b.op(i % 2 ? 'Sigmoid' : 'Relu', [h]);
  b.op('Sigmoid', [h], {}, { output: 'y' });
  b.addOutput('y', 'float', ['B', inputs]);
  return { name, model: b.toBytes(), feeds: Object.fromEntries(xs.map((x) => [x, f32(1)])), output: 'y' };
}

const cases: Case[] = [graph('1 input, 1 node (Sigmoid)', 1, 1), graph('4 inputs, Concat + 1 node', 4, 1), graph('1 input, 10 nodes', 1, 10)];
const pkg = await loadPackage(join(ROOT, 'models/prompt-injection'), {
  trustedKeys: [await readTrustedKey(join(ROOT, 'models/keys/palisade-models.pub.jwk'))],
  featurizers: builtinFeaturizers(),
});
const feat = pkg.featurizer as unknown as HashedNgramsFeaturizer;
for (const rows of [1, 8]) {
  const items: HashedNgramsItem[] = Array.from({ length: rows }, (_, i) => {
    const s = feat.prepare([`${i} please summarize the attached note`]);
    const [a, z] = feat.windows(s)[0];
    return feat.featurize(s.slice(a, z));
  });
  cases.push({ name: `prompt-injection ${pkg.manifest.version}, ${rows} x 32-byte prompt`, model: new Uint8Array(readFileSync(join(ROOT, 'models/prompt-injection/model.onnx'))), feeds: feat.feeds(items, pkg.manifest.inputs) as Record<string, ort.Tensor>, output: pkg.manifest.output });
}

console.log(`onnxruntime-node ${createRequire(import.meta.url)('onnxruntime-node/package.json').version}, node ${process.version}`);
const THRASH = new Uint8Array(32 * 1024 * 1024);
let sink = 0;
/** Mean us of `f` with THRASH written in full between calls (not timed). */
function timeCold(f: () => unknown, n: number, warm: number): number {
  let total = 0;
  for (let i = 0; i < warm + n; i++) {
    for (let j = 0; j < THRASH.length; j += 64) sink += THRASH[j]++;
    const t = performance.now();
    f();
    if (i >= warm) total += performance.now() - t;
  }
  return (total / n) * 1000;
}

console.log('| graph | session.run us | native run us | wrapper share | native run, cold caches, us |');
console.log('|---|---:|---:|---:|---:|');
for (const c of cases) {
  // The public session first: it initializes the runtime the binding needs.
  const session = await ort.InferenceSession.create(c.model, OPTIONS);
  const native = new binding.InferenceSession();
  native.loadModel(c.model.buffer, c.model.byteOffset, c.model.byteLength, OPTIONS);
  const fetches = { [c.output]: null };
  const pub = await timeAsync(() => session.run(c.feeds, [c.output]), 20000);
  const nat = timeSync(() => native.run(c.feeds, fetches, {}), 20000);
  const cold = timeCold(() => native.run(c.feeds, fetches, {}), 2000, 500);
  console.log(`| ${c.name} | ${pub.toFixed(2)} | ${nat.toFixed(2)} | ${Math.round((1 - nat / pub) * 100)}% | ${cold.toFixed(1)} |`);
  await session.release();
}
if (sink === 0.5) console.log(sink); // keeps the thrash loop from being optimized away
