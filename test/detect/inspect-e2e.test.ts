import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { postJson, startGateway } from '../helpers/gateway.js';
import { spawnServer } from '../helpers/spawn.js';
import { ATTACK, BENIGN, DEMO_PUBLIC_KEY, PACKAGE_DIR } from './helpers.js';

const config = (llmUrl: string, extra = '') => `
upstreams:
  llm: { protocol: openai, url: "${llmUrl}" }
models:
  - name: demo-llm
    upstream: llm
    detectors: [{ name: prompt-injection, roles: [user, tool] }]
detectors:
  trustedKeys: [${JSON.stringify(DEMO_PUBLIC_KEY)}]
  packages:
    prompt-injection:
      path: ${JSON.stringify(PACKAGE_DIR)}
      action: block
      budget: 10s
${extra}`;

const chat = (content: string) => ({ model: 'demo-llm', messages: [{ role: 'user', content }] });

test('a blocked request never reaches the upstream; a benign one does', async () => {
  const llm = await spawnServer('src/demo/llm-server.ts');
  const gw = await startGateway(config(llm.url));
  try {
    const blocked = await postJson(`${gw.url}/v1/chat/completions`, chat(ATTACK));
    assert.equal(blocked.status, 403);
    assert.equal(blocked.json.error.code, 'PALISADE_INPUT_REJECTED');
    assert.match(blocked.json.error.message, /prompt-injection/);
    assert.doesNotMatch(blocked.text, /score|0\.\d{3}/);
    const stats1 = (await (await fetch(`${llm.url}/__stats`)).json()) as { requests: number };
    assert.equal(stats1.requests, 0);

    const ok = await postJson(`${gw.url}/v1/chat/completions`, chat(BENIGN));
    assert.equal(ok.status, 200);
    const stats2 = (await (await fetch(`${llm.url}/__stats`)).json()) as { requests: number };
    assert.equal(stats2.requests, 1);
  } finally {
    await gw.stop();
    await llm.stop();
  }
});

test('a reload with the package unchanged reuses its ONNX session', async () => {
  const llm = await spawnServer('src/demo/llm-server.ts');
  const gw = await startGateway(config(llm.url));
  try {
    const sessions = gw.gw.services.detectors!;
    assert.equal(sessions.created, 1);
    writeFileSync(gw.file, config(llm.url, '      threshold: 0.6'));
    assert.deepEqual(await gw.gw.reload(), { ok: true });
    assert.equal(sessions.created, 1, 'no new session for an unchanged package');
    const blocked = await postJson(`${gw.url}/v1/chat/completions`, chat(ATTACK));
    assert.equal(blocked.status, 403);
  } finally {
    await gw.stop();
    await llm.stop();
  }
});

test('a config whose package does not verify does not start, and a reload to it keeps the old config', async () => {
  const llm = await spawnServer('src/demo/llm-server.ts');
  const bad = config(llm.url).replace(JSON.stringify(DEMO_PUBLIC_KEY), 'other.pub.jwk');
  const other = JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: 'AmAcT9DQd8jC8x7u6R7Xh0c1tq0R2aXQKkDq7mZbYqE', kid: 'other' });
  await assert.rejects(startGateway(bad, { files: { 'other.pub.jwk': other } }), /signed by key "palisade-demo-[^"]+", which is not among the trusted keys \(other\)/);
  const gw = await startGateway(config(llm.url), { files: { 'other.pub.jwk': other } });
  try {
    writeFileSync(gw.file, bad);
    const r = await gw.gw.reload();
    assert.equal(r.ok, false);
    const blocked = await postJson(`${gw.url}/v1/chat/completions`, chat(ATTACK));
    assert.equal(blocked.status, 403, 'the old config still inspects');
  } finally {
    await gw.stop();
    await llm.stop();
  }
});
