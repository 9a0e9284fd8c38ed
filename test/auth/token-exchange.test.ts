/**
 * RFC 8693 token exchange end to end: lifetimes follow the criticality table and shrink
 * or stop with risk, tokens are bound to their model and narrowed to their scopes, never
 * outlive their subject, verify against the published JWKS, and survive a key rotation.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import { hashApiKey } from '../../src/auth/api-keys.js';
import { writeKeyPair } from '../../src/auth/signing-keys.js';
import { TOKEN_TYPE_API_KEY } from '../../src/auth/token-exchange.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';
import { bearer, chat, exchange, lastReason, makeIdp, payloadOf, recorder, type Idp, type Recorded } from './helpers.js';

const KEY = 'psk_exchange-test-key-00000000000000000000000000000000000';

describe('token exchange', () => {
  let llm: SpawnedServer;
  let gw: TestGateway;
  let idp: Idp;
  let rec: Recorded[];
  let keyDir: string;
  let yaml: (keys: string[]) => string;
  const long = (extra: Record<string, unknown> = {}) => idp.sign({ exp: Math.floor(Date.now() / 1000) + 7200, scope: 'chat embeddings', ...extra });

  before(async () => {
    llm = await spawnServer('src/demo/llm-server.ts');
    idp = await makeIdp('idp-1', 'https://idp.test');
    keyDir = mkdtempSync(join(tmpdir(), 'palisade-keys-'));
    await writeKeyPair(keyDir, { kid: 'gw-2025' });
    await writeKeyPair(keyDir, { kid: 'gw-2026', alg: 'EdDSA' });
    writeFileSync(join(keyDir, 'idp.jwks.json'), idp.jwks);
    yaml = (keys) => `
upstreams:
  llm: { protocol: openai, url: ${llm.url} }
models:
  - { name: low-llm, upstream: llm, upstreamModel: demo-llm }
  - { name: other-llm, upstream: llm, upstreamModel: demo-llm }
  - { name: high-llm, upstream: llm, upstreamModel: demo-llm, criticality: high }
  - { name: critical-llm, upstream: llm, upstreamModel: demo-llm, criticality: critical }
  - { name: guarded-llm, upstream: llm, upstreamModel: demo-llm, criticality: medium }
auth:
  issuers:
    - { name: idp, issuer: https://idp.test, audience: palisade-api, jwks: { file: ${keyDir}/idp.jwks.json } }
  apiKeys: { keys: [{ id: batch-svc, hash: ${hashApiKey(KEY)}, scopes: [chat] }] }
  policy:
    low: { maxRisk: 1 }
    medium: { scopes: [guarded], maxRisk: 1 }
    high: { maxRisk: 1 }
    critical: { maxRisk: 1 }
  risk: { halfLife: 1h, weights: { forbidden: 0.3 } }
  tokenExchange:
    issuer: https://palisade.test
    keys: [${keys.map((k) => `${keyDir}/${k}.private.jwk.json`).join(', ')}]
    lifetimes: { low: 60m, medium: 30m, high: 15m, critical: 5m }
    shorten: [{ atRisk: 0.5, factor: 0.5 }]
    refuseAtRisk: 0.8
`;
    gw = await startGateway(yaml(['gw-2025']));
    rec = recorder(gw.gw);
  });

  after(async () => {
    await gw?.stop();
    await llm?.stop();
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  });

  it('issues model-bound tokens whose lifetime follows the criticality table', async () => {
    const subject = await long();
    for (const [model, seconds] of [['low-llm', 3600], ['high-llm', 900], ['critical-llm', 300]] as const) {
      const r = await exchange(gw.url, { subject_token: subject, audience: model });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.token_type, 'Bearer');
      assert.equal(r.json.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
      assert.equal(r.json.expires_in, seconds);
      assert.equal(r.headers.get('cache-control'), 'no-store');
      const p = payloadOf(r.json.access_token);
      assert.equal(p.exp - p.iat, seconds);
      assert.equal(p.aud, `urn:palisade:model:${model}`);
      assert.equal(p.sub, 'idp:alice');
      assert.equal(p.iss, 'https://palisade.test');
    }
  });

  it('binds the token to its model and to the scopes asked for', async () => {
    const r = await exchange(gw.url, { subject_token: await long(), resource: 'urn:palisade:model:low-llm', scope: 'chat' });
    assert.equal(r.status, 200);
    assert.equal(r.json.scope, 'chat');
    const t = r.json.access_token;
    const ok = await chat(gw.url, 'low-llm', bearer(t));
    assert.equal(ok.status, 200);
    assert.equal(rec.at(-1)!.principal, 'idp:alice', 'the exchanged token speaks for the same principal');
    const other = await chat(gw.url, 'other-llm', bearer(t));
    assert.equal(other.status, 403);
    assert.equal(lastReason(rec), 'model-not-bound');
    const wider = await exchange(gw.url, { subject_token: await long(), audience: 'low-llm', scope: 'chat admin' });
    assert.equal(wider.status, 403);
    assert.equal(wider.json.error.code, 'PALISADE_FORBIDDEN');
  });

  it('never outlives its subject token', async () => {
    const r = await exchange(gw.url, { subject_token: await idp.sign({ exp: Math.floor(Date.now() / 1000) + 120 }), audience: 'low-llm' });
    assert.equal(r.status, 200);
    assert.ok(r.json.expires_in <= 120 && r.json.expires_in > 100, String(r.json.expires_in));
  });

  it('halves the lifetime at risk >= 0.5 and refuses at >= 0.8', async () => {
    const bob = await long({ sub: 'bob' });
    assert.equal((await exchange(gw.url, { subject_token: bob, audience: 'low-llm' })).json.expires_in, 3600);
    // Two refusals on a model that needs a scope bob lacks: 2 x 0.3 = 0.6.
    for (let i = 0; i < 2; i++) assert.equal((await chat(gw.url, 'guarded-llm', bearer(bob))).status, 403);
    const half = await exchange(gw.url, { subject_token: bob, audience: 'low-llm' });
    assert.equal(half.json.expires_in, 1800);
    assert.equal((await exchange(gw.url, { subject_token: bob, audience: 'critical-llm' })).json.expires_in, 150);
    assert.equal((await chat(gw.url, 'guarded-llm', bearer(bob))).status, 403);
    const refused = await exchange(gw.url, { subject_token: bob, audience: 'low-llm' });
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error.code, 'PALISADE_RISK_TOO_HIGH');
  });

  it('exchanges an API key', async () => {
    const r = await exchange(gw.url, { subject_token: KEY, subject_token_type: TOKEN_TYPE_API_KEY, audience: 'low-llm' });
    assert.equal(r.status, 200);
    assert.equal(payloadOf(r.json.access_token).sub, 'batch-svc');
    assert.equal((await chat(gw.url, 'low-llm', bearer(r.json.access_token))).status, 200);
  });

  it('refuses bad subjects and bad requests in the one error shape', async () => {
    const bad = await exchange(gw.url, { subject_token: (await long()).slice(0, -3) + 'AAA', audience: 'low-llm' });
    assert.equal(bad.status, 401);
    assert.equal(bad.json.error.code, 'PALISADE_UNAUTHENTICATED');
    assert.ok(!JSON.stringify(bad.json).includes('signature'));
    assert.equal((await exchange(gw.url, { subject_token: await long(), audience: 'no-such-model' })).status, 404);
    assert.equal((await exchange(gw.url, { subject_token: await long(), audience: 'low-llm', grant_type: 'client_credentials' })).status, 400);
    assert.equal((await exchange(gw.url, { subject_token: await long(), audience: 'low-llm', subject_token_type: 'urn:x' })).status, 400);
    assert.equal((await exchange(gw.url, { subject_token: await long() })).status, 400);
    const json = await fetch(`${gw.url}/palisade/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(json.status, 415);
    const dup = await fetch(`${gw.url}/palisade/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=${await long()}&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt&audience=low-llm&audience=critical-llm`,
    });
    assert.equal(dup.status, 400);
  });

  it('publishes its keys; a relying party verifies the tokens with them; a rotated-out key stays valid', async () => {
    const jwks = (await (await fetch(`${gw.url}/.well-known/jwks.json`)).json()) as any;
    assert.deepEqual(jwks.keys.map((k: { kid: string }) => k.kid), ['gw-2025']);
    assert.ok(jwks.keys.every((k: Record<string, unknown>) => !('d' in k)), 'no private member is published');
    const old = (await exchange(gw.url, { subject_token: await long(), audience: 'low-llm' })).json.access_token;
    const v = await jwtVerify(old, createLocalJWKSet(jwks), { issuer: 'https://palisade.test', audience: 'urn:palisade:model:low-llm', typ: 'at+jwt' });
    assert.equal(v.payload.sub, 'idp:alice');

    // Rotate: the new key signs, the old one is still published and accepted.
    writeFileSync(gw.file, yaml(['gw-2026', 'gw-2025']));
    assert.deepEqual(await gw.gw.reload(), { ok: true });
    const both = (await (await fetch(`${gw.url}/.well-known/jwks.json`)).json()) as any;
    assert.deepEqual(both.keys.map((k: { kid: string }) => k.kid), ['gw-2026', 'gw-2025']);
    const fresh = (await exchange(gw.url, { subject_token: await long(), audience: 'low-llm' })).json.access_token;
    assert.equal(decodeProtectedHeader(fresh).kid, 'gw-2026');
    assert.equal(decodeProtectedHeader(fresh).alg, 'EdDSA');
    assert.equal((await chat(gw.url, 'low-llm', bearer(old))).status, 200);
    assert.equal((await chat(gw.url, 'low-llm', bearer(fresh))).status, 200);

    // Once the old key is gone, its tokens are too.
    writeFileSync(gw.file, yaml(['gw-2026']));
    assert.deepEqual(await gw.gw.reload(), { ok: true });
    assert.equal((await chat(gw.url, 'low-llm', bearer(old))).status, 401);
    // The remaining key is EdDSA, so ES256 is no longer on the gateway issuer's allow-list.
    assert.equal(lastReason(rec), 'alg-not-allowed');
    assert.ok(readFileSync(join(keyDir, 'gw-2025.private.jwk.json'), 'utf8').includes('"d"'));
  });
});
