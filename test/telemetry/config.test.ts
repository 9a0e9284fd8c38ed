import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfigText } from '../../src/config/load.js';

const base = `
upstreams:
  llm: { protocol: openai, url: "http://127.0.0.1:8000" }
models:
  - { name: m, upstream: llm }
`;

test('telemetry defaults: metrics on, tracing off, no audit log', () => {
  const r = loadConfigText(base, '/tmp/c.yaml');
  assert.ok(r.ok);
  const t = r.loaded.config.telemetry;
  assert.equal(t.metrics.enabled, true);
  assert.equal(t.tracing.enabled, false);
  assert.deepEqual(t.tracing.trustTraceparentFrom, []);
  assert.equal(t.audit, undefined);
});

test('audit units parse; a bad trusted peer, a missing key and a bad ratio are each a problem with a path', () => {
  const ok = loadConfigText(`${base}telemetry:\n  audit: { dir: a, signingKey: k.pem, checkpointInterval: 5s, maxFileSize: 2mb }\n`, '/tmp/c.yaml');
  assert.ok(ok.ok);
  assert.equal(ok.loaded.config.telemetry.audit?.checkpointInterval, 5000);
  assert.equal(ok.loaded.config.telemetry.audit?.maxFileSize, 2 * 1024 * 1024);
  assert.equal(ok.loaded.config.telemetry.audit?.prompt, 'hash');
  const bad = loadConfigText(
    `${base}telemetry:\n  tracing: { samplingRatio: 2, trustTraceparentFrom: [10.0.0.0/33, not-an-ip] }\n  audit: { dir: a }\n`,
    '/tmp/c.yaml',
  );
  assert.ok(!bad.ok);
  const paths = bad.problems.map((p) => p.path).sort();
  assert.deepEqual(paths, [
    'telemetry.audit.signingKey',
    'telemetry.tracing.samplingRatio',
    'telemetry.tracing.trustTraceparentFrom[0]',
    'telemetry.tracing.trustTraceparentFrom[1]',
  ]);
});
