/**
 * A detector package replaced on disk by a corrupt one, then reloaded while requests
 * are in flight: the reload is refused (the digest or signature no longer verifies),
 * every request is answered as the old, verified package decides, and once a good
 * package is back a reload takes it.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { postJson, startGateway, type TestGateway } from '../helpers/gateway.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';
import { ATTACK, BENIGN, DEMO_PUBLIC_KEY, copyPackage, tempDir } from '../detect/helpers.js';

let llm: SpawnedServer;
let gw: TestGateway;
let tmp: ReturnType<typeof tempDir>;
let pkg: string;

const config = (llmUrl: string, pkgDir: string, threshold = '') => `
upstreams:
  llm: { protocol: openai, url: "${llmUrl}" }
models:
  - name: demo-llm
    upstream: llm
    detectors: [{ name: prompt-injection, roles: [user] }]
detectors:
  trustedKeys: [${JSON.stringify(DEMO_PUBLIC_KEY)}]
  packages:
    prompt-injection:
      path: ${JSON.stringify(pkgDir)}
      action: block
      budget: 10s
${threshold}`;

const chat = (content: string) => ({ model: 'demo-llm', messages: [{ role: 'user', content }] });

before(async () => {
  llm = await spawnServer('src/demo/llm-server.ts');
  tmp = tempDir();
  pkg = copyPackage(tmp.dir);
  gw = await startGateway(config(llm.url, pkg));
});
after(async () => {
  await gw?.stop();
  await llm?.stop();
  tmp?.cleanup();
});

/** Sends `n` requests, half attacks, while `during` runs; returns their statuses. */
async function underLoad(n: number, during: () => Promise<unknown>): Promise<{ attack: number[]; benign: number[] }> {
  const attack: Promise<number>[] = [];
  const benign: Promise<number>[] = [];
  for (let i = 0; i < n; i++) {
    (i % 2 ? attack : benign).push(postJson(`${gw.url}/v1/chat/completions`, chat(i % 2 ? ATTACK : BENIGN)).then((r) => r.status));
  }
  await during();
  return { attack: await Promise.all(attack), benign: await Promise.all(benign) };
}

for (const [what, corrupt] of [
  ['model.onnx overwritten with garbage', () => writeFileSync(join(pkg, 'model.onnx'), Buffer.alloc(4096, 0x5a))],
  ['model.onnx truncated', () => writeFileSync(join(pkg, 'model.onnx'), readFileSync(join(pkg, 'model.onnx')).subarray(0, 100))],
  ['manifest.json edited (threshold raised)', () => writeFileSync(join(pkg, 'manifest.json'), readFileSync(join(pkg, 'manifest.json'), 'utf8').replace('"threshold": 0.5', '"threshold": 0.99'))],
  ['manifest.jws emptied', () => writeFileSync(join(pkg, 'manifest.jws'), '')],
] as const) {
  test(`a package whose ${what} is refused at reload under load; the old package keeps deciding`, async () => {
    const good = new Map(['model.onnx', 'manifest.json', 'manifest.jws'].map((f) => [f, readFileSync(join(pkg, f))]));
    try {
      corrupt();
      // A threshold change in the config makes the reload rebuild the detector from disk.
      writeFileSync(gw.file, config(llm.url, pkg, '      threshold: 0.55'));
      let reload: Awaited<ReturnType<typeof gw.gw.reload>> | undefined;
      const r = await underLoad(20, async () => (reload = await gw.gw.reload()));
      assert.equal(reload?.ok, false, 'the reload was refused');
      assert.deepEqual([...new Set(r.attack)], [403], 'every attack blocked');
      assert.deepEqual([...new Set(r.benign)], [200], 'every benign request served');
    } finally {
      for (const [f, b] of good) writeFileSync(join(pkg, f), b);
      writeFileSync(gw.file, config(llm.url, pkg));
    }
    assert.deepEqual(await gw.gw.reload(), { ok: true }, 'the good package reloads');
    assert.equal((await postJson(`${gw.url}/v1/chat/completions`, chat(ATTACK))).status, 403);
  });
}
