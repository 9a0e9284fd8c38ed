/**
 * One request to an upstream and its response, over undici's `dispatch` (no Readable,
 * no AbortController, no per-request closures: this object is undici's handler).
 *
 * Two ways to take the response:
 * - relay (no stage reads it): the body goes from undici's callbacks straight into the
 *   client response, with backpressure (undici is paused while the client is slow). The
 *   status line goes out with the first body bytes, so an upstream that fails before
 *   sending any still gets a clean JSON error; an SSE stream is relayed event by event
 *   (bytes unchanged), so a stream cut mid-event ends with a clean error event.
 * - read (a stage reads it): `head()` waits for the status and headers; then a JSON
 *   body is collected whole (within the response-size cap), an SSE body is iterated
 *   chunk by chunk with backpressure (`for await (const c of exchange)`).
 *
 * The breaker is fed here, and the only safe retry is made here: a connection that
 * failed before any byte was sent.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { GatewayError } from '../pipeline/errors.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { SseParseError, SseRelay, sseErrorEvent } from '../protocols/sse.js';
import { CONNECT_FAILURES, upstreamError, type Upstream } from '../proxy/upstream.js';
import { isHopByHop } from '../proxy/headers.js';
import { sendError, type Delivery } from './respond.js';

const RELAY = 0;
const READ = 1;

/** The exchange a ServerResponse is waiting on (for the module-level drain and close listeners). */
const kExchange = Symbol('palisade.exchange');
type WithExchange = ServerResponse & { [kExchange]?: Exchange };

function onClientDrain(this: WithExchange): void {
  this[kExchange]?.clientDrained();
}

const CLIENT_CLOSED = new Error('the client closed the connection');

export class Exchange implements Dispatcher.DispatchHandler {
  /** Upstream status, once the head arrived (0 before). */
  status = 0;
  /** Upstream response headers (lower-case names), once the head arrived (read mode only). */
  headers: IncomingHttpHeaders = {};
  contentType: string | undefined;
  sse = false;
  /** performance.now() when the first body bytes arrived (0 before). */
  firstByteAt = 0;

  private attempt = 0;
  private abortFn: ((err: Error) => void) | null = null;
  private resumeFn: (() => void) | null = null;
  private aborted: Error | null = null;
  private settled = false;
  // relay
  private started = false;
  private relay: SseRelay | undefined;
  private outHeaders: string[] | undefined;
  private resolveDelivery: ((d: Delivery) => void) | null = null;
  // read
  private headResolve: (() => void) | null = null;
  private headReject: ((e: unknown) => void) | null = null;
  private queue: Buffer[] = [];
  private queued = 0;
  private complete = false;
  private error: unknown = null;
  private waiterResolve: ((r: IteratorResult<Buffer>) => void) | null = null;
  private waiterReject: ((e: unknown) => void) | null = null;
  private bodyResolve: ((b: Buffer) => void) | null = null;
  private bodyReject: ((e: unknown) => void) | null = null;
  private paused = false;

  private constructor(
    private readonly upstream: Upstream,
    private readonly opts: Dispatcher.DispatchOptions,
    private readonly res: ServerResponse,
    private readonly ctx: RequestContext,
    private readonly pipeline: Pipeline,
    private readonly mode: number,
    private readonly maxEventSize: number,
  ) {}

  /**
   * Relays the response of `opts` to `res` untouched; resolves when it has ended (never
   * rejects). Throws GatewayError('PALISADE_CIRCUIT_OPEN') before sending when the
   * breaker is open.
   */
  static relay(upstream: Upstream, opts: Dispatcher.DispatchOptions, res: ServerResponse, ctx: RequestContext, pipeline: Pipeline, maxEventSize: number, owner: { exchange: Exchange | undefined }): Promise<Delivery> {
    const ex = new Exchange(upstream, opts, res, ctx, pipeline, RELAY, maxEventSize);
    ex.acquire();
    owner.exchange = ex;
    return new Promise<Delivery>((resolve) => {
      ex.resolveDelivery = resolve;
      ex.send();
    });
  }

  /** Sends `opts` for a response a stage reads; `head()` then waits for its status and headers. */
  static read(upstream: Upstream, opts: Dispatcher.DispatchOptions, res: ServerResponse, ctx: RequestContext, pipeline: Pipeline, owner: { exchange: Exchange | undefined }): Exchange {
    const ex = new Exchange(upstream, opts, res, ctx, pipeline, READ, 0);
    ex.acquire();
    owner.exchange = ex;
    ex.send();
    return ex;
  }

  private acquire(): void {
    const breaker = this.upstream.breaker;
    if (!breaker.tryAcquire()) {
      const secs = Math.max(1, Math.ceil(breaker.retryAfterMs() / 1000));
      throw new GatewayError('PALISADE_CIRCUIT_OPEN', undefined, { 'retry-after': String(secs) });
    }
  }

  private send(): void {
    (this.res as WithExchange)[kExchange] = this;
    this.upstream.pool.dispatch(this.opts, this);
  }

  /** The client went away: the upstream request is aborted. */
  abort(): void {
    if (this.aborted || this.settled) return;
    this.aborted = CLIENT_CLOSED;
    this.abortFn?.(CLIENT_CLOSED);
  }

  // ---- undici's handler ----

  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort;
    if (this.aborted) abort(this.aborted);
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    // Informational (1xx) heads are not the answer.
    if (status < 200) return true;
    this.status = status;
    this.resumeFn = resume;
    const headers = this.headers;
    const relay = this.mode === RELAY;
    const out: string[] | undefined = relay ? [] : undefined;
    let connection: string | undefined;
    let length = -1;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i].toString('latin1').toLowerCase();
      const value = raw[i + 1].toString('latin1');
      if (out) out.push(name, value);
      else {
        const prev = headers[name];
        if (prev === undefined) headers[name] = value;
        else if (Array.isArray(prev)) prev.push(value);
        else headers[name] = [prev, value];
      }
      if (name === 'content-type') this.contentType = value;
      else if (name === 'content-length') length = Number(value);
      else if (name === 'connection') connection = value;
    }
    const upstream = this.upstream;
    if (status >= 500) upstream.breaker.failure();
    else upstream.breaker.success();
    this.pipeline.upstreamEnd(this.ctx, status);
    this.sse = this.contentType !== undefined && this.contentType.startsWith('text/event-stream');
    if (length > upstream.config.maxResponseSize) {
      // Known too large before a byte is relayed: refuse cleanly rather than cut later.
      this.abortFn?.(new GatewayError('PALISADE_UPSTREAM_RESPONSE_TOO_LARGE'));
      return false;
    }
    if (out) {
      this.outHeaders = clientHeaderList(out, connection, this.ctx.id, !this.sse);
      if (this.sse) this.relay = new SseRelay(this.maxEventSize);
      return true;
    }
    const r = this.headResolve;
    this.headResolve = this.headReject = null;
    r?.();
    return true;
  }

  onData(chunk: Buffer): boolean {
    // undici flushes its parser with an empty chunk on resume: nothing to take (and
    // pausing on it again would never end).
    if (chunk.length === 0) return true;
    if (this.firstByteAt === 0) this.firstByteAt = performance.now();
    if (this.mode === RELAY) return this.relayData(chunk);
    if (this.waiterResolve) {
      const w = this.waiterResolve;
      this.waiterResolve = this.waiterReject = null;
      w({ value: chunk, done: false });
      return true;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.sse) {
      // Iterated: hold undici until the stages took what is queued.
      this.paused = true;
      return false;
    }
    return true;
  }

  onComplete(): void {
    if (this.settled) return;
    if (this.mode === RELAY) {
      const res = this.res;
      if (!this.started) {
        this.started = true;
        res.writeHead(this.status, this.outHeaders);
      }
      const tail = this.relay?.end();
      if (tail && tail.length) res.end(tail);
      else res.end();
      this.finish({ status: this.status });
      return;
    }
    this.complete = true;
    this.settled = true;
    this.detach();
    if (this.bodyResolve) this.bodyResolve(this.takeQueue());
    if (this.waiterResolve) this.waiterResolve({ value: undefined, done: true });
    this.bodyResolve = this.bodyReject = this.waiterResolve = this.waiterReject = null;
  }

  onError(err: Error): void {
    if (this.settled) return;
    const headed = this.status !== 0;
    if (!headed) {
      const code = (err as { code?: string }).code ?? '';
      if (this.aborted) this.upstream.breaker.release();
      else if (CONNECT_FAILURES.has(code) && this.attempt < this.upstream.config.retries) {
        // Nothing was sent: the one safe retry.
        this.attempt++;
        this.abortFn = null;
        this.upstream.pool.dispatch(this.opts, this);
        return;
      } else if (!(err instanceof GatewayError)) this.upstream.breaker.failure();
      this.pipeline.upstreamEnd(this.ctx, undefined, this.aborted ? 'PALISADE_CLIENT_CLOSED' : upstreamError(err).code);
    }
    if (this.mode === RELAY) {
      this.finish(this.relayError(err));
      return;
    }
    this.settled = true;
    this.detach();
    this.error = err;
    const reject = this.headReject ?? this.bodyReject ?? this.waiterReject;
    this.headResolve = this.headReject = this.bodyResolve = this.bodyReject = this.waiterResolve = this.waiterReject = null;
    reject?.(err);
  }

  // ---- relay ----

  private relayData(chunk: Buffer): boolean {
    let out = chunk;
    if (this.relay) {
      try {
        out = this.relay.push(chunk);
      } catch (err) {
        this.abortFn?.(err as Error);
        return false;
      }
      if (out.length === 0) return true;
    }
    const res = this.res;
    if (!this.started) {
      this.started = true;
      res.writeHead(this.status, this.outHeaders);
    }
    if (res.write(out)) return true;
    res.once('drain', onClientDrain);
    this.paused = true;
    return false;
  }

  /** The client's buffer drained: undici may go on. */
  clientDrained(): void {
    if (!this.paused || this.settled) return;
    this.paused = false;
    this.resumeFn?.();
  }

  private relayError(err: unknown): Delivery {
    const res = this.res;
    const first = this.firstByteAt || undefined;
    if (this.aborted || res.destroyed) {
      if (!this.status) return { status: 499, code: 'PALISADE_CLIENT_CLOSED' };
      return { status: this.status, code: 'PALISADE_CLIENT_CLOSED', firstByteAt: first };
    }
    const e = err instanceof SseParseError ? new GatewayError('PALISADE_UPSTREAM_BAD_RESPONSE') : upstreamError(err);
    const id = this.ctx.id;
    if (!this.started) {
      sendError(res, id, e.code, e.message);
      return { status: e.status, code: e.code, firstByteAt: first };
    }
    // Mid-stream: an SSE client gets a final error event and a clean end; any other
    // client sees the connection cut (a truncated body must not look whole).
    if (this.sse && !res.writableEnded) res.end(sseErrorEvent(e.code, e.message, id));
    else res.destroy();
    return { status: this.status, code: e.code, firstByteAt: first };
  }

  private finish(d: Delivery): void {
    if (this.settled) return;
    this.settled = true;
    this.detach();
    if (this.firstByteAt && d.firstByteAt === undefined) d.firstByteAt = this.firstByteAt;
    if (this.status) d.upstreamStatus = this.status;
    const r = this.resolveDelivery;
    this.resolveDelivery = null;
    r?.(d);
  }

  private detach(): void {
    const res = this.res as WithExchange;
    if (res[kExchange] === this) res[kExchange] = undefined;
    if (this.paused) res.off('drain', onClientDrain);
  }

  // ---- read ----

  /** Resolves once status and headers arrived; rejects with the transport error. */
  head(): Promise<void> {
    if (this.status !== 0) return Promise.resolve();
    if (this.settled) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      this.headResolve = resolve;
      this.headReject = reject;
    });
  }

  /** The whole body (after `head()`); rejects with the transport error. */
  body(): Promise<Buffer> {
    if (this.complete) return Promise.resolve(this.takeQueue());
    if (this.settled) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      this.bodyResolve = resolve;
      this.bodyReject = reject;
    });
  }

  private takeQueue(): Buffer {
    const q = this.queue;
    this.queue = [];
    const b = q.length === 1 ? q[0] : Buffer.concat(q, this.queued);
    this.queued = 0;
    return b;
  }

  /** Stops reading: the upstream request is aborted (nothing more is delivered). */
  discard(): void {
    if (this.settled) return;
    this.settled = true;
    this.detach();
    this.abortFn?.(CLIENT_CLOSED);
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this;
  }

  next(): Promise<IteratorResult<Buffer>> {
    if (this.queue.length) {
      const value = this.queue.shift()!;
      this.queued -= value.length;
      if (this.queue.length === 0 && this.paused && !this.settled) {
        this.paused = false;
        this.resumeFn?.();
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.complete) return Promise.resolve({ value: undefined, done: true });
    if (this.error) return Promise.reject(this.error);
    if (this.settled) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiterResolve = resolve;
      this.waiterReject = reject;
    });
  }

  return(): Promise<IteratorResult<Buffer>> {
    this.discard();
    return Promise.resolve({ value: undefined, done: true });
  }
}

/**
 * The client's response headers from the upstream's, as a flat [name, value, ...] list:
 * no hop-by-hop field (Content-Length kept when `keepLength`), none the upstream's
 * Connection names, no Set-Cookie, and the request id.
 */
function clientHeaderList(raw: string[], connection: string | undefined, requestId: string, keepLength: boolean): string[] {
  const named = connection ? connectionNames(connection) : undefined;
  let w = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (isHopByHop(name) && !(keepLength && name === 'content-length')) continue;
    if (name === 'set-cookie' || name === 'x-request-id' || named?.includes(name)) continue;
    raw[w++] = name;
    raw[w++] = raw[i + 1];
  }
  raw.length = w;
  raw.push('x-request-id', requestId);
  return raw;
}

function connectionNames(v: string): string[] | undefined {
  let out: string[] | undefined;
  for (const t of v.split(',')) {
    const k = t.trim().toLowerCase();
    if (k && k !== 'close' && k !== 'keep-alive') (out ??= []).push(k);
  }
  return out;
}
