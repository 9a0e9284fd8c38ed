/**
 * The tensor and stream detectors end to end: a real gateway in front of the demo
 * KServe model server (a separate process), with the committed, signed
 * mnist-adversarial package and a stream detector.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDemoMnistMlp } from '../../src/demo/demo-mnist-model.js';
import { loadMnist, takeSubset } from '../../src/demo/mnist-data.js';
import { hashApiKey } from '../../src/auth/api-keys.js';
import type { Note } from '../../src/pipeline/types.js';
import type { Gateway } from '../../src/server/gateway.js';
import { fgsm } from '../../detectors/attacks/white-box.js';
import { jacobianAugmentation } from '../../detectors/attacks/jacobian-augmentation.js';
import { mlpOracle } from '../../detectors/attacks/oracle.js';
import { postJson, startGateway, type TestGateway } from '../helpers/gateway.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';
import { cleanup, keyPrefix, REDIS_SKIP, REDIS_URL } from '../helpers/redis.js';
import { DEMO_PUBLIC_KEY, ROOT } from './helpers.js';

const PACKAGE = join(ROOT, 'models/mnist-adversarial');
const API_KEY = 'psk_test_tensor_stream_e2e_0123456789';
const D = 784;

const mlp = loadDemoMnistMlp();
const digits = takeSubset(loadMnist().test, 25, 11);
const row = (x: Float32Array, i: number) => Array.from(x.subarray(i * D, (i + 1) * D));
const infer = (rows: number[][]) => ({ inputs: [{ name: 'input', shape: [rows.length, D], datatype: 'FP32', data: rows.flat() }] });

/** `n` near-duplicates of one digit: a sweep of its contrast (no added noise, so only the stream detector sees anything). */
function contrastSweep(x: number[], n: number): number[][] {
  return Array.from({ length: n }, (_, k) => x.map((v) => v * (1 - 0.01 * k)));
}

function config(kserveUrl: string, extra = ''): string {
  return `
upstreams:
  kserve: { protocol: kserve-v2, url: "${kserveUrl}" }
models:
  - name: mnist
    upstream: kserve
    detectors: [mnist-adversarial, query-stream]
detectors:
  trustedKeys: [${JSON.stringify(DEMO_PUBLIC_KEY)}]
  packages:
    # Budgets of 10 s: a loaded test machine must not turn a slow ONNX run into a 503.
    mnist-adversarial: { path: ${JSON.stringify(PACKAGE)}, action: block, budget: 10s }
    query-stream: { kind: stream, action: flag, budget: 10s }
${extra}`;
}

/** Records the notes of every request (what the audit record gets). */
function notesOf(gw: Gateway): Note[][] {
  const out: Note[][] = [];
  gw.services.observer.requestDone = (ctx) => out.push([...ctx.notes]);
  return out;
}

const flagged = (notes: Note[]) => notes.some((n) => n.kind === 'detector-flag' && n.name === 'query-stream');

async function upstreamRequests(kserve: SpawnedServer): Promise<number> {
  return ((await (await fetch(`${kserve.url}/__stats`)).json()) as { requests: number }).requests;
}

describe('tensor and stream detectors through the gateway', () => {
  let kserve: SpawnedServer;

  before(async () => {
    kserve = await spawnServer('src/demo/kserve-server.ts');
  });
  after(async () => {
    await kserve?.stop();
  });

  it('blocks an FGSM example at eps 0.2 before the model, lets a clean digit through', async () => {
    const gw = await startGateway(config(kserve.url));
    try {
      const before = await upstreamRequests(kserve);
      const adv = fgsm(mlp, digits.x.subarray(0, D), 1, digits.y.subarray(0, 1), 0.2);
      const blocked = await postJson(`${gw.url}/v2/models/mnist/infer`, infer([Array.from(adv)]));
      assert.equal(blocked.status, 403, blocked.text);
      assert.equal(blocked.json.error.code, 'PALISADE_INPUT_REJECTED');
      assert.match(blocked.json.error.message, /mnist-adversarial/);
      // One adversarial row in a batch is enough.
      const batch = await postJson(`${gw.url}/v2/models/mnist/infer`, infer([row(digits.x, 1), Array.from(adv)]));
      assert.equal(batch.status, 403);
      assert.equal(await upstreamRequests(kserve), before, 'nothing blocked reached the model server');

      const ok = await postJson(`${gw.url}/v2/models/mnist/infer`, infer([row(digits.x, 0)]));
      assert.equal(ok.status, 200, ok.text);
      const probs = ok.json.outputs.find((o: { name: string }) => o.name === 'probabilities').data as number[];
      assert.equal(probs.indexOf(Math.max(...probs)), digits.y[0]);
      assert.equal(await upstreamRequests(kserve), before + 1);
    } finally {
      await gw.stop();
    }
  });

  it("an extraction sequence is flagged, raises the principal's risk, and is refused past the threshold", async () => {
    const gw = await startGateway(
      config(
        kserve.url,
        `
auth:
  apiKeys:
    keys: [{ id: extractor, hash: "${hashApiKey(API_KEY)}", scopes: [infer] }]
  policy:
    high: { scopes: [infer], maxRisk: 0.6 }
  risk:
    halfLife: 10m
    weights: { detector-flag: 0.1 }
`,
      ).replace(
        // A second name for the model with the stream detector only: Papernot's synthetic
        // points look adversarial, and the tensor detector alone would refuse them first.
        '    detectors: [mnist-adversarial, query-stream]',
        `    criticality: high
    detectors: [mnist-adversarial, query-stream]
  - { name: mnist-probe, upstream: kserve, upstreamModel: mnist, criticality: high, detectors: [query-stream] }`,
      ),
    );
    const notes = notesOf(gw.gw);
    try {
      const seeds = takeSubset(loadMnist().test, 20, 12);
      const attack = jacobianAugmentation(mlpOracle(mlp), seeds.x, seeds.n, { rounds: 2, epochs: 5, seed: 3 });
      const auth = { authorization: `Bearer ${API_KEY}` };
      const before = await upstreamRequests(kserve);
      let served = 0;
      let firstFlag = 0;
      let refusedAt = 0;
      for (let i = 0; i < attack.n && !refusedAt; i++) {
        const r = await postJson(`${gw.url}/v2/models/mnist-probe/infer`, infer([row(attack.queries, i)]), auth);
        if (r.status === 200) served++;
        else if (r.status === 403 && r.json.error.code === 'PALISADE_RISK_TOO_HIGH') refusedAt = i + 1;
        else assert.fail(`query ${i + 1}: ${r.status} ${r.text}`);
        if (!firstFlag && notes.length && flagged(notes[notes.length - 1])) firstFlag = i + 1;
      }
      assert.ok(firstFlag > 20 && firstFlag <= 60, `first flagged at query ${firstFlag} (after the 20 seeds)`);
      assert.ok(refusedAt > firstFlag, `refused at query ${refusedAt}`);
      const risk = (await (await fetch(`${gw.adminUrl}/admin/risk?principal=extractor`)).json()) as { risk: number };
      assert.ok(risk.risk > 0.6, String(risk.risk));
      assert.equal(await upstreamRequests(kserve), before + served, 'refused queries never reached the model');
      // The principal is refused on the model itself too, whatever it sends now.
      const clean = await postJson(`${gw.url}/v2/models/mnist/infer`, infer([row(digits.x, 0)]), auth);
      assert.equal(clean.status, 403);
      assert.equal(clean.json.error.code, 'PALISADE_RISK_TOO_HIGH');
    } finally {
      await gw.stop();
    }
  });

  it('keeps a stream across a config reload', async () => {
    const gw = await startGateway(config(kserve.url));
    const notes = notesOf(gw.gw);
    try {
      const sweep = contrastSweep(row(digits.x, 2), 11);
      for (const q of sweep.slice(0, 10)) assert.equal((await postJson(`${gw.url}/v2/models/mnist/infer`, infer([q]))).status, 200);
      assert.ok(!notes.some(flagged), 'nine near-duplicates are not yet a burst');
      const changed = config(kserve.url).replace('action: block,', 'action: block, threshold: 0.9,');
      assert.match(changed, /threshold: 0\.9/);
      writeFileSync(gw.file, changed);
      assert.deepEqual(await gw.gw.reload(), { ok: true });
      assert.equal((await postJson(`${gw.url}/v2/models/mnist/infer`, infer([sweep[10]]))).status, 200, 'flag lets the query through');
      assert.ok(flagged(notes[notes.length - 1]), 'the tenth near-duplicate after the reload is flagged: the stream was kept');
    } finally {
      await gw.stop();
    }
  });

  it('shares a stream between two gateways on one Redis', { skip: REDIS_SKIP }, async () => {
    const prefix = keyPrefix('tensor-stream');
    const state = `state: { kind: redis, url: "${REDIS_URL}", keyPrefix: "${prefix}" }`;
    const a = await startGateway(config(kserve.url, state));
    let b: TestGateway | undefined;
    try {
      b = await startGateway(config(kserve.url, state));
      const notesB = notesOf(b.gw);
      const notesA = notesOf(a.gw);
      const sweep = contrastSweep(row(digits.x, 3), 11);
      for (const [i, q] of sweep.entries()) {
        const gw: TestGateway = i % 2 ? b : a;
        assert.equal((await postJson(`${gw.url}/v2/models/mnist/infer`, infer([q]))).status, 200);
      }
      assert.ok(!notesA.slice(0, -1).some(flagged) && !notesB.some(flagged), 'neither gateway saw a burst in its own half');
      assert.ok(flagged(notesA[notesA.length - 1]), 'the 11th query (on gateway A) completes the burst both recorded');
    } finally {
      await b?.stop();
      await a.stop();
      await cleanup(prefix);
    }
  });
});
