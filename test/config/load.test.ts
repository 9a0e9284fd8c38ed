import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatProblem, loadConfigFile, loadConfigText } from '../../src/config/load.js';

const GOOD = `
upstreams:
  llm: { protocol: openai, url: "http://127.0.0.1:8001" }
models:
  - name: demo-llm
    upstream: llm
`;

test('a good config loads, with defaults and parsed units, frozen', () => {
  const r = loadConfigText(GOOD, '/x/palisade.yaml');
  assert.ok(r.ok);
  const c = r.loaded.config;
  assert.deepEqual(c.server.listen, { host: '0.0.0.0', port: 8080 });
  assert.equal(c.server.bodyLimit, 1024 * 1024);
  assert.equal(c.upstreams.llm.timeouts.connect, 2000);
  assert.ok(Object.isFrozen(c.upstreams.llm.timeouts));
  assert.throws(() => {
    (c.models as unknown as unknown[]).push({});
  });
});

test('every problem is listed with file, line, column and key path', () => {
  const text = `server:
  listen: nope
  bogus: 1
upstreams:
  llm:
    protocol: grpc
    url: "http://127.0.0.1:8001"
    timeouts: { connect: 5x }
models:
  - name: a
    upstream: llm
  - name: a
    upstream: llm
  - name: c
    upstream: llm2
`;
  const r = loadConfigText(text, 'bad.yaml');
  assert.ok(!r.ok);
  const lines = r.problems.map(formatProblem);
  const want = [
    'bad.yaml:2:11 server.listen: invalid listen address "nope" (expected host:port)',
    'bad.yaml:3:3 server.bogus: unknown key',
    /^bad\.yaml:6:15 upstreams\.llm\.protocol: must be one of "openai", "kserve-v2", "tfserving", "raw"$/,
    'bad.yaml:8:26 upstreams.llm.timeouts.connect: invalid duration "5x" (expected e.g. 250ms, 30s, 5m, 1h)',
    'bad.yaml:12:11 models[1].name: duplicate model "a" (also models[0])',
    'bad.yaml:15:15 models[2].upstream: unknown upstream "llm2"',
  ];
  assert.equal(lines.length, want.length, lines.join('\n'));
  want.forEach((w, i) => (typeof w === 'string' ? assert.equal(lines[i], w) : assert.match(lines[i], w)));
});

test('YAML syntax errors are located', () => {
  const r = loadConfigText('models: [\n  - a: 1\n', 'syntax.yaml');
  assert.ok(!r.ok);
  assert.ok(r.problems[0].line >= 1);
});

test('${ENV} and ${file:...} substitution, and $${ as a literal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-cfg-'));
  writeFileSync(join(dir, 'host.txt'), '127.0.0.9\n');
  const file = join(dir, 'c.yaml');
  writeFileSync(
    file,
    `upstreams:
  llm: { protocol: openai, url: "http://\${file:host.txt}:\${PORT}" }
models:
  - { name: m, upstream: llm, upstreamModel: "a$\${b}" }
`,
  );
  const r = loadConfigFile(file, { PORT: '8123' });
  assert.ok(r.ok, !r.ok ? r.problems.map(formatProblem).join('\n') : '');
  assert.equal(r.loaded.config.upstreams.llm.url, 'http://127.0.0.9:8123');
  assert.equal(r.loaded.config.models[0].upstreamModel, 'a${b}');
  const bad = loadConfigFile(file, {});
  assert.ok(!bad.ok);
  assert.match(formatProblem(bad.problems[0]), /c\.yaml:2:\d+ upstreams\.llm\.url: environment variable PORT is not set/);
});

test('a missing file is one problem, not a throw', () => {
  const r = loadConfigFile('/nonexistent/palisade.yaml');
  assert.ok(!r.ok);
  assert.match(r.problems[0].message, /cannot read/);
});

test('every config shipped in config/ validates', () => {
  const dir = new URL('../../config/', import.meta.url).pathname;
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 1);
  // Secrets the examples take from the environment (config/edge.yaml).
  const env = { ...process.env, REDIS_PASSWORD: 'test-only', PALISADE_NOISE_KEY: 'test-only-0123456789abcdef0123456789' };
  for (const f of files) {
    const r = loadConfigFile(join(dir, f), env);
    assert.ok(r.ok, `${f}: ${!r.ok ? r.problems.map(formatProblem).join('\n') : ''}`);
  }
});

test('regression: an alias bomb or a self-referential alias threw out of the loader (and a reload of it was an unhandled rejection)', () => {
  const bomb = ['a: &a [x,x,x,x,x,x,x,x,x]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]', 'd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]'].join('\n');
  for (const text of [bomb, 'a: &a [*a]']) {
    const r = loadConfigText(text, '/x/palisade.yaml');
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.problems[0].message : '', /^cannot be read: /);
  }
});
