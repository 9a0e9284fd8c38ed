/**
 * `kind: tensor` and `kind: stream` in the detector config and the inspect stage,
 * without a server: config checks, how a tensor detector reads a request's tensors,
 * and a stream detector's notes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createInspectStage } from '../../src/detect/inspect-stage.js';
import { TensorRowsFeaturizer, TensorShapeError } from '../../src/detect/featurizers/tensor-rows.js';
import { loadMnist, takeSubset } from '../../src/demo/mnist-data.js';
import type { RequestContext } from '../../src/pipeline/context.js';
import type { Stage } from '../../src/pipeline/stage.js';
import type { InferenceTensor } from '../../src/pipeline/types.js';
import { silentLogger, type Services } from '../../src/services.js';
import { MemoryStore } from '../../src/state/memory.js';
import { ctxFor, DEMO_PUBLIC_KEY, loadYaml, ROOT, tempDir } from './helpers.js';

const PACKAGE = join(ROOT, 'models/mnist-adversarial');
const D = 784;
const digit = Array.from(takeSubset(loadMnist().test, 1, 4).x);

const config = (detectors: string, modelDetectors = '[adv, stream]') => `
upstreams:
  kserve: { protocol: kserve-v2, url: "http://127.0.0.1:9" }
models:
  - name: mnist
    upstream: kserve
    detectors: ${modelDetectors}
detectors:
  trustedKeys: [${JSON.stringify(DEMO_PUBLIC_KEY)}]
  packages:
${detectors}`;

const BOTH = `
    adv: { path: ${JSON.stringify(PACKAGE)}, action: block, budget: 10s }
    stream: { kind: stream, action: flag, budget: 10s, stream: { tensor: { burstCount: 3 } } }`;

// Budgets of 10 s: a loaded test machine must not turn a slow first ONNX run into a 503.

function tensorCtx(tensors: Partial<InferenceTensor>[], principal = 'p1'): RequestContext {
  const ctx = ctxFor([], 'mnist');
  ctx.request = { ...ctx.request!, protocol: 'kserve-v2', operation: 'infer', tensors: tensors.map((t) => ({ name: 'input', shape: [1, D], datatype: 'FP32', data: digit, ...t })) };
  ctx.principal = { id: principal, scopes: [], roles: [], via: 'api-key' };
  return ctx;
}

async function withStage(detectors: string, fn: (stage: Stage, state: MemoryStore) => Promise<void>, modelDetectors?: string) {
  const t = tempDir();
  const state = new MemoryStore();
  const svc: Services = { logger: silentLogger, observer: {}, state };
  let stage: Stage | undefined;
  try {
    stage = await createInspectStage(loadYaml(config(detectors, modelDetectors), t.dir), svc);
    assert.ok(stage);
    await fn(stage, state);
  } finally {
    await stage?.close?.();
    t.cleanup();
  }
}

test('config: a stream detector has no package; a package detector needs one; stream settings belong to streams', () => {
  const t = tempDir();
  try {
    const ok = loadYaml(config(`    s: { kind: stream }`, '[s]'), t.dir);
    const s = ok.config.detectors.packages.s;
    assert.equal(s.stream!.window, 256, 'defaults are filled in');
    assert.throws(() => loadYaml(config(`    s: { kind: stream, path: ${JSON.stringify(PACKAGE)} }`, '[s]'), t.dir), /a stream detector has no package/);
    assert.throws(() => loadYaml(config(`    s: { action: flag }`, '[s]'), t.dir), /path is required/);
    assert.throws(() => loadYaml(config(`    s: { path: x, stream: { window: 64 } }`, '[s]'), t.dir), /stream settings apply to kind: stream only/);
    assert.throws(() => loadYaml(config(`    s: { kind: stream, stream: { window: 2 } }`, '[s]'), t.dir), /window/);
  } finally {
    t.cleanup();
  }
});

test('config: a kind that contradicts the package is refused when the package loads', async () => {
  await assert.rejects(withStage(`    adv: { path: ${JSON.stringify(PACKAGE)}, kind: text }`, async () => {}, '[adv]'), /the config says detector adv is text, the package is tensor/);
});

test('tensor detector: a clean digit passes, noise is blocked, any row of a batch counts', async () => {
  await withStage(BOTH, async (stage) => {
    assert.equal((await stage.request!(tensorCtx([{}], 'a'))).allow, true);
    const noise = Array.from({ length: D }, (_, i) => (i * 7919) % 101 / 100);
    const d = await stage.request!(tensorCtx([{ data: noise }], 'b'));
    assert.equal(d.allow, false);
    assert.equal(!d.allow && d.code, 'PALISADE_INPUT_REJECTED');
    const batch = await stage.request!(tensorCtx([{ shape: [2, D], data: [...digit, ...noise] }], 'c'));
    assert.equal(batch.allow, false);
    // [1, 28, 28] is the same row.
    assert.equal((await stage.request!(tensorCtx([{ shape: [1, 28, 28] }], 'd'))).allow, true);
  });
});

test('tensor detector: a tensor that is not made of 784-value rows scores 1 (blocked), not a detector failure', async () => {
  await withStage(BOTH, async (stage) => {
    const d = await stage.request!(tensorCtx([{ shape: [1, 100], data: digit.slice(0, 100) }]));
    assert.equal(!d.allow && d.code, 'PALISADE_INPUT_REJECTED');
    assert.equal(d.notes?.find((n) => n.name === 'adv')?.score, 1);
  });
});

test('stream detector: notes detector-flag with its score once the principal sends a burst, per principal', async () => {
  await withStage(BOTH, async (stage, state) => {
    const scaled = (k: number) => digit.map((v) => v * (1 - 0.01 * k));
    const flags = async (principal: string, k: number) => ((await stage.request!(tensorCtx([{ data: scaled(k) }], principal))).notes ?? []).filter((n) => n.kind === 'detector-flag');
    const seen = [];
    for (let k = 0; k < 4; k++) seen.push(await flags('mallory', k));
    assert.deepEqual(seen.slice(0, 3).map((n) => n.length), [0, 0, 0]);
    assert.equal(seen[3].length, 1);
    assert.equal(seen[3][0].name, 'stream');
    assert.ok(seen[3][0].score! >= 0.5);
    assert.equal((await state.list('stream:stream:mnist:p:mallory')).length, 4);
    assert.deepEqual(await flags('alice', 4), [], "alice's stream is her own");
  });
});

test('tensor-rows featurizer: cuts every numeric tensor into rows, skips BYTES, refuses what does not fit', () => {
  const f = new TensorRowsFeaturizer({ size: 4 });
  const rows = f.rows([
    { name: 'a', shape: [2, 4], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6, 7, 8] },
    { name: 's', shape: [1], datatype: 'BYTES', data: [] },
  ]);
  assert.deepEqual(rows.map((r) => Array.from(r)), [
    [1, 2, 3, 4],
    [5, 6, 7, 8],
  ]);
  assert.throws(() => f.rows([{ name: 'a', shape: [3], datatype: 'FP32', data: [1, 2, 3] }]), TensorShapeError);
  assert.throws(() => f.rows([{ name: 'a', shape: [4], datatype: 'FP32', data: [1, 2, NaN, 4] }]), TensorShapeError);
});
