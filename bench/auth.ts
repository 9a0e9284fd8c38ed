/**
 * Benchmark (not a test): the cost of identify + authorize per request, in process, on
 * the stages themselves (no HTTP), with the memory state store:
 *   - JWT, cache hit:  hash of the token, LRU lookup, revocation check, risk read, policy
 *   - JWT, cache miss: the same plus decode, ES256 signature and claims checks (jose)
 *   - API key:         SHA-256 and constant-time compare against every stored key
 * Run: npm run bench:auth [-- ITERATIONS]. Results: bench/results/auth.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { hashApiKey, newApiKey } from '../src/auth/api-keys.js';
import { Auth } from '../src/auth/auth.js';
import { createAuthorizeStage } from '../src/auth/authorize-stage.js';
import { createIdentifyStage } from '../src/auth/identify-stage.js';
import { loadConfigText } from '../src/config/load.js';
import type { RequestContext } from '../src/pipeline/context.js';
import type { Stage } from '../src/pipeline/stage.js';
import type { ModelRuntime } from '../src/runtime.js';
import { silentLogger } from '../src/services.js';
import { MemoryStore } from '../src/state/memory.js';

const N = Number(process.argv[2] ?? 100_000);

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-bench-'));
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  writeFileSync(join(dir, 'idp.jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] }));
  // 100 service accounts: the API key path compares against all of them.
  const keys = Array.from({ length: 100 }, () => newApiKey());
  const yaml = (cache: number) => `
upstreams: { u: { protocol: openai, url: "http://127.0.0.1:1" } }
models: [{ name: m, upstream: u, criticality: medium }]
auth:
  issuers: [{ name: idp, issuer: https://idp.bench, audience: api, jwks: { file: idp.jwks.json } }]
  apiKeys: { keys: [${keys.map((k, i) => `{ id: svc-${i}, hash: ${hashApiKey(k)}, scopes: [chat] }`).join(', ')}] }
  policy: { medium: { scopes: [chat], maxRisk: 0.8 } }
  cache: { maxEntries: ${cache} }
`;
  const build = async (cache: number) => {
    const r = loadConfigText(yaml(cache), join(dir, 'p.yaml'));
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const services = { logger: silentLogger, observer: {}, state: new MemoryStore() };
    const auth = (await Auth.create(r.loaded, services))!;
    const model = { name: 'm', config: r.loaded.config.models[0] } as unknown as ModelRuntime;
    return { stages: [createIdentifyStage(auth, services), createAuthorizeStage(auth)] as Stage[], model };
  };
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ scope: 'chat', tenant: 'acme' })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer('https://idp.bench').setAudience('api').setSubject('alice').setIssuedAt(now).setExpirationTime(now + 3600)
    .sign(privateKey);

  const signal = new AbortController().signal;
  const run = async (label: string, b: Awaited<ReturnType<typeof build>>, headers: Record<string, string>, n: number) => {
    const ctxOf = (): RequestContext => ({
      id: 'b', startedAt: 0, receivedAt: 0,
      http: { method: 'POST', url: '/', path: '/', headers, remoteAddress: '10.1.2.3', clientAddress: '10.1.2.3' },
      route: { protocol: 'openai', operation: 'chat', upstreamPath: '/', query: '' },
      model: b.model, body: undefined, notes: [], signal, locals: {},
    });
    const once = async () => {
      const ctx = ctxOf();
      for (const s of b.stages) if (!(await s.request!(ctx)).allow) throw new Error(`${label}: refused`);
    };
    for (let i = 0; i < Math.min(2000, n); i++) await once();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await once();
    const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
    console.log(`${label.padEnd(28)} ${us.toFixed(2).padStart(8)} µs/op   (${n} ops)`);
  };

  const cached = await build(10_000);
  const uncached = await build(0);
  console.log(`identify + authorize, node ${process.version}, ${N} iterations (misses: ${Math.round(N / 10)})`);
  await run('JWT ES256, cache hit', cached, { authorization: `Bearer ${token}` }, N);
  await run('JWT ES256, cache miss', uncached, { authorization: `Bearer ${token}` }, Math.round(N / 10));
  await run('API key (100 stored)', cached, { 'x-api-key': keys[99] }, N);
  rmSync(dir, { recursive: true, force: true });
}

await main();
