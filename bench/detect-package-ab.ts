/**
 * Interleaved A/B of two signed text-detector packages' latency through the gateway
 * runtime (detectors/prompt-injection/report.ts measureLatency: one caller, benign text,
 * every window scored): rounds alternate A, B, A, B, ... so both see the same machine
 * load, and the ratio of medians (B / A) per text size is the figure to read.
 *
 *   node --import tsx bench/detect-package-ab.ts <dir A> <dir B> [rounds=5]
 *
 * Both packages must be signed by the demo key (or set PALISADE_SIGNING_KEY to the
 * private JWK whose public half signed them). To compare against main's package:
 *   mkdir -p /tmp/pi-main && for f in model.onnx manifest.json manifest.jws; do
 *     git show main:models/prompt-injection/$f > /tmp/pi-main/$f; done
 */
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureLatency } from '../detectors/prompt-injection/report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [a, b, roundsArg] = process.argv.slice(2);
if (!a || !b) throw new Error('usage: bench/detect-package-ab.ts <dir A> <dir B> [rounds]');
const rounds = Number(roundsArg ?? 5);
const key = process.env.PALISADE_SIGNING_KEY ?? join(ROOT, 'detectors/keys/DEMO-ONLY-palisade-models.private.jwk');
const p50: Record<'A' | 'B', Record<string, number[]>> = { A: {}, B: {} };
const load0 = loadavg().map((x) => x.toFixed(2)).join(' ');
for (let r = 0; r < rounds; r++) {
  for (const [name, dir] of [['A', a], ['B', b]] as const) {
    for (const [size, v] of Object.entries(await measureLatency(resolve(dir), key))) (p50[name][size] ??= []).push(v.p50);
  }
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
console.log(`A = ${a}, B = ${b}, ${rounds} interleaved rounds; load average ${load0} at start, ${loadavg().map((x) => x.toFixed(2)).join(' ')} at end\n`);
console.log('| text | p50 A (median of rounds) | p50 B | B / A |\n|---|---|---|---|');
for (const size of Object.keys(p50.A)) console.log(`| ${size} | ${median(p50.A[size])} | ${median(p50.B[size])} | ${(median(p50.B[size]) / median(p50.A[size])).toFixed(3)} |`);
