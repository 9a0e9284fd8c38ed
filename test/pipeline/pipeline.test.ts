import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RequestContext } from '../../src/pipeline/context.js';
import { GatewayError } from '../../src/pipeline/errors.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { Stage } from '../../src/pipeline/stage.js';
import { ALLOW, deny, type InferenceResponse } from '../../src/pipeline/types.js';

function ctx(): RequestContext {
  return { id: 'r1', startedAt: 0, receivedAt: 0, notes: [], locals: {}, signal: new AbortController().signal } as unknown as RequestContext;
}

function recorder(log: string[], name: string, extra: Partial<Stage> = {}): Stage {
  return {
    name,
    request: () => {
      log.push(`req:${name}`);
      return ALLOW;
    },
    response: () => {
      log.push(`res:${name}`);
    },
    done: () => {
      log.push(`done:${name}`);
    },
    ...extra,
  };
}

test('request hooks run in order, response hooks in reverse, done hooks in reverse', async () => {
  const log: string[] = [];
  const p = new Pipeline([recorder(log, 'a'), recorder(log, 'b'), recorder(log, 'c')]);
  const c = ctx();
  assert.equal(await p.runRequest(c), undefined);
  assert.equal(await p.runResponse(c, {} as InferenceResponse), undefined);
  p.done(c, { status: 200, durationMs: 1 });
  assert.deepEqual(log, ['req:a', 'req:b', 'req:c', 'res:c', 'res:b', 'res:a', 'done:c', 'done:b', 'done:a']);
});

test('a denial stops the request side; only entered stages get done, once', async () => {
  const log: string[] = [];
  const p = new Pipeline([
    recorder(log, 'a'),
    recorder(log, 'b', {
      request: () => {
        log.push('req:b');
        return { ...deny('PALISADE_FORBIDDEN_TEST', 'no'), notes: [{ stage: 'b', kind: 'x' }] };
      },
    }),
    recorder(log, 'c'),
  ]);
  const c = ctx();
  const d = await p.runRequest(c);
  assert.equal(d?.code, 'PALISADE_FORBIDDEN_TEST');
  assert.equal(d?.stage, 'b');
  assert.deepEqual(c.notes, [{ stage: 'b', kind: 'x' }]);
  p.done(c, { status: 403, durationMs: 1 });
  p.done(c, { status: 403, durationMs: 1 });
  assert.deepEqual(log, ['req:a', 'req:b', 'done:b', 'done:a']);
});

test('a throwing stage denies (fail closed); a GatewayError keeps its code', async () => {
  const boom = new Pipeline([{ name: 'x', request: () => { throw new Error('bug'); } }]);
  const d = await boom.runRequest(ctx());
  assert.equal(d?.code, 'PALISADE_INTERNAL');
  assert.equal((d?.cause as Error).message, 'bug');
  const typed = new Pipeline([{ name: 'y', request: async () => { throw new GatewayError('PALISADE_BAD_REQUEST', 'nope'); } }]);
  const d2 = await typed.runRequest(ctx());
  assert.equal(d2?.code, 'PALISADE_BAD_REQUEST');
  assert.equal(d2?.status, 400);
});

test('the observer sees every stage call, and a throwing observer fails nothing', async () => {
  const seen: string[] = [];
  const errors: unknown[] = [];
  const p = new Pipeline(
    [recorder([], 'a'), recorder([], 'b')],
    {
      stageStart: (_c, s, side) => `${side}:${s}`,
      stageEnd: (_c, s, _side, token, decision) => {
        seen.push(`${token}:${decision?.allow}`);
        if (s === 'b') throw new Error('observer bug');
      },
    },
    (e) => errors.push(e),
  );
  assert.equal(await p.runRequest(ctx()), undefined);
  assert.deepEqual(seen, ['request:a:true', 'request:b:true']);
  assert.equal(errors.length, 1);
});

test('wantsResponse asks only the stages that have an opinion', () => {
  const c = ctx();
  assert.equal(new Pipeline([recorder([], 'a')]).wantsResponse(c), false);
  assert.equal(new Pipeline([recorder([], 'a'), { name: 'w', wantsResponse: () => true }]).wantsResponse(c), true);
});

test('duplicate stage names are a build error', () => {
  assert.throws(() => new Pipeline([{ name: 'a' }, { name: 'a' }]), /duplicate stage/);
});

test('the observer hears requestStart first, then stages, the upstream call, and requestDone last', async () => {
  const log: string[] = [];
  const errors: unknown[] = [];
  const observer = {
    requestStart: () => void log.push('start'),
    stageStart: (_c: RequestContext, s: string, side: string) => void log.push(`${side}:${s}`),
    upstreamStart: (_c: RequestContext, h: Record<string, string | string[]>) => {
      log.push('up');
      h.traceparent = 'set-by-observer';
    },
    upstreamEnd: (_c: RequestContext, status: number | undefined, code?: string) => void log.push(`up-end:${status ?? code}`),
    requestDone: () => void log.push('done'),
    requestRejected: () => {
      throw new Error('observer bug');
    },
  };
  const p = new Pipeline([recorder([], 'a')], observer, (e) => errors.push(e));
  const c = ctx();
  await p.runRequest(c);
  const headers: Record<string, string | string[]> = {};
  p.upstreamStart(c, headers);
  p.upstreamEnd(c, 200);
  await p.runResponse(c, {} as InferenceResponse);
  p.done(c, { status: 200, durationMs: 1 });
  assert.deepEqual(log, ['start', 'request:a', 'up', 'up-end:200', 'response:a', 'done']);
  assert.equal(headers.traceparent, 'set-by-observer');
  p.rejected({ id: 'x', receivedAt: 0, method: 'GET', path: '/', clientAddress: '', status: 404, code: 'PALISADE_NOT_FOUND', durationMs: 0 });
  assert.equal(errors.length, 1, 'a throwing observer is reported, not thrown');
});

test('synchronous hooks run without a turn of the microtask queue; an async hook in between still orders the rest', async () => {
  const log: string[] = [];
  const sync = new Pipeline([recorder(log, 'a'), recorder(log, 'b'), recorder(log, 'c')]);
  const c = ctx();
  const pending = sync.runRequest(c);
  queueMicrotask(() => log.push('microtask'));
  // Every synchronous stage has decided before runRequest returned its promise.
  assert.deepEqual(log, ['req:a', 'req:b', 'req:c']);
  assert.equal(await pending, undefined);
  log.length = 0;
  const mixed = new Pipeline([recorder(log, 'a'), recorder(log, 'b', { request: async () => (log.push('req:b'), ALLOW) }), recorder(log, 'c')]);
  const p2 = mixed.runRequest(ctx());
  log.push('returned');
  await p2;
  assert.deepEqual(log, ['req:a', 'req:b', 'returned', 'req:c']);
});
