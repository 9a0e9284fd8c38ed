/**
 * A short soak in npm test (the long one is `npm run soak`): 2,000 requests of mixed
 * good, bad and faulty traffic through a real gateway to the demo LLM process. Every
 * answer is one its kind allows (never PALISADE_INTERNAL), and at the end nothing is
 * left running, admitted, or open beyond the upstream keep-alive pool.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { resources, settled, type ResourceCounts } from '../helpers/leaks.js';
import { runSoak, soakConfig } from '../helpers/soak.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';

let llm: SpawnedServer;
let gw: TestGateway;
let baseline: ResourceCounts;

before(async () => {
  llm = await spawnServer('src/demo/llm-server.ts');
  gw = await startGateway(soakConfig(llm.url));
  baseline = resources();
});
after(async () => {
  await gw?.stop();
  await llm?.stop();
});

test('2,000 mixed requests: every answer allowed for its kind, nothing left behind', async () => {
  const stats = await runSoak(gw.url, { requests: 2000, concurrency: 32, seed: 7 });
  assert.equal(stats.requests, 2000);
  assert.deepEqual(stats.unexpected, []);
  const all = Object.values(stats.byKind).flatMap((o) => Object.keys(o));
  assert.ok(!all.some((o) => o.includes('PALISADE_INTERNAL')));
  assert.ok(Object.keys(stats.byKind).length >= 15, 'the mix covered most kinds');
  const pooled = () => {
    let n = 0;
    for (const up of gw.gw.current.upstreams.values()) n += up.pool.stats.connected;
    return { TCPSocketWrap: n };
  };
  const busy = () => {
    if (gw.gw.admission.inFlight) return `admitted: ${gw.gw.admission.inFlight}`;
    for (const up of gw.gw.current.upstreams.values()) if (up.pool.stats.running || up.pool.stats.pending) return `upstream ${up.name} busy`;
    return undefined;
  };
  assert.deepEqual(await settled(baseline, pooled, busy, 5000), []);
});
