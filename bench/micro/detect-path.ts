/**
 * Where a text detector call spends its time, step by step, for a 32-byte and a 2 KB
 * prompt with the shipped package: normalize (prepare), windows, featurize, feeds, the
 * ONNX run alone (awaited), and the whole scoreTexts. Mean wall time per call over many
 * calls (best of three repetitions).
 *
 * Usage: node --import tsx bench/micro/detect-path.ts
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from '../../src/detect/ort.js';
import { builtinFeaturizers } from '../../src/detect/featurizers/registry.js';
import type { HashedNgramsFeaturizer, HashedNgramsItem } from '../../src/detect/featurizers/hashed-ngrams.js';
import { loadPackage } from '../../src/detect/package.js';
import { FeedBuffers } from '../../src/detect/feed-buffers.js';
import { DetectorSessions } from '../../src/detect/sessions.js';
import { readTrustedKey } from '../../src/detect/signing.js';
import { scoreTexts } from '../../src/detect/text-scorer.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PKG = join(ROOT, 'models/prompt-injection');
const KEY = join(ROOT, 'models/keys/palisade-models.pub.jwk');
const SENTENCE = 'Our service processes about two million events per day with a median latency of 40 ms; please review the design. ';
const text = (bytes: number, salt = 0) => `${salt} ${SENTENCE.repeat(Math.ceil(bytes / SENTENCE.length))}`.slice(0, bytes);

async function timeIt(f: () => unknown, n: number): Promise<number> {
  for (let i = 0; i < n / 5; i++) await f();
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) await f();
    best = Math.min(best, ((performance.now() - t) / n) * 1000);
  }
  return best;
}

const pkg = await loadPackage(PKG, { trustedKeys: [await readTrustedKey(KEY)], featurizers: builtinFeaturizers() });
const feat = pkg.featurizer as unknown as HashedNgramsFeaturizer;
const session = await ort.InferenceSession.create(pkg.model, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
const sessions = new DetectorSessions();
const lease = await sessions.acquire(pkg, { maxSize: 64, maxWaitMs: 0 });
const names = pkg.manifest.inputs;
console.log('| prompt | step | us/call |');
console.log('|---|---|---:|');
for (const [label, bytes] of [['32 B', 32], ['2 KB', 2048]] as const) {
  const t = text(bytes);
  const n = bytes > 100 ? 4000 : 20000;
  const stream = feat.prepare([t]);
  const w = feat.windows(stream);
  const items: HashedNgramsItem[] = w.map(([a, b]) => feat.featurize(stream.slice(a, b)));
  const feeds = feat.feeds(items, names);
  const row = async (step: string, f: () => unknown) => console.log(`| ${label} | ${step} | ${(await timeIt(f, n)).toFixed(2)} |`);
  await row('prepare (normalize)', () => feat.prepare([t]));
  await row('windows', () => feat.windows(stream));
  await row(`featurize (${w.length} windows, given back)`, () => feat.release(w.map(([a, b]) => feat.featurize(stream.slice(a, b)))));
  const buffers = new FeedBuffers();
  await row('feeds (fresh buffers)', () => feat.feeds(items, names));
  await row('feeds (a session\'s reused buffers)', () => feat.feeds(items, names, buffers));
  await row('session.run (same feeds)', () => session.run(feeds, [pkg.manifest.output]));
  await row('feeds + session.run', () => session.run(feat.feeds(items, names, buffers), [pkg.manifest.output]));
  await row('scoreTexts (whole)', () => scoreTexts(lease.engine, [t], { threshold: 0.5, earlyExit: true }));
}
lease.release();
await sessions.close();
await session.release();
