/**
 * Writing responses: the gateway's own errors in the one error shape, and the upstream
 * response either streamed through untouched, buffered and passed through the response
 * stages (JSON), or rewritten event by event (SSE) with backpressure.
 */
import type { ServerResponse } from 'node:http';
import { errorBody, errorSpec, GatewayError } from '../pipeline/errors.js';
import type { RequestContext } from '../pipeline/context.js';
import { isThenable, type Pipeline } from '../pipeline/pipeline.js';
import type { InferenceResponse, TokenUsage } from '../pipeline/types.js';
import { SseParser, formatSse, sseErrorEvent } from '../protocols/sse.js';
import { clientResponseHeaders } from '../proxy/headers.js';
import { upstreamError } from '../proxy/upstream.js';
import { isJsonContentType, parseJsonEvent, parseJsonResponse } from './body.js';
import type { Exchange } from './exchange.js';

/** Sends the gateway's error shape. If the response already started, ends it as well as it can. */
export function sendError(
  res: ServerResponse,
  requestId: string,
  code: string,
  message?: string,
  status?: number,
  headers?: Record<string, string>,
): void {
  const spec = errorSpec(code);
  const body = errorBody(code, message ?? spec.message, requestId);
  if (res.headersSent) {
    if (isSse(res.getHeader('content-type'))) res.end(sseErrorEvent(code, message ?? spec.message, requestId));
    else res.destroy();
    return;
  }
  res.writeHead(status ?? spec.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-request-id': requestId,
    ...headers,
  });
  res.end(body);
}

function isSse(ct: unknown): boolean {
  return typeof ct === 'string' && ct.startsWith('text/event-stream');
}

export interface Delivery {
  status: number;
  code?: string;
  usage?: TokenUsage;
  /** Status of the upstream response (set by the caller that made the upstream call). */
  upstreamStatus?: number;
  /** The response stage that denied, if any. */
  deniedBy?: string;
  /** performance.now() when the first body bytes of a streamed upstream response arrived. */
  firstByteAt?: number;
}

/** Buffers a JSON response, runs the response stages, and sends what they leave. */
export async function deliverJson(
  res: ServerResponse,
  ctx: RequestContext,
  pipeline: Pipeline,
  up: Exchange,
): Promise<Delivery> {
  let buf: Buffer;
  try {
    // Within the response-size cap: undici's maxResponseSize cuts it past the bound.
    buf = await up.body();
  } catch (err) {
    const e = upstreamError(err);
    sendError(res, ctx.id, e.code);
    return { status: e.status, code: e.code };
  }
  const headers = clientResponseHeaders(up.headers, ctx.id, false);
  // Upstream errors carry no model output; they pass as they are.
  if (up.status >= 400 || !ctx.request) {
    headers['content-length'] = buf.length;
    res.writeHead(up.status, headers);
    res.end(buf);
    return { status: up.status };
  }
  let parsed: InferenceResponse;
  let exact: boolean;
  const adapter = ctx.model.adapter;
  try {
    if (!isJsonContentType(up.contentType)) throw new Error('not JSON');
    const body = parseJsonResponse(buf);
    exact = body.exact;
    parsed = adapter.parseResponse(body.value, ctx.request, up.status);
  } catch (err) {
    // Fail closed: output the gateway cannot read is not passed to the client unread,
    // unless the operator said so for a model that has no defense to bypass.
    if (ctx.model.config.passRawWhenUndefended) {
      headers['content-length'] = buf.length;
      res.writeHead(up.status, headers);
      res.end(buf);
      return { status: up.status };
    }
    const e = err instanceof GatewayError ? err : new GatewayError('PALISADE_UPSTREAM_BAD_RESPONSE');
    sendError(res, ctx.id, e.code, e.message);
    return { status: e.status, code: e.code };
  }
  const denial = await pipeline.runResponse(ctx, parsed);
  if (denial) {
    sendError(res, ctx.id, denial.code, denial.message, denial.status, denial.headers);
    return { status: denial.status ?? errorSpec(denial.code).status, code: denial.code, usage: parsed.usage, deniedBy: denial.stage };
  }
  if (exact && adapter.writesBack?.(parsed) === false) {
    // Nothing to write back, and bytes no client can read otherwise: sent as they came.
    headers['content-length'] = buf.length;
    res.writeHead(up.status, headers);
    res.end(buf);
    return { status: up.status, usage: parsed.usage };
  }
  const out = adapter.serializeResponse(parsed);
  headers['content-type'] = 'application/json';
  headers['content-length'] = Buffer.byteLength(out);
  res.writeHead(up.status, headers);
  res.end(out);
  return { status: up.status, usage: parsed.usage };
}

/** Rewrites an SSE stream event by event through the response stages, with backpressure. */
export async function deliverSse(
  res: ServerResponse,
  ctx: RequestContext,
  pipeline: Pipeline,
  up: Exchange,
  maxEventSize: number,
): Promise<Delivery> {
  const headers = clientResponseHeaders(up.headers, ctx.id, false);
  const parser = new SseParser(maxEventSize);
  const usage: TokenUsage = {};
  const adapter = ctx.model.adapter;
  // The status line goes with the first event, so a failure before it is a clean error.
  const write = (out: string): boolean => {
    if (!res.headersSent) res.writeHead(up.status, headers);
    return res.write(out);
  };
  let first = 0;
  const endWith = (code: string, message?: string, deniedBy?: string): Delivery => {
    const spec = errorSpec(code);
    up.discard();
    if (!res.headersSent) {
      sendError(res, ctx.id, code, message);
      return { status: spec.status, code, usage, deniedBy, firstByteAt: first || undefined };
    }
    if (!res.writableEnded) res.end(sseErrorEvent(code, message ?? spec.message, ctx.id));
    return { status: up.status, code, usage, deniedBy, firstByteAt: first || undefined };
  };
  try {
    for await (const chunk of up) {
      if (first === 0) first = performance.now();
      if (res.destroyed) {
        up.discard();
        return { status: up.status, code: 'PALISADE_CLIENT_CLOSED', usage, firstByteAt: first };
      }
      let out = '';
      for (const ev of parser.push(chunk)) {
        if (ev.data === undefined || ev.data === '[DONE]' || !ctx.request) {
          out += formatSse(ev);
          continue;
        }
        let parsed: InferenceResponse;
        let exact: boolean;
        try {
          const data = parseJsonEvent(ev.data);
          exact = data.exact;
          parsed = adapter.parseEvent(data.value, ctx.request);
        } catch {
          if (ctx.model.config.passRawWhenUndefended) {
            out += formatSse(ev);
            continue;
          }
          if (out) write(out);
          return endWith('PALISADE_UPSTREAM_BAD_RESPONSE');
        }
        if (parsed.usage) Object.assign(usage, parsed.usage);
        const ran = pipeline.runResponse(ctx, parsed);
        const denial = isThenable(ran) ? await ran : ran;
        if (denial) {
          if (out) write(out);
          return endWith(denial.code, denial.message, denial.stage);
        }
        // Nothing to write back and data no client can read otherwise: the event as it came.
        out += exact && adapter.writesBack?.(parsed) === false ? formatSse(ev) : formatSse({ ...ev, data: adapter.serializeResponse(parsed) });
      }
      if (out && !write(out)) await drained(res);
    }
  } catch (err) {
    if ((err as { code?: string }).code === 'PALISADE_SSE_EVENT_TOO_LARGE') return endWith('PALISADE_UPSTREAM_BAD_RESPONSE');
    if (res.destroyed) return { status: up.status, code: 'PALISADE_CLIENT_CLOSED', usage, firstByteAt: first || undefined };
    const e = upstreamError(err);
    return endWith(e.code);
  }
  // An unterminated last event was never inspected: it is dropped (as the spec has clients do).
  parser.end();
  if (!res.headersSent) res.writeHead(up.status, headers);
  res.end();
  return { status: up.status, usage, firstByteAt: first || undefined };
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
