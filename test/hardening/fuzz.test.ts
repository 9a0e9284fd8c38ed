/**
 * The fuzz properties (test/hardening/fuzz-properties.ts) at a small budget with a
 * fixed seed, so npm test stays fast and repeatable; `npm run fuzz` runs them at a
 * large budget with fresh seeds (bench/results/fuzz.md).
 */
import { test } from 'node:test';
import { properties } from './fuzz-properties.js';

const RUNS = 150;
const SEED = 20_240_909;

for (const p of properties) {
  test(`fuzz: ${p.name}`, () => p.run(RUNS, SEED));
}
