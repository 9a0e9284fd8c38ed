/**
 * Puts the latency that `npm run bench:detect` measured (bench/results/detect.json) into
 * the package's manifest metrics, re-signs it, and rewrites the model card and
 * metrics.json. Training measures latency too, but while the machine is busy training
 * (and other work runs), so the card's figures come from the bench on a quieter machine.
 *
 *   npm run bench:detect && node --import tsx detectors/prompt-injection/set-latency.ts
 *
 * model.onnx is untouched (its sha256 in the manifest stays the same).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JWK } from 'jose';
import { writePackage, type Manifest } from '../../src/detect/package.js';
import { findPublicData } from './data.js';
import { writeModelCard } from './report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = join(ROOT, 'models/prompt-injection');
const DEMO_KEY = join(ROOT, 'detectors/keys/DEMO-ONLY-palisade-models.private.jwk');

const bench = JSON.parse(readFileSync(join(ROOT, 'bench/results/detect.json'), 'utf8'));
const manifest = JSON.parse(readFileSync(join(OUT, 'manifest.json'), 'utf8')) as Manifest;
if (bench.package !== manifest.version) throw new Error(`bench/results/detect.json measured ${bench.package}, the package is ${manifest.version}: run npm run bench:detect first`);
const { schema: _s, model: _m, ...rest } = manifest;
const metrics = {
  ...(manifest.metrics as Record<string, unknown>),
  latencyMs: {
    method: `${bench.command} (one caller, benign text, every window scored), load average ${bench.loadAverageAtEnd} at its end, ${bench.node}`,
    ...bench.byLength,
    inspectStage2kb: bench.inspectStage2kb,
  },
};
const key = JSON.parse(readFileSync(process.env.PALISADE_SIGNING_KEY ?? DEMO_KEY, 'utf8')) as JWK;
const onnx = readFileSync(join(OUT, manifest.model.file));
const written = await writePackage(OUT, onnx, { ...rest, metrics } as never, key);
writeModelCard(join(OUT, 'README.md'), written, findPublicData(ROOT));
writeFileSync(join(OUT, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
process.stderr.write(`latency from ${bench.command} written into ${OUT}/manifest.json (re-signed)\n`);
