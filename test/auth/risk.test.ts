/**
 * Risk: the notes other stages report become a decaying score, applied by the identify
 * stage's done hook (the last hook of a request), per principal or, without one, per
 * address; policy then reads it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Auth } from '../../src/auth/auth.js';
import { createAuthorizeStage } from '../../src/auth/authorize-stage.js';
import { createIdentifyStage } from '../../src/auth/identify-stage.js';
import { RiskEngine } from '../../src/auth/risk.js';
import { loadConfigText } from '../../src/config/load.js';
import type { RequestContext } from '../../src/pipeline/context.js';
import type { ModelRuntime } from '../../src/runtime.js';
import { silentLogger } from '../../src/services.js';
import { MemoryStore } from '../../src/state/memory.js';
import { hashApiKey } from '../../src/auth/api-keys.js';

const KEY = 'psk_risk-test-key-000000000000000000000000000000000000';
const YAML = `
upstreams: { u: { protocol: openai, url: "http://127.0.0.1:1" } }
models:
  - { name: crit, upstream: u, criticality: critical }
auth:
  apiKeys: { keys: [{ id: svc, hash: ${hashApiKey(KEY)} }] }
  policy: { critical: { maxRisk: 0.3 } }
  risk: { halfLife: 10m, weights: { detector-flag: 0.2, custom-kind: 0.05 } }
`;

function setup() {
  let t = 1_800_000_000_000;
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const r = loadConfigText(YAML, '/tmp/risk.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  const state = new MemoryStore(1000, clock.now);
  return { r, state, clock };
}

function ctxFor(model: ModelRuntime, headers: Record<string, string>): RequestContext {
  return {
    id: 'r1', startedAt: 0, receivedAt: 0,
    http: { method: 'POST', url: '/', path: '/', headers, remoteAddress: '10.0.0.9', clientAddress: '10.0.0.9' },
    route: { protocol: 'openai', operation: 'chat', upstreamPath: '/', query: '' },
    model, body: undefined, notes: [], signal: new AbortController().signal, locals: {},
  };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('risk', () => {
  it('decays with the half-life and stays in [0, 1]', async () => {
    let t = 0;
    const state = new MemoryStore(1000, () => t);
    const risk = new RiskEngine(state, { halfLife: 1000, weights: { x: 0.8 } }, () => t);
    await risk.account([{ stage: 's', kind: 'x' }, { stage: 's', kind: 'x' }, { stage: 's', kind: 'unweighed' }], 'p', 'a');
    assert.equal(await risk.score('p', 'a'), 1);
    t += 1000;
    assert.ok(Math.abs((await risk.score('p', 'a')) - 0.5) < 1e-9);
    t += 3000;
    assert.ok(Math.abs((await risk.score('p', 'a')) - 0.0625) < 1e-9);
    assert.equal(await risk.score('q', 'a'), 0);
  });

  it('turns the notes of other stages into risk in the done hook, and policy refuses past maxRisk', async () => {
    const { r, state, clock } = setup();
    const services = { logger: silentLogger, observer: {}, state };
    const auth = (await Auth.create(r.loaded, services, { now: clock.now }))!;
    const identify = createIdentifyStage(auth, services);
    const authorize = createAuthorizeStage(auth);
    const model = { name: 'crit', config: r.loaded.config.models[0] } as unknown as ModelRuntime;
    const run = async () => {
      const ctx = ctxFor(model, { 'x-api-key': KEY });
      assert.equal((await identify.request!(ctx)).allow, true);
      const d = await authorize.request!(ctx);
      return { ctx, d };
    };
    const first = await run();
    assert.equal(first.d.allow, true);
    // What an inspect stage and a limit stage would report.
    first.ctx.notes.push({ stage: 'inspect', kind: 'detector-flag', name: 'pi', score: 0.97 }, { stage: 'limit', kind: 'custom-kind' });
    identify.done!(first.ctx, { status: 200, durationMs: 1 });
    await flush();
    assert.ok(Math.abs((await auth.risk.score('svc', '10.0.0.9')) - 0.25) < 1e-9);
    // One more flag: 0.45 > 0.3.
    const second = await run();
    second.ctx.notes.push({ stage: 'inspect', kind: 'detector-flag' });
    identify.done!(second.ctx, { status: 200, durationMs: 1 });
    await flush();
    const refused = await run();
    assert.equal(refused.d.allow, false);
    assert.equal(!refused.d.allow && refused.d.code, 'PALISADE_RISK_TOO_HIGH');
    assert.equal(await auth.risk.score(undefined, '10.0.0.9'), 0, 'a known principal carries its own risk');
    clock.advance(10 * 60_000);
    assert.equal((await run()).d.allow, true, 'one half-life later: 0.225 <= 0.3');
  });

  it('charges a failed authentication to the address', async () => {
    const { r, state, clock } = setup();
    const services = { logger: silentLogger, observer: {}, state };
    const auth = (await Auth.create(r.loaded, services, { now: clock.now }))!;
    const identify = createIdentifyStage(auth, services);
    const ctx = ctxFor({ name: 'crit', config: r.loaded.config.models[0] } as unknown as ModelRuntime, { 'x-api-key': KEY + 'x' });
    const d = await identify.request!(ctx);
    assert.equal(d.allow, false);
    ctx.notes.push(...(d.notes ?? []));
    identify.done!(ctx, { status: 401, durationMs: 1 });
    await flush();
    assert.ok(Math.abs((await auth.risk.score(undefined, '10.0.0.9')) - 0.05) < 1e-9);
  });
});
