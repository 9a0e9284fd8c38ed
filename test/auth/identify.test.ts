/**
 * The identify stage end to end: a real gateway in front of the demo LLM server (its own
 * process), and every attack on a credential of issue 3. Each attack must end in 401
 * PALISADE_UNAUTHENTICATED with a Bearer challenge, its reason in the audit note and
 * nowhere in the response, and nothing forwarded upstream. A valid credential of the same
 * shape passes first, so each refusal is the defense's doing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { CompactSign, generateKeyPair, UnsecuredJWT } from 'jose';
import { hashApiKey } from '../../src/auth/api-keys.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';
import { bearer, chat, lastReason, makeIdp, recorder, upstreamRequests, type Idp, type Recorded } from './helpers.js';

const API_KEY = 'psk_service-account-key-0123456789abcdefghijklmnopqrstuv';
const FILE_KEY = 'psk_key-from-a-file-0123456789abcdefghijklmnopqrstuvwxyz';

describe('identify: credential attacks end to end', () => {
  let llm: SpawnedServer;
  let gw: TestGateway;
  let idp: Idp;
  let other: Idp;
  let rec: Recorded[];

  before(async () => {
    llm = await spawnServer('src/demo/llm-server.ts');
    idp = await makeIdp('idp-1', 'https://idp.test');
    other = await makeIdp('other-1', 'https://other.test');
    gw = await startGateway(
      `
upstreams:
  llm: { protocol: openai, url: ${llm.url} }
models:
  - { name: demo-llm, upstream: llm }
auth:
  issuers:
    - { name: idp, issuer: https://idp.test, audience: palisade-api, jwks: { file: idp.jwks.json } }
    - { name: other, issuer: https://other.test, audience: palisade-api, jwks: { file: other.jwks.json } }
  apiKeys:
    keys:
      - { id: batch-svc, hash: ${hashApiKey(API_KEY)}, tenant: acme, scopes: [chat] }
    file: keys.yaml
`,
      {
        files: {
          'idp.jwks.json': idp.jwks,
          'other.jwks.json': other.jwks,
          'keys.yaml': `- { id: file-svc, hash: "${hashApiKey(FILE_KEY)}" }\n`,
        },
      },
    );
    rec = recorder(gw.gw);
  });

  after(async () => {
    await gw?.stop();
    await llm?.stop();
  });

  /** Sends the request and checks the whole refusal; returns nothing, throws on any difference. */
  async function refused(headers: Record<string, string>, reason: string): Promise<void> {
    const before = await upstreamRequests(llm.url);
    const r = await chat(gw.url, 'demo-llm', headers);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.error.code, 'PALISADE_UNAUTHENTICATED');
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm="palisade"/);
    assert.ok(!r.text.includes(reason), 'the reason must not reach the client');
    assert.equal(lastReason(rec), reason);
    assert.equal(rec.at(-1)!.notes[0].kind, 'auth-failure');
    assert.equal(await upstreamRequests(llm.url), before, 'nothing may be forwarded');
  }

  it('accepts a valid token of each issuer (the control)', async () => {
    for (const i of [idp, other]) {
      const r = await chat(gw.url, 'demo-llm', bearer(await i.sign()));
      assert.equal(r.status, 200, r.text);
    }
    assert.equal(rec.at(-1)!.principal, 'other:alice', 'subjects are namespaced per issuer');
  });

  it('refuses alg none', async () => {
    const now = Math.floor(Date.now() / 1000);
    const t = new UnsecuredJWT({ iss: idp.iss, aud: 'palisade-api', sub: 'alice', iat: now, exp: now + 600 }).encode();
    await refused(bearer(t), 'alg-not-allowed');
  });

  it('refuses HS256 signed with the issuer public key as the secret (algorithm confusion)', async () => {
    const pem = createPublicKey({ key: idp.publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const t = await idp.sign({}, { alg: 'HS256' }, new TextEncoder().encode(pem as string));
    await refused(bearer(t), 'alg-not-allowed');
  });

  it('refuses an unknown kid', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    await refused(bearer(await idp.sign({}, { kid: 'not-a-key-of-ours' }, privateKey)), 'unknown-kid');
  });

  it('refuses a token signed by another key under a known kid', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    await refused(bearer(await idp.sign({}, {}, privateKey)), 'bad-signature');
  });

  it('refuses an unknown crit header', async () => {
    // The signer must be told it understands the extension, or jose refuses to sign.
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: idp.iss, aud: 'palisade-api', sub: 'alice', iat: now, exp: now + 600 };
    const t = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: 'ES256', kid: idp.kid, crit: ['urn:example:must-understand'], 'urn:example:must-understand': true } as never)
      .sign(idp.privateKey, { crit: { 'urn:example:must-understand': true } });
    await refused(bearer(t), 'unknown-crit');
  });

  it('refuses an expired token (beyond the clock tolerance)', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(bearer(await idp.sign({ iat: now - 600, exp: now - 60 })), 'expired');
  });

  it('refuses a token whose nbf is in the future', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(bearer(await idp.sign({ nbf: now + 300 })), 'not-yet-valid');
  });

  it('refuses an untrusted iss', async () => {
    await refused(bearer(await idp.sign({ iss: 'https://evil.test' })), 'unknown-issuer');
  });

  it("refuses a token that names one trusted issuer but is signed with another's key", async () => {
    await refused(bearer(await idp.sign({ iss: other.iss })), 'unknown-kid');
  });

  it('refuses a wrong aud', async () => {
    await refused(bearer(await idp.sign({ aud: 'some-other-api' })), 'wrong-audience');
  });

  it('refuses a tampered payload', async () => {
    const [h, , s] = (await idp.sign({ scope: 'chat' })).split('.');
    const forged = Buffer.from(JSON.stringify({ iss: idp.iss, aud: 'palisade-api', sub: 'admin', exp: 4102444800, scope: 'chat admin' })).toString('base64url');
    await refused(bearer(`${h}.${forged}.${s}`), 'bad-signature');
  });

  it('refuses an oversized token before parsing it', async () => {
    const t = await idp.sign({ pad: 'x'.repeat(9000) });
    await refused(bearer(t), 'too-large');
  });

  it('refuses a token without exp', async () => {
    await refused(bearer(await idp.sign({ exp: undefined })), 'missing-claim');
  });

  it('refuses a cached token once it is revoked, by jti and by principal', async () => {
    const jti = 'token-to-revoke';
    const t = await idp.sign({ jti });
    assert.equal((await chat(gw.url, 'demo-llm', bearer(t))).status, 200);
    assert.equal((await chat(gw.url, 'demo-llm', bearer(t))).status, 200);
    assert.ok(gw.gw.current.auth!.cache.size > 0, 'the token is served from the cache');
    const rv = await fetch(`${gw.adminUrl}/admin/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jti }) });
    assert.equal(rv.status, 200);
    await refused(bearer(t), 'revoked');

    const t2 = await idp.sign({ sub: 'mallory' });
    assert.equal((await chat(gw.url, 'demo-llm', bearer(t2))).status, 200);
    await fetch(`${gw.adminUrl}/admin/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ principal: 'idp:mallory' }) });
    await refused(bearer(t2), 'revoked');
    await refused(bearer(await idp.sign({ sub: 'mallory', jti: 'a-fresh-one' })), 'revoked');
    await fetch(`${gw.adminUrl}/admin/unrevoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ principal: 'idp:mallory' }) });
    assert.equal((await chat(gw.url, 'demo-llm', bearer(t2))).status, 200);
  });

  it('accepts an API key in its header and as a bearer, inline and from the file', async () => {
    assert.equal((await chat(gw.url, 'demo-llm', { 'x-api-key': API_KEY })).status, 200);
    assert.equal(rec.at(-1)!.principal, 'batch-svc');
    assert.equal((await chat(gw.url, 'demo-llm', bearer(API_KEY))).status, 200);
    assert.equal((await chat(gw.url, 'demo-llm', { 'x-api-key': FILE_KEY })).status, 200);
    assert.equal(rec.at(-1)!.principal, 'file-svc');
    const stats = (await (await fetch(`${llm.url}/__stats`)).json()) as { lastHeaders: Record<string, unknown> };
    assert.equal(stats.lastHeaders['x-api-key'], undefined, 'the key is never forwarded');
  });

  it('refuses an API key off by one byte (last, first, and one byte longer)', async () => {
    const last = API_KEY.slice(0, -1) + (API_KEY.endsWith('v') ? 'w' : 'v');
    await refused({ 'x-api-key': last }, 'api-key-invalid');
    await refused({ 'x-api-key': 'q' + API_KEY.slice(1) }, 'api-key-invalid');
    await refused(bearer(API_KEY + 'a'), 'api-key-invalid');
  });

  it('refuses two credentials at once and non-Bearer schemes', async () => {
    await refused({ ...bearer(await idp.sign()), 'x-api-key': API_KEY }, 'ambiguous-credentials');
    await refused({ authorization: `Basic ${Buffer.from('alice:pw').toString('base64')}` }, 'unsupported-scheme');
  });

  it('answers a request without credentials with 401 at authorize (no anonymous access by default)', async () => {
    const r = await chat(gw.url, 'demo-llm');
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, 'PALISADE_UNAUTHENTICATED');
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="palisade"');
    assert.equal(lastReason(rec), 'anonymous');
  });
});
