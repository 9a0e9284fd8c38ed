/**
 * `npm run fuzz [-- runsPerProperty [seed]]`: every fuzz property of
 * test/hardening/fuzz-properties.ts at a large budget (default 20,000 cases each, a
 * fresh seed unless one is given). Prints each property's count and time, and the
 * total; exits 1 with the counterexample when a property fails.
 */
import { properties } from '../test/hardening/fuzz-properties.js';

const runs = Number(process.argv[2] ?? 20_000);
const seed = process.argv[3] === undefined ? Date.now() % 2 ** 31 : Number(process.argv[3]);
if (!Number.isInteger(runs) || runs <= 0 || !Number.isInteger(seed)) {
  process.stderr.write('usage: npm run fuzz -- [runsPerProperty] [seed]\n');
  process.exit(2);
}
process.stdout.write(`fuzz: ${properties.length} properties x ${runs} cases, seed ${seed}\n`);
const started = performance.now();
let total = 0;
for (const p of properties) {
  const t = performance.now();
  try {
    p.run(runs, seed);
  } catch (err) {
    process.stdout.write(`FAIL  ${p.name}\n${(err as Error).message}\n${String((err as { cause?: Error }).cause?.message ?? '')}\n`);
    process.exit(1);
  }
  total += runs;
  process.stdout.write(`${String(runs).padStart(8)} cases ${((performance.now() - t) / 1000).toFixed(1).padStart(7)} s  ${p.name}\n`);
}
process.stdout.write(`total: ${total} cases in ${((performance.now() - started) / 1000).toFixed(1)} s, no failure\n`);
