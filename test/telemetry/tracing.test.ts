/**
 * Traces end to end: a real gateway exports by OTLP/HTTP to a real receiver that decodes
 * the JSON it is sent; the demo LLM server (a separate process) reports the traceparent
 * it received.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startGateway, postJson, type TestGateway } from '../helpers/gateway.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const CLIENT_TRACEPARENT = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0([01])$/;

function config(llm: string, tracing: string): string {
  return `
upstreams:
  llm: { protocol: openai, url: "${llm}" }
models:
  - { name: demo-llm, upstream: llm }
telemetry:
  tracing:
${tracing}
`;
}

const chat = { model: 'demo-llm', messages: [{ role: 'user', content: 'hello there' }] };

async function upstreamHeaders(llm: SpawnedServer): Promise<Record<string, string>> {
  const stats = (await (await fetch(`${llm.url}/__stats`)).json()) as { lastHeaders: Record<string, string> };
  return stats.lastHeaders;
}

describe('OTLP/HTTP export and W3C trace context', () => {
  let llm: SpawnedServer;
  let otlp: OtlpReceiver;
  before(async () => {
    [llm, otlp] = await Promise.all([spawnServer('src/demo/llm-server.ts'), startOtlpReceiver()]);
  });
  after(async () => {
    await Promise.all([llm.stop(), otlp.close()]);
  });

  test('a trusted client trace is continued: request span, a child per stage, the upstream span, all linked', async () => {
    const gw = await startGateway(
      config(
        llm.url,
        `    enabled: true
    endpoint: ${otlp.url}
    headers: { x-collector-token: t0ken }
    trustTraceparentFrom: [127.0.0.1]`,
      ),
    );
    try {
      const r = await postJson(`${gw.url}/v1/chat/completions`, chat, { traceparent: CLIENT_TRACEPARENT, tracestate: 'vendor=1' });
      assert.equal(r.status, 200);
      const sent = (await upstreamHeaders(llm)).traceparent;
      await gw.gw.telemetry.flush();
      const spans = await otlp.waitForTrace(CLIENT_TRACE, 3);
      const server = spans.find((s) => s.kind === 2)!;
      const stage = spans.find((s) => s.name === 'parse')!;
      const client = spans.find((s) => s.kind === 3)!;
      assert.ok(server && stage && client, spans.map((s) => `${s.kind}:${s.name}`).join(', '));
      assert.equal(server.parentSpanId, CLIENT_SPAN, 'continues the client span');
      assert.equal(stage.parentSpanId, server.spanId);
      assert.equal(client.parentSpanId, server.spanId);
      assert.equal(sent, `00-${CLIENT_TRACE}-${client.spanId}-01`, 'the upstream is a child of the upstream span');
      assert.equal(server.name, 'POST /v1/chat/completions');
      assert.equal(server.attributes['http.request.method'], 'POST');
      assert.equal(server.attributes['http.route'], '/v1/chat/completions');
      assert.equal(server.attributes['http.response.status_code'], 200);
      assert.equal(server.attributes['gen_ai.request.model'], 'demo-llm');
      assert.equal(server.attributes['palisade.decision'], 'allow');
      assert.equal(server.attributes['palisade.request_id'], r.headers.get('x-request-id'));
      assert.equal(client.attributes['http.response.status_code'], 200);
      assert.equal(client.attributes['palisade.upstream'], 'llm');
      assert.equal(server.resource['service.name'], 'palisade');
      assert.ok(otlp.exports.every((e) => e.headers['x-collector-token'] === 't0ken'), 'configured export headers are sent');
      const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
      assert.match(metrics, /palisade_trace_spans_exported_total\{result="success"\} [1-9]/);
    } finally {
      await gw.stop();
    }
  });

  test('an untrusted client trace is not continued; the upstream gets the gateway trace, not the client tracestate', async () => {
    const gw = await startGateway(
      config(
        llm.url,
        `    enabled: true
    endpoint: ${otlp.url}
    trustTraceparentFrom: [10.0.0.0/8]`,
      ),
    );
    try {
      const r = await postJson(`${gw.url}/v1/chat/completions`, chat, {
        traceparent: CLIENT_TRACEPARENT,
        tracestate: 'vendor=1',
      });
      assert.equal(r.status, 200);
      const h = await upstreamHeaders(llm);
      const m = TRACEPARENT.exec(h.traceparent);
      assert.ok(m, h.traceparent);
      assert.notEqual(m[1], CLIENT_TRACE);
      assert.equal(h.tracestate, undefined);
      await gw.gw.telemetry.flush();
      const spans = await otlp.waitForTrace(m[1], 3);
      const server = spans.find((s) => s.kind === 2)!;
      assert.equal(server.parentSpanId, undefined, 'a new root');
      assert.equal(spans.find((s) => s.kind === 3)!.spanId, m[2]);
    } finally {
      await gw.stop();
    }
  });

  test('a parse denial is exported with its code and the stage that denied', async () => {
    const gw = await startGateway(config(llm.url, `    enabled: true\n    endpoint: ${otlp.url}\n    trustTraceparentFrom: [127.0.0.1]`));
    try {
      const trace = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
      const r = await postJson(`${gw.url}/v1/chat/completions`, { model: 'demo-llm', messages: 'not a list' }, { traceparent: `00-${trace}-${CLIENT_SPAN}-01` });
      assert.equal(r.status, 400);
      await gw.gw.telemetry.flush();
      const spans = await otlp.waitForTrace(trace, 2);
      const server = spans.find((s) => s.kind === 2)!;
      assert.equal(server.attributes['palisade.decision'], 'deny');
      assert.equal(server.attributes['palisade.denied_by'], 'parse');
      assert.equal(server.attributes['palisade.error_code'], r.json.error.code);
      assert.equal(spans.find((s) => s.name === 'parse')!.attributes['palisade.decision'], 'deny');
      assert.equal(spans.find((s) => s.kind === 3), undefined, 'not forwarded');
    } finally {
      await gw.stop();
    }
  });

  test('sampling ratio 0 exports nothing, yet the upstream still gets a traceparent (unsampled)', async () => {
    const gw = await startGateway(config(llm.url, `    enabled: true\n    endpoint: ${otlp.url}\n    samplingRatio: 0`));
    try {
      const before = otlp.spans.length;
      assert.equal((await postJson(`${gw.url}/v1/chat/completions`, chat)).status, 200);
      const m = TRACEPARENT.exec((await upstreamHeaders(llm)).traceparent);
      assert.ok(m);
      assert.equal(m[3], '0');
      await gw.gw.telemetry.flush();
      assert.equal(otlp.spans.length, before);
    } finally {
      await gw.stop();
    }
  });

  test('with tracing off the upstream still gets a traceparent: a trusted client\'s as sent, else a new one', async () => {
    const off = (trust: string) => startGateway(config(llm.url, `    trustTraceparentFrom: [${trust}]`));
    let gw: TestGateway = await off('127.0.0.1');
    try {
      await postJson(`${gw.url}/v1/chat/completions`, chat, { traceparent: CLIENT_TRACEPARENT, tracestate: 'vendor=1' });
      const h = await upstreamHeaders(llm);
      assert.equal(h.traceparent, CLIENT_TRACEPARENT);
      assert.equal(h.tracestate, 'vendor=1');
    } finally {
      await gw.stop();
    }
    gw = await off('192.0.2.1');
    try {
      await postJson(`${gw.url}/v1/chat/completions`, chat, { traceparent: CLIENT_TRACEPARENT });
      const h = await upstreamHeaders(llm);
      const m = TRACEPARENT.exec(h.traceparent);
      assert.ok(m, h.traceparent);
      assert.notEqual(m[1], CLIENT_TRACE);
    } finally {
      await gw.stop();
    }
  });
});
