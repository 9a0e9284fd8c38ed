import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RiskEngine } from '../../src/auth/risk.js';
import { RiskShrink } from '../../src/limits/risk.js';
import { MemoryStore } from '../../src/state/memory.js';
import { openaiCtx, loadYaml, principal } from '../helpers/context.js';

// Regression: limits read `risk:<id>` while identity wrote `risk:p:<id>`, so no risk
// (a detector's flags included) ever shrank a principal's limits.
test("limits read the risk identity's RiskEngine writes", async () => {
  const state = new MemoryStore();
  const halfLife = 3_600_000;
  await new RiskEngine(state, { halfLife, weights: { 'detector-flag': 0.3 } }).account(
    [
      { stage: 'inspect', kind: 'detector-flag', name: 'query-stream', score: 0.7 },
      { stage: 'inspect', kind: 'detector-flag', name: 'query-stream', score: 0.8 },
    ],
    'alice',
    '127.0.0.1',
  );
  const loaded = loadYaml(`
upstreams: { llm: { protocol: openai, url: "http://127.0.0.1:9" } }
models: [{ name: m, upstream: llm }]
`);
  const r = await new RiskShrink([{ atLeast: 0.5, factor: 0.5 }], halfLife).read(openaiCtx(loaded, { principal: principal('alice') }), state);
  assert.ok(Math.abs(r.score - 0.6) < 1e-3, String(r.score));
  assert.equal(r.factor, 0.5);
  await state.close();
});
