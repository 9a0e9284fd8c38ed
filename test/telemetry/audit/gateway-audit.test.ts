/**
 * The audit log of a real gateway in front of the demo LLM server (a separate process):
 * one record per decision, including denials and requests refused before the pipeline,
 * and config reloads.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadVerifyKey } from '../../../src/telemetry/audit/keys.js';
import { auditFixture } from './helpers.js';
import { verifyAuditFiles } from '../../../src/telemetry/audit/verify.js';
import { postJson, startGateway } from '../../helpers/gateway.js';
import { spawnServer, type SpawnedServer } from '../../helpers/spawn.js';

let llm: SpawnedServer;
before(async () => {
  llm = await spawnServer('src/demo/llm-server.ts');
});
after(() => llm.stop());

test('every decision has a record: allowed, denied, refused before the pipeline, upstream failure; reloads too', async () => {
  const config = (llmUrl: string) => `
upstreams:
  llm: { protocol: openai, url: "${llmUrl}" }
  dead: { protocol: openai, url: "http://127.0.0.1:1", retries: 0 }
models:
  - { name: demo-llm, upstream: llm, bodyLimit: 2kb }
  - { name: dead-llm, upstream: dead }
telemetry:
  audit: { dir: audit, signingKey: audit.pem }
`;
  const keys = await auditFixture();
  const gw = await startGateway(config(llm.url), { files: { 'audit.pem': readFileSync(keys.keyFile) } });
  const auditDir = join(gw.dir, 'audit');
  try {
    const chat = (content: string, extra: object = {}) => ({ model: 'demo-llm', messages: [{ role: 'user', content }], ...extra });
    const ok = await postJson(`${gw.url}/v1/chat/completions`, chat('hello'), { 'x-request-id': 'ok-1' });
    assert.equal(ok.status, 200);
    const streamed = await postJson(`${gw.url}/v1/chat/completions`, chat('hello', { stream: true }), { 'x-request-id': 'stream-1' });
    assert.equal(streamed.status, 200);
    const bad = await postJson(`${gw.url}/v1/chat/completions`, { model: 'demo-llm', messages: 7 }, { 'x-request-id': 'parse-1' });
    assert.equal(bad.status, 400);
    const unknown = await postJson(`${gw.url}/v1/chat/completions`, chat('x', { model: 'nope' }), { 'x-request-id': 'unknown-1' });
    assert.equal(unknown.status, 404);
    const big = await postJson(`${gw.url}/v1/chat/completions`, chat('x'.repeat(4096)), { 'x-request-id': 'big-1' });
    assert.equal(big.status, 413);
    const dead = await postJson(`${gw.url}/v1/chat/completions`, chat('x', { model: 'dead-llm' }), { 'x-request-id': 'dead-1' });
    assert.equal(dead.status, 502);
    writeFileSync(gw.file, 'models: []\n');
    assert.equal((await gw.gw.reload()).ok, false);

    await gw.gw.stop(2000); // closes the log; the files stay until gw.stop()
    const files = readdirSync(auditDir).sort().map((f) => join(auditDir, f));
    const v = await verifyAuditFiles(files, { key: await loadVerifyKey(keys.pubFile) });
    assert.equal(v.ok, true, v.problem?.message);
    assert.equal(v.tail.state, 'closed');
    const recs = files.flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean)).map((l) => JSON.parse(l));
    const byId = (id: string) => recs.find((r) => r.id === id);

    assert.deepEqual(pick(byId('ok-1'), ['decision', 'status', 'model', 'route', 'protocol', 'upstream']), {
      decision: 'allow', status: 200, model: 'demo-llm', route: 'chat', protocol: 'openai', upstream: { name: 'llm', status: 200 },
    });
    assert.equal(byId('ok-1').client, '127.0.0.1');
    assert.match(byId('ok-1').trace, /^[0-9a-f]{32}$/);
    assert.equal(byId('ok-1').prompt.bytes, 5);
    assert.equal(typeof byId('stream-1').firstByteMs, 'number');
    assert.deepEqual(pick(byId('parse-1'), ['decision', 'status', 'code', 'stage', 'upstream']), {
      decision: 'deny', status: 400, code: 'PALISADE_BAD_REQUEST', stage: 'parse', upstream: undefined,
    });
    assert.deepEqual(pick(byId('unknown-1'), ['decision', 'status', 'code', 'path', 'method']), {
      decision: 'reject', status: 404, code: 'PALISADE_UNKNOWN_MODEL', path: '/v1/chat/completions', method: 'POST',
    });
    assert.equal(byId('big-1').code, 'PALISADE_BODY_TOO_LARGE');
    assert.deepEqual(pick(byId('dead-1'), ['decision', 'status', 'code', 'upstream']), {
      decision: 'allow', status: 502, code: 'PALISADE_UPSTREAM_UNAVAILABLE', upstream: { name: 'dead' },
    });
    const reload = recs.find((r) => r.type === 'config');
    assert.equal(reload.result, 'refused');
    assert.ok(reload.problems.length > 0);
  } finally {
    await gw.stop();
    keys.cleanup();
  }
});

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, o?.[k]]));
}

test('token exchange: an issued token and a refusal each have a record (without the token)', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { hashApiKey } = await import('../../../src/auth/api-keys.js');
  const { writeKeyPair } = await import('../../../src/auth/signing-keys.js');
  const { TOKEN_TYPE_API_KEY } = await import('../../../src/auth/token-exchange.js');
  const KEY = 'psk_audit-token-test-key-000000000000000000000000000000000';
  const keyDir = mkdtempSync(join(tmpdir(), 'palisade-keys-'));
  await writeKeyPair(keyDir, { kid: 'gw-1' });
  const keys = await auditFixture();
  const gw = await startGateway(
    `
upstreams:
  llm: { protocol: openai, url: "${llm.url}" }
models:
  - { name: demo-llm, upstream: llm }
auth:
  apiKeys: { keys: [{ id: svc, tenant: acme, hash: ${hashApiKey(KEY)}, scopes: [chat, embeddings] }] }
  policy: { low: { maxRisk: 1 } }
  tokenExchange:
    issuer: https://palisade.test
    keys: [${keyDir}/gw-1.private.jwk.json]
telemetry:
  audit: { dir: audit, signingKey: audit.pem }
`,
    { files: { 'audit.pem': readFileSync(keys.keyFile) } },
  );
  const auditDir = join(gw.dir, 'audit');
  try {
    const exchange = (params: Record<string, string>, id: string) =>
      fetch(`${gw.url}/palisade/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': id },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token_type: TOKEN_TYPE_API_KEY, ...params }).toString(),
      }).then(async (r) => ({ status: r.status, json: (await r.json()) as { access_token?: string } }));
    const ok = await exchange({ subject_token: KEY, audience: 'demo-llm', scope: 'chat' }, 'tok-ok');
    assert.equal(ok.status, 200);
    const wrongKey = await exchange({ subject_token: 'psk_not-a-key-0000000000000000000000000000000000000000', audience: 'demo-llm' }, 'tok-401');
    assert.equal(wrongKey.status, 401);
    const scope = await exchange({ subject_token: KEY, audience: 'demo-llm', scope: 'admin' }, 'tok-403');
    assert.equal(scope.status, 403);

    await gw.gw.stop(2000);
    const files = readdirSync(auditDir).sort().map((f) => join(auditDir, f));
    const v = await verifyAuditFiles(files, { key: await loadVerifyKey(keys.pubFile) });
    assert.equal(v.ok, true, v.problem?.message);
    const text = files.map((f) => readFileSync(f, 'utf8')).join('');
    assert.ok(!text.includes(ok.json.access_token!), 'the issued token is not in the log');
    assert.ok(!text.includes(KEY), 'the subject credential is not in the log');
    const recs = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const byId = (id: string) => recs.find((r) => r.id === id);
    const issued = byId('tok-ok');
    const [, payload] = ok.json.access_token!.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    assert.deepEqual(pick(issued, ['type', 'decision', 'status', 'principal', 'tenant', 'model', 'scope', 'jti', 'client']), {
      type: 'token', decision: 'issue', status: 200, principal: claims.sub, tenant: 'acme', model: 'demo-llm', scope: 'chat', jti: claims.jti, client: '127.0.0.1',
    });
    assert.equal(typeof issued.expiresIn, 'number');
    assert.deepEqual(pick(byId('tok-401'), ['type', 'decision', 'status', 'code', 'reason', 'principal']), {
      type: 'token', decision: 'refuse', status: 401, code: 'PALISADE_UNAUTHENTICATED', reason: 'api-key-invalid', principal: undefined,
    });
    assert.deepEqual(pick(byId('tok-403'), ['type', 'decision', 'status', 'code', 'reason', 'principal', 'model']), {
      type: 'token', decision: 'refuse', status: 403, code: 'PALISADE_FORBIDDEN', reason: 'scope', principal: claims.sub, model: 'demo-llm',
    });
  } finally {
    await gw.stop();
    rmSync(keyDir, { recursive: true, force: true });
  }
});
