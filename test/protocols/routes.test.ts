import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchRoute, safeRawSuffix, upstreamPathFor } from '../../src/protocols/routes.js';

test('openai routes', () => {
  assert.deepEqual(matchRoute('POST', '/v1/chat/completions'), { match: { protocol: 'openai', operation: 'chat', hasBody: true } });
  assert.deepEqual(matchRoute('GET', '/v1/chat/completions'), { error: 'PALISADE_METHOD_NOT_ALLOWED' });
  assert.equal((matchRoute('GET', '/v1/models') as any).match.operation, 'list-models');
});

test('kserve v2 routes, with and without versions', () => {
  const m = (matchRoute('POST', '/v2/models/mnist/versions/2/infer') as any).match;
  assert.deepEqual(m, { protocol: 'kserve-v2', operation: 'infer', modelFromPath: 'mnist', version: '2', hasBody: true });
  assert.equal((matchRoute('GET', '/v2/models/mnist') as any).match.operation, 'metadata');
  assert.equal((matchRoute('GET', '/v2/models/mnist/ready') as any).match.operation, 'ready');
  assert.deepEqual(matchRoute('GET', '/v2/models/mnist/infer'), { error: 'PALISADE_METHOD_NOT_ALLOWED' });
});

test('tf serving routes, incl. model names with colons', () => {
  const m = (matchRoute('POST', '/v1/models/mnist:predict') as any).match;
  assert.equal(m.operation, 'predict');
  assert.equal(m.modelFromPath, 'mnist');
  const v = (matchRoute('POST', '/v1/models/llama3:8b/versions/3:predict') as any).match;
  assert.equal(v.modelFromPath, 'llama3:8b');
  assert.equal(v.version, '3');
  assert.equal((matchRoute('GET', '/v1/models/mnist') as any).match.protocol, 'openai-or-tfserving');
  assert.equal((matchRoute('GET', '/v1/models/mnist/metadata') as any).match.operation, 'metadata');
});

test('hostile paths match no route', () => {
  for (const p of [
    '/v2/models/../admin/infer',
    '/v2/models/%2e%2e/infer',
    '/v2/models/mnist%2finfer',
    '/v2/models/.hidden/infer',
    '/v2/models//infer',
    '/v2/models/mnist;x=1/infer',
    '/v2/models/mnist\\infer',
    '/v2/models/mnist/infer/',
    '/V2/models/mnist/infer',
    '/v1/chat/completions/',
    '/v1/models/%6dnist:predict',
    '/v1/models/mnist/../x:predict',
  ]) {
    assert.ok('error' in matchRoute('POST', p), p);
  }
});

test('upstream paths are built from the match, encoded', () => {
  assert.equal(upstreamPathFor('kserve-v2', 'infer', 'mnist', '2'), '/v2/models/mnist/versions/2/infer');
  assert.equal(upstreamPathFor('tfserving', 'predict', 'a:b'), '/v1/models/a%3Ab:predict');
  assert.equal(upstreamPathFor('openai', 'chat', 'x'), '/v1/chat/completions');
});

test('raw suffixes refuse traversal and encoded separators', () => {
  assert.equal(safeRawSuffix(''), '/');
  assert.equal(safeRawSuffix('/a/b.json'), '/a/b.json');
  for (const s of ['/../x', '/a/..', '/./a', '/%2e%2e/x', '/a%2Fb', '//x', '/a\\b', '/a;b', 'x', '/a%5cb', '/a%00']) {
    assert.equal(safeRawSuffix(s), undefined, s);
  }
});
