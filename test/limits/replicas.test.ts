/**
 * Two gateway processes, one Redis, concurrent clients: the replicas share every
 * counter, so together they admit exactly the limit, never more.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnGateway } from '../helpers/gateway-process.js';
import { cleanup, keyPrefix, REDIS_SKIP, REDIS_URL } from '../helpers/redis.js';
import { spawnServer } from '../helpers/spawn.js';

const LIMIT = 40;
const REQUESTS = 120;
const CONCURRENCY = 12;

test('two gateway processes sharing Redis admit exactly the limit', { skip: REDIS_SKIP, timeout: 60_000 }, async () => {
  const prefix = keyPrefix('replicas');
  const dir = mkdtempSync(join(tmpdir(), 'palisade-replicas-'));
  const llm = await spawnServer('src/demo/llm-server.ts');
  const file = join(dir, 'palisade.yaml');
  writeFileSync(
    file,
    `
server: { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" } }
state: { kind: redis, url: "${REDIS_URL}", keyPrefix: "${prefix}", replicas: 2, commandTimeout: 5s }
upstreams:
  llm: { protocol: openai, url: "${llm.url}" }
models:
  - name: demo-llm
    upstream: llm
    limits: { requests: { rate: ${LIMIT}/m }, tokens: { rate: 100000/m }, concurrency: { max: 64 } }
`,
  );
  const gws = await Promise.all([spawnGateway(file), spawnGateway(file)]);
  try {
    const body = JSON.stringify({ model: 'demo-llm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 });
    const statuses: number[] = [];
    const admittedBy = [0, 0];
    let next = 0;
    const client = async (gw: { url: string }, g: number) => {
      while (next < REQUESTS) {
        next++;
        const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await r.arrayBuffer();
        statuses.push(r.status);
        if (r.status === 200) admittedBy[g]++;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => client(gws[i % 2], i % 2)));
    const admitted = statuses.filter((s) => s === 200).length;
    const refused = statuses.filter((s) => s === 429).length;
    assert.equal(statuses.length, REQUESTS);
    assert.equal(admitted, LIMIT, `admitted ${admitted}`);
    assert.equal(refused, REQUESTS - LIMIT);
    // Both replicas admitted: the limit was shared, not met by one alone.
    assert.ok(admittedBy[0] > 0 && admittedBy[1] > 0, `admitted per replica ${admittedBy}`);
    for (const gw of gws) {
      const h = (await (await fetch(`${gw.adminUrl}/healthz`)).json()) as { state: { backend: string } };
      assert.equal(h.state.backend, 'redis');
    }
  } finally {
    await Promise.all(gws.map((g) => g.stop()));
    await llm.stop();
    rmSync(dir, { recursive: true, force: true });
    await cleanup(prefix);
  }
});
