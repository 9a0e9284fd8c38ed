/**
 * /metrics on the admin listener of a real gateway in front of the demo LLM server (a
 * separate process) and of a dead upstream that trips its circuit breaker.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startGateway, postJson, type TestGateway } from '../helpers/gateway.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';
import { parseMetrics, sample, type Sample } from './prom.js';

function config(llm: string, extra = ''): string {
  return `
upstreams:
  llm: { protocol: openai, url: "${llm}" }
  dead:
    protocol: openai
    url: http://127.0.0.1:1
    retries: 0
    circuitBreaker: { failureThreshold: 1, cooldown: 1h }
models:
  - { name: demo-llm, upstream: llm }
  - { name: dead-llm, upstream: dead }
${extra}`;
}

async function scrape(gw: TestGateway): Promise<{ contentType: string | null; samples: Sample[]; text: string }> {
  const r = await fetch(`${gw.adminUrl}/metrics`);
  assert.equal(r.status, 200);
  const text = await r.text();
  return { contentType: r.headers.get('content-type'), samples: parseMetrics(text), text };
}

describe('GET /metrics', () => {
  let llm: SpawnedServer;
  before(async () => {
    llm = await spawnServer('src/demo/llm-server.ts');
  });
  after(() => llm.stop());

  test('requests, stages, upstreams, breakers, GenAI, rejections and reloads', async () => {
    const gw = await startGateway(config(llm.url));
    try {
      const chat = { model: 'demo-llm', messages: [{ role: 'user', content: 'hi' }] };
      assert.equal((await postJson(`${gw.url}/v1/chat/completions`, chat)).status, 200);
      const streamed = await postJson(`${gw.url}/v1/chat/completions`, { ...chat, stream: true });
      assert.equal(streamed.status, 200);
      assert.match(streamed.text, /data: \[DONE\]/);
      assert.equal((await postJson(`${gw.url}/v1/chat/completions`, { ...chat, model: 'nope' })).status, 404);
      assert.equal((await postJson(`${gw.url}/v1/chat/completions`, { ...chat, model: 'dead-llm' })).status, 502);
      assert.equal((await postJson(`${gw.url}/v1/chat/completions`, { ...chat, model: 'dead-llm' })).status, 503);

      const { contentType, samples: m } = await scrape(gw);
      assert.match(contentType ?? '', /^text\/plain; version=0\.0\.4/);
      assert.equal(sample(m, 'palisade_requests_total', { model: 'demo-llm', route: 'chat', status: '200', decision: 'allow' }), 2);
      assert.equal(sample(m, 'palisade_requests_total', { model: '', route: '', status: '404', decision: 'reject' }), 1);
      assert.equal(sample(m, 'palisade_requests_total', { model: 'dead-llm', status: '502' }), 1);
      assert.equal(sample(m, 'palisade_request_duration_seconds_count', { model: 'demo-llm' }), 2);
      assert.equal(sample(m, 'palisade_stage_duration_seconds_count', { stage: 'parse', side: 'request' }), 4);
      assert.equal(sample(m, 'palisade_upstream_duration_seconds_count', { upstream: 'llm', status: '200' }), 2);
      assert.equal(sample(m, 'palisade_upstream_errors_total', { upstream: 'dead', code: 'PALISADE_UPSTREAM_UNAVAILABLE' }), 1);
      assert.equal(sample(m, 'palisade_upstream_errors_total', { upstream: 'dead', code: 'PALISADE_CIRCUIT_OPEN' }), 1);
      assert.equal(sample(m, 'palisade_circuit_breaker_state', { upstream: 'dead', state: 'open' }), 1);
      assert.equal(sample(m, 'palisade_circuit_breaker_state', { upstream: 'dead', state: 'closed' }), 0);
      assert.equal(sample(m, 'palisade_circuit_breaker_state', { upstream: 'llm', state: 'closed' }), 1);
      assert.equal(sample(m, 'palisade_circuit_breaker_transitions_total', { upstream: 'dead', state: 'open' }), 1);
      assert.equal(sample(m, 'gen_ai_server_request_duration_count', { gen_ai_operation_name: 'chat', gen_ai_request_model: 'demo-llm', error_type: '' }), 2);
      assert.equal(sample(m, 'gen_ai_server_time_to_first_token_count', { gen_ai_operation_name: 'chat', gen_ai_request_model: 'demo-llm' }), 1);
      assert.equal(sample(m, 'palisade_requests_in_flight', {}), 0);
      assert.equal(sample(m, 'palisade_state_store_fallback', {}), 0);
      assert.ok(sample(m, 'process_resident_memory_bytes', {})! > 0);

      // A refused reload counts as a failure and keeps the breaker series; a good one
      // rebuilds the upstreams (their breakers start closed).
      writeFileSync(gw.file, 'upstreams: {}\nmodels: []\n');
      assert.equal((await gw.gw.reload()).ok, false);
      writeFileSync(gw.file, config(llm.url));
      assert.equal((await gw.gw.reload()).ok, true);
      const { samples: after } = await scrape(gw);
      assert.equal(sample(after, 'palisade_config_reloads_total', { result: 'failure' }), 1);
      assert.equal(sample(after, 'palisade_config_reloads_total', { result: 'success' }), 1);
      assert.equal(sample(after, 'palisade_circuit_breaker_state', { upstream: 'dead', state: 'closed' }), 1);
    } finally {
      await gw.stop();
    }
  });

  test('the state store fallback gauge follows the event', async () => {
    const gw = await startGateway(config(llm.url));
    try {
      gw.gw.services.events?.onStateFallback?.(true);
      assert.equal(sample((await scrape(gw)).samples, 'palisade_state_store_fallback', {}), 1);
      gw.gw.services.events?.onStateFallback?.(false);
      assert.equal(sample((await scrape(gw)).samples, 'palisade_state_store_fallback', {}), 0);
    } finally {
      await gw.stop();
    }
  });

  test('metrics can be turned off', async () => {
    const gw = await startGateway(config(llm.url, 'telemetry:\n  metrics: { enabled: false }\n'));
    try {
      assert.equal((await fetch(`${gw.adminUrl}/metrics`)).status, 404);
      assert.equal((await postJson(`${gw.url}/v1/chat/completions`, { model: 'demo-llm', messages: [{ role: 'user', content: 'hi' }] })).status, 200);
    } finally {
      await gw.stop();
    }
  });
});
