/**
 * Issuers whose keys come from a JWKS URL: real local HTTP servers that count their hits.
 * The gateway fetches the configured URL (once, then from cache), never a URL or key a
 * token names in its header (jku, x5u, jwk, x5c), refetches at most once per cooldown
 * however many unknown kids arrive, and fails closed when the JWKS cannot be fetched.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';
import { bearer, chat, lastReason, makeIdp, recorder, upstreamRequests, type Idp, type Recorded } from './helpers.js';

interface Counting {
  url: string;
  hits: string[];
  status: number;
  close(): Promise<void>;
}

/** Serves `body` as JSON on every path and records each path requested. */
async function countingServer(body: string): Promise<Counting> {
  const c = { url: '', hits: [] as string[], status: 200, close: async () => {} };
  const server: Server = createServer((req, res) => {
    c.hits.push(req.url ?? '');
    res.writeHead(c.status, { 'content-type': 'application/json' });
    res.end(c.status === 200 ? body : '{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  c.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  c.close = () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
  return c;
}

/** A port on which nothing listens (bound, then released). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('identify: remote JWKS', () => {
  let llm: SpawnedServer;
  let gw: TestGateway;
  let idp: Idp;
  let attacker: Idp;
  let flaky: Idp;
  let down: Idp;
  let jwksServer: Counting;
  let flakyServer: Counting;
  let attackerServer: Counting;
  let rec: Recorded[];

  before(async () => {
    llm = await spawnServer('src/demo/llm-server.ts');
    idp = await makeIdp('idp-remote-1', 'https://idp.test');
    attacker = await makeIdp('idp-remote-1', 'https://idp.test');
    flaky = await makeIdp('flaky-1', 'https://flaky.test');
    down = await makeIdp('down-1', 'https://down.test');
    jwksServer = await countingServer(idp.jwks);
    flakyServer = await countingServer(flaky.jwks);
    // If anything followed the token's own pointers, this server would hand it the attacker's key.
    attackerServer = await countingServer(attacker.jwks);
    const port = await deadPort();
    gw = await startGateway(`
upstreams:
  llm: { protocol: openai, url: ${llm.url} }
models:
  - { name: demo-llm, upstream: llm }
auth:
  issuers:
    - { name: idp, issuer: https://idp.test, audience: palisade-api, jwks: { url: "${jwksServer.url}/jwks" } }
    - { name: flaky, issuer: https://flaky.test, audience: palisade-api, jwks: { url: "${flakyServer.url}/jwks", timeout: 2s } }
    - { name: down, issuer: https://down.test, audience: palisade-api, jwks: { url: "http://127.0.0.1:${port}/jwks", timeout: 2s } }
`);
    rec = recorder(gw.gw);
  });

  after(async () => {
    await gw?.stop();
    await Promise.all([jwksServer?.close(), flakyServer?.close(), attackerServer?.close(), llm?.stop()]);
  });

  it('verifies against the configured URL, fetched once and then cached', async () => {
    assert.equal((await chat(gw.url, 'demo-llm', bearer(await idp.sign()))).status, 200);
    assert.equal((await chat(gw.url, 'demo-llm', bearer(await idp.sign({ sub: 'bob' })))).status, 200);
    assert.deepEqual(jwksServer.hits, ['/jwks']);
  });

  it('never fetches jku or x5u, and never trusts an embedded jwk or x5c', async () => {
    const header = {
      jku: `${attackerServer.url}/jku.json`,
      x5u: `${attackerServer.url}/x5u.pem`,
      jwk: attacker.publicJwk,
      x5c: ['MIIBfake'],
    };
    const before = await upstreamRequests(llm.url);
    // Under the trusted kid, and with no kid at all (so a header key would be the only hint).
    for (const t of [await attacker.sign({}, header), await attacker.sign({}, { ...header, kid: undefined })]) {
      const r = await chat(gw.url, 'demo-llm', bearer(t));
      assert.equal(r.status, 401, r.text);
      assert.equal(lastReason(rec), 'bad-signature');
    }
    // Under an unknown kid: the refusal must not be preceded by a fetch of the token's URLs.
    const r = await chat(gw.url, 'demo-llm', bearer(await attacker.sign({}, { ...header, kid: 'unknown-kid' })));
    assert.equal(r.status, 401);
    assert.deepEqual(attackerServer.hits, [], 'no header URL was fetched');
    assert.equal(await upstreamRequests(llm.url), before);
  });

  it('refetches at most once per cooldown however many unknown kids arrive', async () => {
    const hitsBefore = jwksServer.hits.length;
    for (let i = 0; i < 20; i++) {
      const r = await chat(gw.url, 'demo-llm', bearer(await idp.sign({}, { kid: `random-${i}` })));
      assert.equal(r.status, 401);
      assert.equal(lastReason(rec), 'unknown-kid');
    }
    assert.ok(jwksServer.hits.length - hitsBefore <= 1, `JWKS fetched ${jwksServer.hits.length - hitsBefore} times`);
  });

  it('fails closed when the JWKS URL is down', async () => {
    const r = await chat(gw.url, 'demo-llm', bearer(await down.sign()));
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, 'PALISADE_UNAUTHENTICATED');
    assert.equal(lastReason(rec), 'jwks-unavailable');
  });

  it('fails closed when the JWKS URL answers with an error', async () => {
    flakyServer.status = 503;
    const r = await chat(gw.url, 'demo-llm', bearer(await flaky.sign()));
    assert.equal(r.status, 401);
    assert.equal(lastReason(rec), 'jwks-unavailable');
    assert.equal(flakyServer.hits.length, 1);
  });
});
