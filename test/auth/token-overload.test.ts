/**
 * The token endpoint and the JWKS are behind the same overload protection as inference:
 * past maxInFlight with no room in the queue they answer 503 PALISADE_OVERLOADED with
 * Retry-After, and serve again once a slot frees.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hashApiKey } from '../../src/auth/api-keys.js';
import { writeKeyPair } from '../../src/auth/signing-keys.js';
import { TOKEN_TYPE_API_KEY } from '../../src/auth/token-exchange.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { errorCode, rawExchange } from '../helpers/raw-http.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';
import { exchange } from './helpers.js';

const KEY = 'psk_overload-test-key-00000000000000000000000000000000000';
let llm: SpawnedServer;
let gw: TestGateway;
let keyDir: string;

before(async () => {
  llm = await spawnServer('src/demo/llm-server.ts');
  keyDir = mkdtempSync(join(tmpdir(), 'palisade-keys-'));
  await writeKeyPair(keyDir, { kid: 'gw-1' });
  gw = await startGateway(`
server:
  overload: { maxInFlight: 1, maxQueued: 0, retryAfter: 3s, maxEventLoopDelay: 0 }
upstreams:
  llm: { protocol: openai, url: ${llm.url} }
models:
  - { name: demo-llm, upstream: llm }
auth:
  apiKeys: { keys: [{ id: svc, hash: ${hashApiKey(KEY)}, scopes: [chat] }] }
  policy: { low: { maxRisk: 1 } }
  tokenExchange:
    issuer: https://palisade.test
    keys: [${keyDir}/gw-1.private.jwk.json]
`);
});

after(async () => {
  await gw?.stop();
  await llm?.stop();
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
});

const slowChat = () =>
  rawExchange(
    gw.url,
    `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer ${KEY}\r\nx-demo-fault: slow-headers:1500\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n${BODY}`,
  );
const BODY = JSON.stringify({ model: 'demo-llm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
const tokenRequest = () => exchange(gw.url, { subject_token: KEY, subject_token_type: TOKEN_TYPE_API_KEY, audience: 'demo-llm' });

test('token exchange and JWKS past maxInFlight: 503 PALISADE_OVERLOADED with Retry-After, then served again', { timeout: 30_000 }, async () => {
  // Served while there is room.
  const ok = await tokenRequest();
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  assert.equal((await fetch(`${gw.url}/.well-known/jwks.json`)).status, 200);

  // One slow inference call takes the only slot.
  const slow = slowChat();
  for (let i = 0; i < 400 && gw.gw.admission.inFlight < 1; i++) await sleep(5);
  assert.equal(gw.gw.admission.inFlight, 1);

  const shedToken = await tokenRequest();
  assert.equal(shedToken.status, 503);
  assert.equal(shedToken.json.error.code, 'PALISADE_OVERLOADED');
  assert.equal(shedToken.headers.get('retry-after'), '3');

  const shedJwks = await rawExchange(gw.url, 'GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(shedJwks.status, 503);
  assert.equal(errorCode(shedJwks), 'PALISADE_OVERLOADED');
  assert.equal(shedJwks.headers['retry-after'], '3');

  assert.equal((await slow).status, 200);
  for (let i = 0; i < 400 && gw.gw.admission.inFlight > 0; i++) await sleep(5);
  assert.equal((await tokenRequest()).status, 200);
  assert.equal((await fetch(`${gw.url}/.well-known/jwks.json`)).status, 200);
});
