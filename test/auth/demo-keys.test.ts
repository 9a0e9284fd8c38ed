/**
 * The demo auth section proposed for config/default.yaml (docs/auth.md, "Demo"), with
 * the committed demo key: it loads, `mintToken` (what `npm start` prints in its curl)
 * signs with it, and the gateway's identify and authorize accept the token and the demo
 * API key. Pins the committed key files against accidental damage.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Auth } from '../../src/auth/auth.js';
import { demoBearer, mintToken } from '../../src/auth/mint.js';
import { loadConfigText } from '../../src/config/load.js';
import type { ModelRuntime } from '../../src/runtime.js';
import { silentLogger } from '../../src/services.js';
import { MemoryStore } from '../../src/state/memory.js';

const CONFIG_DIR = fileURLToPath(new URL('../../config/', import.meta.url));

const DEMO_AUTH = `
auth:
  # DEMO ONLY: the gateway's own issuer signs with a committed key (config/demo-keys/README.md).
  tokenExchange:
    issuer: https://palisade.demo
    keys: [demo-keys/demo-gateway-1.private.jwk.json]
  apiKeys:
    keys:
      # DEMO ONLY: the key is psk_demo_only_not_a_secret.
      - { id: demo-service, hash: "sha256:a615b2ab7488f6212dd7dff3329cb28902856acf9420660cd37db731089fcacb", tenant: demo, scopes: [chat, infer] }
  policy:
    medium: { scopes: [chat] }
    high: { scopes: [infer] }
`;

describe('demo auth config', () => {
  it('mints a token with the committed demo key that the gateway accepts, and accepts the demo API key', async () => {
    const yaml = `
upstreams:
  llm: { protocol: openai, url: "http://127.0.0.1:1" }
  kserve: { protocol: kserve-v2, url: "http://127.0.0.1:2" }
models:
  - { name: demo-llm, upstream: llm, criticality: medium }
  - { name: demo-mnist, upstream: kserve, criticality: high }
${DEMO_AUTH}`;
    const r = loadConfigText(yaml, `${CONFIG_DIR}default.yaml`);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    const token = (await demoBearer(r.loaded))!;
    const auth = (await Auth.create(r.loaded, { logger: silentLogger, observer: {}, state: new MemoryStore() }))!;
    const http = (headers: Record<string, string>) => ({ method: 'POST', url: '/', path: '/', headers, remoteAddress: '127.0.0.1', clientAddress: '127.0.0.1' });
    const models = r.loaded.config.models.map((m) => ({ name: m.name, config: m }) as unknown as ModelRuntime);
    const creds: Record<string, string>[] = [{ authorization: `Bearer ${token}` }, { 'x-api-key': 'psk_demo_only_not_a_secret' }];
    for (const h of creds) {
      const p = await auth.identify(http(h));
      for (const m of models) assert.equal((await auth.decide(p, m, http(h))).ok, true, `${p.id} on ${m.name}`);
    }
    const weak = await mintToken(r.loaded, { sub: 'guest', scopes: ['chat'] });
    const g = await auth.identify(http({ authorization: `Bearer ${weak}` }));
    assert.deepEqual((await auth.visibleModels(http({ authorization: `Bearer ${weak}` }), models)).map((m) => m.name), ['demo-llm']);
    assert.equal(g.id, 'guest');
  });
});
