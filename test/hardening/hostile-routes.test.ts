/**
 * Hostile request targets through raw sockets: dot segments (plain, percent-encoded,
 * double-encoded, overlong UTF-8), encoded slashes and backslashes, empty segments,
 * `;` parameters, case variants and trailing dots, on protocol routes and raw routes.
 * None may reach an upstream path or a model that the route table does not allow: the
 * demo upstream's /__stats shows the exact path that arrived, if any.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { errorCode, rawExchange } from '../helpers/raw-http.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';

let llm: SpawnedServer;
let gw: TestGateway;

before(async () => {
  llm = await spawnServer('src/demo/llm-server.ts');
  // Every upstream is the demo LLM server: it records the path whatever the protocol.
  gw = await startGateway(`
upstreams:
  llm: { protocol: openai, url: "${llm.url}" }
  kserve: { protocol: kserve-v2, url: "${llm.url}" }
  tf: { protocol: tfserving, url: "${llm.url}" }
  rawllm: { protocol: raw, url: "${llm.url}/v1" }
models:
  - { name: demo-llm, upstream: llm }
  - { name: tensor, upstream: kserve, upstreamModel: tensor-up }
  - { name: tfm, upstream: tf, upstreamModel: tf-up }
  - { name: r, upstream: rawllm, pathPrefix: /raw/r }
`);
});
after(async () => {
  await gw?.stop();
  await llm?.stop();
});

async function stats(): Promise<{ requests: number; lastPath?: string }> {
  return (await fetch(`${llm.url}/__stats`)).json() as Promise<{ requests: number; lastPath?: string }>;
}

const CHAT = JSON.stringify({ model: 'demo-llm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 });
const INFER = JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] });
const PREDICT = JSON.stringify({ instances: [[1]] });

/**
 * [method, target, upstream path that must arrive, or the gateway's refusal code].
 * Upstream paths are exact: a case passes only if that path, and nothing else, arrived.
 */
const cases: [string, string, string][] = [
  // OpenAI: exact paths only.
  ['POST', '/v1/chat/completions', '=/v1/chat/completions'],
  ['POST', '/v1/chat/completions?x=/../../admin', '=/v1/chat/completions'],
  ['POST', '/v1/chat/completions/', 'PALISADE_NOT_FOUND'],
  ['POST', '/v1//chat/completions', 'PALISADE_NOT_FOUND'],
  ['POST', '//v1/chat/completions', 'PALISADE_NOT_FOUND'],
  ['POST', '/v1/./chat/completions', 'PALISADE_NOT_FOUND'],
  ['POST', '/v1/x/../chat/completions', 'PALISADE_NOT_FOUND'],
  ['POST', '/v1/x/%2e%2e/chat/completions', 'PALISADE_NOT_FOUND'],
  ['POST', '/v1/chat/completions;x=1', 'PALISADE_NOT_FOUND'],
  ['POST', '/v1/chat/completions.', 'PALISADE_NOT_FOUND'],
  ['POST', '/v1/chat/completions%2f', 'PALISADE_NOT_FOUND'],
  ['POST', '/v1/chat/%63ompletions', 'PALISADE_NOT_FOUND'],
  ['POST', '/V1/CHAT/COMPLETIONS', 'PALISADE_NOT_FOUND'],
  ['POST', '/v1\\chat\\completions', 'PALISADE_NOT_FOUND'],
  ['GET', '/v1/models/demo-llm/../../admin', 'PALISADE_NOT_FOUND'],
  // KServe v2: the model in the path must be a configured name, spelled exactly.
  ['POST', '/v2/models/tensor/infer', '=/v2/models/tensor-up/infer'],
  ['POST', '/v2/models/tensor/versions/3/infer', '=/v2/models/tensor-up/versions/3/infer'],
  ['POST', '/v2/models/TENSOR/infer', 'PALISADE_UNKNOWN_MODEL'],
  ['POST', '/v2/models/tensor./infer', 'PALISADE_UNKNOWN_MODEL'],
  ['POST', '/v2/models/tensor%2e/infer', 'PALISADE_NOT_FOUND'],
  ['POST', '/v2/models/%2e%2e/infer', 'PALISADE_NOT_FOUND'],
  ['POST', '/v2/models/%252e%252e/infer', 'PALISADE_NOT_FOUND'],
  ['POST', '/v2/models/../infer', 'PALISADE_NOT_FOUND'],
  ['POST', '/v2/models/..%2ftensor/infer', 'PALISADE_NOT_FOUND'],
  ['POST', '/v2/models/tensor%2f..%2fother/infer', 'PALISADE_NOT_FOUND'],
  ['POST', '/v2/models/tensor/../tensor/infer', 'PALISADE_NOT_FOUND'],
  ['POST', '/v2/models/tensor/versions/../infer', 'PALISADE_NOT_FOUND'],
  ['POST', '/v2/models/tensor/versions/%2e%2e/infer', 'PALISADE_NOT_FOUND'],
  ['POST', '/v2/models/tensor;v=1/infer', 'PALISADE_NOT_FOUND'],
  ['POST', '/v2/models/tensor/infer;x=1', 'PALISADE_NOT_FOUND'],
  ['POST', '/v2/models/tensor//infer', 'PALISADE_NOT_FOUND'],
  ['POST', '/v2/models/tensor\\infer', 'PALISADE_NOT_FOUND'],
  ['POST', '/v2/models/demo-llm/infer', 'PALISADE_UNKNOWN_MODEL'],
  // TF Serving.
  ['POST', '/v1/models/tfm:predict', '=/v1/models/tf-up:predict'],
  ['POST', '/v1/models/tfm/versions/2:predict', '=/v1/models/tf-up/versions/2:predict'],
  ['POST', '/v1/models/tfm%3apredict', 'PALISADE_NOT_FOUND'],
  ['POST', '/v1/models/tfm/../tensor:predict', 'PALISADE_NOT_FOUND'],
  ['POST', '/v1/models/TFM:predict', 'PALISADE_UNKNOWN_MODEL'],
  ['POST', '/v1/models/tfm.:predict', 'PALISADE_UNKNOWN_MODEL'],
  ['POST', '/v1/models/tensor:predict', 'PALISADE_UNKNOWN_MODEL'],
  // Raw: anything under the prefix, as long as it cannot climb out of it.
  ['GET', '/raw/r/models', '=/v1/models'],
  ['GET', '/raw/r', '=/v1/'],
  ['GET', '/raw/r/models.', '=/v1/models.'],
  ['GET', '/raw/r/models?/../../x', '=/v1/models'],
  ['GET', '/raw/r/../chat/completions', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r/./models', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r/models/..', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r/%2e%2e/x', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r/%2E%2e/x', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r/.%2e/x', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r/%2e', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r/%252e%252e/x', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r/%25252e%25252e/x', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r/%c0%ae%c0%ae/x', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r/%e0%80%ae%e0%80%ae/x', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r/x%2f..%2f..%2fy', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r/x%5c..%5cy', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r\\..\\x', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r/..\\x', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r//models', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r/models;x=1', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r/%00', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r/%', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/R/models', 'PALISADE_NOT_FOUND'],
  ['GET', '/RAW/r/models', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/r./models', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/rx/models', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/%72/models', 'PALISADE_NOT_FOUND'],
  ['GET', '/raw/./r/models', 'PALISADE_NOT_FOUND'],
];

for (const [method, target, want] of cases) {
  test(`${method} ${target} → ${want.replace(/^=/, 'upstream ')}`, async () => {
    await fetch(`${llm.url}/__stats/reset`, { method: 'POST' });
    const body = method === 'GET' ? '' : target.startsWith('/v2/') ? INFER : target.startsWith('/v1/models/') ? PREDICT : CHAT;
    const r = await rawExchange(
      gw.url,
      `${method} ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    assert.ok(r.status !== undefined, 'an HTTP answer');
    const s = await stats();
    if (want.startsWith('=')) {
      assert.equal(errorCode(r), undefined, r.raw.slice(0, 300));
      assert.equal(s.requests, 1);
      assert.equal(s.lastPath, want.slice(1), 'exactly the path the route table builds');
    } else {
      assert.equal(errorCode(r), want, r.raw.slice(0, 300));
      assert.equal(s.requests, 0, `nothing reached the upstream (got ${s.lastPath})`);
    }
  });
}
