/**
 * The authorize stage end to end: policy by criticality (scopes, tenants, roles, acr,
 * auth_time age), risk that rises on the notes of refused requests and decays, and
 * GET /v1/models listing only what the caller may call now.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';
import { bearer, chat, lastReason, makeIdp, recorder, type Idp, type Recorded } from './helpers.js';

describe('authorize: criticality, risk and model listing', () => {
  let llm: SpawnedServer;
  let gw: TestGateway;
  let idp: Idp;
  let rec: Recorded[];
  const now = () => Math.floor(Date.now() / 1000);
  const alice = (extra: Record<string, unknown> = {}) =>
    idp.sign({ sub: 'alice', tenant: 'acme', scope: 'chat', acr: 'mfa', auth_time: now() - 60, ...extra });

  before(async () => {
    llm = await spawnServer('src/demo/llm-server.ts');
    idp = await makeIdp('idp-1', 'https://idp.test');
    gw = await startGateway(
      `
upstreams:
  llm: { protocol: openai, url: ${llm.url} }
models:
  - { name: low-llm, upstream: llm, upstreamModel: demo-llm }
  - { name: medium-llm, upstream: llm, upstreamModel: demo-llm, criticality: medium }
  - { name: high-llm, upstream: llm, upstreamModel: demo-llm, criticality: high }
  - { name: critical-llm, upstream: llm, upstreamModel: demo-llm, criticality: critical }
auth:
  issuers:
    - { name: idp, issuer: https://idp.test, audience: palisade-api, jwks: { file: idp.jwks.json } }
  acrLevels: [pwd, mfa]
  policy:
    low: { allowAnonymous: true, maxRisk: 1 }
    medium: { scopes: [chat], maxRisk: 0.8 }
    high: { scopes: [chat], tenants: [acme], minAcr: mfa, maxAuthAge: 1h, maxRisk: 0.6 }
    critical: { scopes: [chat, critical], roles: [operator], maxRisk: 0.3 }
  risk:
    halfLife: 2s
    weights: { forbidden: 0.5, auth-failure: 0.5 }
`,
      { files: { 'idp.jwks.json': idp.jwks } },
    );
    rec = recorder(gw.gw);
  });

  after(async () => {
    await gw?.stop();
    await llm?.stop();
  });

  async function expectRefused(model: string, token: string, code: string, reason: string) {
    const r = await chat(gw.url, model, bearer(token));
    assert.equal(r.status, code === 'PALISADE_UNAUTHENTICATED' ? 401 : 403, r.text);
    assert.equal(r.json.error.code, code);
    assert.equal(lastReason(rec), reason);
    assert.ok(!r.text.includes(reason));
  }

  // Refusals raise risk (0.5 each, half-life 2 s), so each test uses principals of its own.

  it('lets the same principal call a low, medium and high model and refuses it a critical one', async () => {
    const t = await alice();
    for (const m of ['low-llm', 'medium-llm', 'high-llm']) assert.equal((await chat(gw.url, m, bearer(t))).status, 200, m);
    await expectRefused('critical-llm', t, 'PALISADE_FORBIDDEN', 'scope');
    const operator = await alice({ sub: 'olga', scope: 'chat critical', roles: ['operator'] });
    assert.equal((await chat(gw.url, 'critical-llm', bearer(operator))).status, 200);
    await expectRefused('critical-llm', await alice({ sub: 'carl', scope: 'chat critical', roles: ['viewer'] }), 'PALISADE_FORBIDDEN', 'role');
  });

  it('checks every requirement of the high level', async () => {
    await expectRefused('high-llm', await alice({ sub: 'u1', tenant: 'globex' }), 'PALISADE_FORBIDDEN', 'tenant');
    await expectRefused('high-llm', await alice({ sub: 'u2', tenant: undefined }), 'PALISADE_FORBIDDEN', 'tenant');
    await expectRefused('high-llm', await alice({ sub: 'u3', acr: 'pwd' }), 'PALISADE_FORBIDDEN', 'acr');
    await expectRefused('high-llm', await alice({ sub: 'u4', acr: undefined }), 'PALISADE_FORBIDDEN', 'acr');
    await expectRefused('high-llm', await alice({ sub: 'u5', auth_time: now() - 7200 }), 'PALISADE_FORBIDDEN', 'auth-age');
    await expectRefused('high-llm', await alice({ sub: 'u6', auth_time: undefined }), 'PALISADE_FORBIDDEN', 'auth-age');
    await expectRefused('medium-llm', await alice({ sub: 'u7', scope: 'embeddings' }), 'PALISADE_FORBIDDEN', 'scope');
    // Anonymous callers are asked to authenticate, and only where the level admits them get through.
    assert.equal((await chat(gw.url, 'low-llm')).status, 200);
    const r = await chat(gw.url, 'medium-llm');
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="palisade"');
  });

  it('lists only the models the caller may call now', async () => {
    const list = async (headers: Record<string, string>) => {
      const r = await fetch(`${gw.url}/v1/models`, { headers });
      return { status: r.status, ids: r.status === 200 ? ((await r.json()) as { data: { id: string }[] }).data.map((d) => d.id) : [] };
    };
    const lisa = await alice({ sub: 'lisa' });
    assert.deepEqual((await list(bearer(lisa))).ids, ['low-llm', 'medium-llm', 'high-llm']);
    assert.deepEqual((await list({})).ids, ['low-llm']);
    const op = await alice({ sub: 'olga', scope: 'chat critical', roles: ['operator'] });
    assert.deepEqual((await list(bearer(op))).ids, ['low-llm', 'medium-llm', 'high-llm', 'critical-llm']);
    // Model retrieval follows the same rule: a model one may not call does not exist for one.
    assert.equal((await fetch(`${gw.url}/v1/models/critical-llm`, { headers: bearer(lisa) })).status, 404);
    assert.equal((await fetch(`${gw.url}/v1/models/high-llm`, { headers: bearer(lisa) })).status, 200);
    assert.equal((await fetch(`${gw.url}/v1/models/critical-llm`, { headers: bearer(op) })).status, 200);
  });

  it("raises a principal's risk on its refused requests, refuses it where risk matters until the risk decays", async () => {
    const t = await alice({ sub: 'rita' });
    assert.equal((await chat(gw.url, 'high-llm', bearer(t))).status, 200);
    // Two refusals for scope: 2 x 0.5 -> 1, past high's 0.6 for the next 1.4 s.
    for (let i = 0; i < 2; i++) await expectRefused('critical-llm', t, 'PALISADE_FORBIDDEN', 'scope');
    await expectRefused('high-llm', t, 'PALISADE_RISK_TOO_HIGH', 'risk');
    assert.equal((await chat(gw.url, 'low-llm', bearer(t))).status, 200, 'low admits any risk');
    const risk = (await (await fetch(`${gw.adminUrl}/admin/risk?principal=idp:rita`)).json()) as { risk: number };
    assert.ok(risk.risk > 0.6, String(risk.risk));
    // A refusal for risk adds no risk (no feedback loop), so it decays: half-life 2 s.
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      await sleep(100);
      status = (await chat(gw.url, 'high-llm', bearer(t))).status;
    }
    assert.equal(status, 200, 'allowed again once the risk has decayed');
  });

  it('raises the risk of an address that fails authentication, for every credential it presents', async () => {
    const t = await alice({ sub: 'vic' });
    assert.equal((await chat(gw.url, 'high-llm', bearer(t))).status, 200);
    assert.equal((await chat(gw.url, 'high-llm', bearer('not.a.jwt'))).status, 401);
    // The model listing refuses a bad credential too, and charges it the same way.
    const forged = t.slice(0, -4) + 'AAAA';
    assert.equal((await fetch(`${gw.url}/v1/models`, { headers: bearer(forged) })).status, 401);
    await expectRefused('high-llm', t, 'PALISADE_RISK_TOO_HIGH', 'risk');
    const a = (await (await fetch(`${gw.adminUrl}/admin/risk?address=127.0.0.1`)).json()) as { risk: number };
    assert.ok(a.risk > 0.6);
  });
});
