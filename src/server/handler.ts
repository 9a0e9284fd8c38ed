/**
 * The HTTP shell of the pipeline: resolves the route and the model, reads and parses
 * the body, runs the stages, forwards, and delivers the response. Everything here is
 * adaptation; the decisions are the stages'.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { createHash, randomUUID } from 'node:crypto';
import { GatewayError, errorSpec } from '../pipeline/errors.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { HttpInfo, Outcome, RouteMatch } from '../pipeline/types.js';
import { isObject } from '../protocols/adapter.js';
import { isServedMethod, matchRoute, safeRawSuffix, upstreamPathFor } from '../protocols/routes.js';
import { upstreamRequestHeaders, requestIdFrom } from '../proxy/headers.js';
import { upstreamError } from '../proxy/upstream.js';
import type { Dispatcher } from 'undici';
import { Exchange } from './exchange.js';
import type { ModelRuntime, Runtime } from '../runtime.js';
import type { Logger } from '../services.js';
import { isJsonContentType, parseJsonRequest, readBody } from './body.js';
import { TrustedProxies, unmapIPv4 } from './client-address.js';
import type { Admission } from './overload.js';
import { deliverJson, deliverSse, sendError, type Delivery } from './respond.js';

export interface HandlerHost {
  /** The runtime new requests start on (swapped atomically by reload). */
  readonly current: Runtime;
  readonly logger: Logger;
  readonly trustedProxies: TrustedProxies;
  /** Overload protection: every request is admitted here first. */
  readonly admission: Admission;
  /** Draining: new requests are refused. */
  readonly closing: boolean;
}

const MAX_SSE_EVENT = 1024 * 1024;
const certThumbprints = new WeakMap<object, string | null>();

/** The request in flight on a ServerResponse (for the one module-level close listener). */
const kFlight = Symbol('palisade.flight');
type WithFlight = ServerResponse & { [kFlight]?: Flight };

function onResponseClose(this: WithFlight): void {
  const f = this[kFlight];
  if (f && !this.writableFinished) f.clientClosed();
}

/**
 * What one request needs to know of its client while it runs: whether the client went
 * away, the exchange to abort then, and the abort signal, made only when a stage asks
 * for it.
 */
class Flight {
  closed = false;
  exchange: Exchange | undefined;
  private ac: AbortController | undefined;

  get signal(): AbortSignal {
    if (!this.ac) {
      this.ac = new AbortController();
      if (this.closed) this.ac.abort();
    }
    return this.ac.signal;
  }

  clientClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.ac?.abort();
    this.exchange?.abort();
  }
}

/** The per-request context (a class: its abort signal is made on first use). */
class Context implements RequestContext {
  principal: RequestContext['principal'];
  request: RequestContext['request'];
  readonly notes: RequestContext['notes'] = [];
  readonly locals: Record<string, unknown> = {};
  constructor(
    readonly id: string,
    readonly startedAt: number,
    readonly receivedAt: number,
    readonly http: HttpInfo,
    readonly route: RouteMatch,
    readonly model: ModelRuntime,
    public body: unknown,
    public rawBody: Buffer | undefined,
    public bodyBytes: Buffer | undefined,
    private readonly flight: Flight,
  ) {}

  get clientGone(): boolean {
    return this.flight.closed;
  }

  get signal(): AbortSignal {
    return this.flight.signal;
  }
}

/**
 * Handles one request end to end, once admitted (overload protection runs before
 * anything else, so a shed request costs no body read). Never throws.
 */
export async function handleRequest(host: HandlerHost, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // withAdmission, without a closure per request.
  let ok = admit(host, req, res);
  if (typeof ok === 'object') ok = await ok;
  if (!ok) return;
  try {
    await admitted(host, req, res);
  } finally {
    host.admission.leave();
  }
}

/** Admission (see withAdmission): true when admitted (leave() is then owed); else the request was answered. */
function admit(host: HandlerHost, req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean> {
  if (host.closing) {
    refuse(req, res, 'PALISADE_SHUTTING_DOWN');
    return false;
  }
  const refusal = host.admission.enter();
  if (refusal === undefined) return true;
  if (typeof refusal === 'object') return refusal.then((r) => admittedLate(host, req, res, r));
  return admittedLate(host, req, res, refusal);
}

function admittedLate(host: HandlerHost, req: IncomingMessage, res: ServerResponse, refusal: unknown): boolean {
  if (refusal !== undefined) {
    refuse(req, res, 'PALISADE_OVERLOADED', { 'retry-after': String(host.admission.retryAfterSeconds) });
    return false;
  }
  // Admitted from the queue; the client may have left while it waited.
  if (res.destroyed) {
    host.admission.leave();
    return false;
  }
  return true;
}

/**
 * Runs `work` for a request once admission lets it (every route the gateway answers
 * goes through here): refused while draining (PALISADE_SHUTTING_DOWN) and past the
 * overload bounds (PALISADE_OVERLOADED with Retry-After). Never throws if `work` does not.
 */
export async function withAdmission(host: HandlerHost, req: IncomingMessage, res: ServerResponse, work: () => Promise<void>): Promise<void> {
  if (host.closing) return refuse(req, res, 'PALISADE_SHUTTING_DOWN');
  let refusal = host.admission.enter();
  if (refusal !== undefined) {
    if (typeof refusal === 'object') refusal = await refusal;
    if (refusal !== undefined) return refuse(req, res, 'PALISADE_OVERLOADED', { 'retry-after': String(host.admission.retryAfterSeconds) });
    // Admitted from the queue; the client may have left while it waited.
    if (res.destroyed) return host.admission.leave();
  }
  try {
    await work();
  } finally {
    host.admission.leave();
  }
}

/** Answers without running the request, closing the connection when its body was not read. */
function refuse(req: IncomingMessage, res: ServerResponse, code: string, headers?: Record<string, string>): void {
  if (res.destroyed) return;
  if (code === 'PALISADE_SHUTTING_DOWN' || bodyLeftUnread(req)) res.setHeader('connection', 'close');
  sendError(res, requestIdFrom(req.headers['x-request-id'], randomUUID), code, undefined, undefined, headers);
}

/** Past this much unread body, an early answer closes the connection instead of reading the rest. */
const DISCARD_LIMIT = 64 * 1024;

/**
 * Whether answering now would leave node to read and discard a large or unbounded rest
 * of the body to keep the connection: then the answer closes it instead. A small
 * declared body is discarded (usually it is already in the socket buffer), so that
 * shedding under load does not also cost every client a new connection.
 */
function bodyLeftUnread(req: IncomingMessage): boolean {
  if (req.complete) return false;
  if (req.headers['transfer-encoding'] !== undefined) return true;
  return Number(req.headers['content-length'] ?? 0) > DISCARD_LIMIT;
}

async function admitted(host: HandlerHost, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const rt = host.current;
  rt.enter();
  const startedAt = performance.now();
  const requestId = requestIdFrom(req.headers['x-request-id'], randomUUID);
  let ctx: RequestContext | undefined;
  let outcome: Outcome | undefined;
  let rejected: { status: number; code: string } | undefined;
  const flight = new Flight();
  (res as WithFlight)[kFlight] = flight;
  res.once('close', onResponseClose);
  try {
    if (req.headers.host === undefined && req.httpVersionMinor === 1 && req.httpVersionMajor === 1) {
      throw new GatewayError('PALISADE_BAD_REQUEST', 'the Host header is required');
    }
    if (req.rawHeaders.length > 2 * rt.config.server.maxHeaderCount) throw new GatewayError('PALISADE_HEADERS_TOO_LARGE');
    const resolved = await resolve(rt, req, host);
    if ('answer' in resolved) {
      const body = JSON.stringify(resolved.answer);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-request-id': requestId });
      res.end(body);
      return;
    }
    const { route, model, body, rawBody, bodyBytes } = resolved;
    ctx = new Context(requestId, startedAt, Date.now(), httpInfo(host, req), route, model, body, rawBody, bodyBytes, flight);
    const pipeline = rt.pipeline;
    const denial = await pipeline.runRequest(ctx);
    if (denial) {
      if (denial.code === 'PALISADE_INTERNAL') host.logger.error({ err: denial.cause, requestId, stage: denial.stage }, 'stage failed');
      if (bodyLeftUnread(req)) res.setHeader('connection', 'close');
      sendError(res, requestId, denial.code, denial.message, denial.status, denial.headers);
      outcome = { status: denial.status ?? errorSpec(denial.code).status, code: denial.code, deniedBy: denial.stage, durationMs: 0 };
      return;
    }
    const delivery = await forwardAndDeliver(host, pipeline, ctx, req, res, flight);
    outcome = {
      status: delivery.status,
      code: delivery.code,
      deniedBy: delivery.deniedBy,
      upstreamStatus: delivery.upstreamStatus,
      usage: delivery.usage,
      firstByteMs: delivery.firstByteAt === undefined ? undefined : delivery.firstByteAt - startedAt,
      durationMs: 0,
    };
  } catch (err) {
    const e = err instanceof GatewayError ? err : undefined;
    if (!e) host.logger.error({ err, requestId }, 'request failed');
    const code = e?.code ?? 'PALISADE_INTERNAL';
    if (!res.headersSent && bodyLeftUnread(req)) res.setHeader('connection', 'close');
    if (!res.destroyed) sendError(res, requestId, code, e?.message, e?.status, e?.headers);
    outcome = { status: e?.status ?? 500, code, durationMs: 0 };
    if (!ctx) rejected = outcome as { status: number; code: string };
  } finally {
    res.off('close', onResponseClose);
    (res as WithFlight)[kFlight] = undefined;
    if (ctx) {
      const o = outcome ?? { status: 500, code: 'PALISADE_INTERNAL', durationMs: 0 };
      o.durationMs = performance.now() - startedAt;
      if (flight.closed) o.aborted = true;
      rt.pipeline.done(ctx, o);
    } else if (rejected) {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      rt.pipeline.rejected({
        id: requestId,
        receivedAt: Date.now() - (performance.now() - startedAt),
        method: req.method ?? 'GET',
        path: q < 0 ? url : url.slice(0, q),
        clientAddress: host.trustedProxies.clientAddress(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for']),
        status: rejected.status,
        code: rejected.code,
        durationMs: performance.now() - startedAt,
      });
    }
    rt.leave();
  }
}

type Resolved =
  | { answer: unknown }
  | { route: RouteMatch; model: ModelRuntime; body: unknown; rawBody?: Buffer; bodyBytes?: Buffer };

/** Route, model and body: everything known before the first stage. Throws GatewayError. */
async function resolve(rt: Runtime, req: IncomingMessage, host: HandlerHost): Promise<Resolved> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q);
  const method = req.method ?? 'GET';
  const server = rt.config.server;
  const m = matchRoute(method, path);

  if ('error' in m) {
    const raw = rt.matchRaw(path);
    if (!raw) throw new GatewayError(m.error);
    if (!isServedMethod(method)) throw new GatewayError('PALISADE_METHOD_NOT_ALLOWED');
    const suffix = safeRawSuffix(raw.suffix);
    if (suffix === undefined) throw new GatewayError('PALISADE_NOT_FOUND');
    const hasBody = method !== 'GET' && method !== 'HEAD';
    const rawBody = hasBody ? await readBody(req, raw.model.bodyLimit) : undefined;
    return {
      route: { protocol: 'raw', operation: 'raw', modelFromPath: raw.model.name, upstreamPath: suffix, query },
      model: raw.model,
      body: undefined,
      rawBody,
    };
  }

  const pm = m.match;
  if (pm.operation === 'list-models') return { answer: await rt.listModels(httpInfo(host, req)) };

  let model: ModelRuntime | undefined;
  if (pm.modelFromPath !== undefined) {
    model = rt.models.get(pm.modelFromPath);
    const protocol = model?.upstream.config.protocol;
    if (!model || (pm.protocol === 'openai-or-tfserving' ? protocol !== 'openai' && protocol !== 'tfserving' : protocol !== pm.protocol)) {
      throw new GatewayError('PALISADE_UNKNOWN_MODEL');
    }
    if (protocol === 'openai') {
      if (!(await rt.isVisible(httpInfo(host, req), model))) throw new GatewayError('PALISADE_UNKNOWN_MODEL');
      return { answer: rt.describeModel(model) };
    }
  }

  let body: unknown;
  let bodyBytes: Buffer | undefined;
  if (pm.hasBody) {
    if (!isJsonContentType(req.headers['content-type'])) throw new GatewayError('PALISADE_UNSUPPORTED_MEDIA_TYPE');
    const enc = req.headers['content-encoding'];
    if (enc !== undefined && enc !== 'identity') throw new GatewayError('PALISADE_UNSUPPORTED_MEDIA_TYPE', 'compressed request bodies are not accepted');
    const buf = await readBody(req, model ? model.bodyLimit : server.bodyLimit);
    const parsed = parseJsonRequest(buf, server.maxJsonDepth);
    body = parsed.value;
    bodyBytes = parsed.exact;
    if (!model) {
      // OpenAI routes name the model in the body.
      if (!isObject(body) || typeof body.model !== 'string') throw new GatewayError('PALISADE_BAD_REQUEST', 'model is required');
      model = rt.models.get(body.model);
      if (!model || model.upstream.config.protocol !== 'openai') throw new GatewayError('PALISADE_UNKNOWN_MODEL');
      if (buf.length > model.bodyLimit) throw new GatewayError('PALISADE_BODY_TOO_LARGE');
    }
  }
  if (!model) throw new GatewayError('PALISADE_NOT_FOUND');
  const protocol = model.upstream.config.protocol;
  return {
    route: {
      protocol,
      operation: pm.operation,
      modelFromPath: pm.modelFromPath,
      version: pm.version,
      upstreamPath: upstreamPathFor(protocol, pm.operation, model.upstreamModel, pm.version),
      query,
    },
    model,
    body,
    bodyBytes,
  };
}

async function forwardAndDeliver(host: HandlerHost, pipeline: Pipeline, ctx: RequestContext, req: IncomingMessage, res: ServerResponse, flight: Flight): Promise<Delivery> {
  // Admitted: headers the stages asked for (RateLimit); writeHead merges them.
  const extra = ctx.responseHeaders;
  if (extra) for (const k in extra) res.setHeader(k, extra[k]);
  const model = ctx.model;
  const upstream = model.upstream;
  const peer = ctx.http.remoteAddress;
  const headers = upstreamRequestHeaders(req.headers, {
    requestId: ctx.id,
    peer: unmapIPv4(peer),
    trustedPeer: host.trustedProxies.has(peer),
    proto: (req.socket as TLSSocket).encrypted ? 'https' : 'http',
  });
  let body: string | Buffer | undefined;
  if (ctx.route.protocol === 'raw') body = ctx.rawBody;
  else if (ctx.request?.body !== undefined) {
    // Inspect what you forward: the bytes the (frozen, inspected) body was parsed from
    // when no stage changed it and no parser could read them otherwise; else the object
    // the stages saw, re-serialized.
    const b = ctx.request.body;
    body = b === ctx.body && ctx.bodyBytes !== undefined && Object.isFrozen(b) ? ctx.bodyBytes : JSON.stringify(b);
    headers['content-type'] = 'application/json';
    delete headers['content-encoding'];
  }
  // Trace context: the observer sets the gateway's own traceparent (never the client's
  // unless the config trusts it).
  pipeline.upstreamStart(ctx, headers);
  const opts: Dispatcher.DispatchOptions = {
    method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
    path: upstream.basePath + ctx.route.upstreamPath + ctx.route.query,
    headers,
    body,
  };
  if (flight.closed) {
    pipeline.upstreamEnd(ctx, undefined, 'PALISADE_CLIENT_CLOSED');
    return { status: 499, code: 'PALISADE_CLIENT_CLOSED' };
  }
  let ex: Exchange;
  try {
    if (!pipeline.wantsResponse(ctx)) {
      // No stage reads the response: relayed from undici's callbacks into `res`.
      const p = Exchange.relay(upstream, opts, res, ctx, pipeline, MAX_SSE_EVENT, flight);
      return await p;
    }
    ex = Exchange.read(upstream, opts, res, ctx, pipeline, flight);
  } catch (err) {
    // The breaker is open: nothing was sent.
    const e = upstreamError(err);
    pipeline.upstreamEnd(ctx, undefined, e.code);
    sendError(res, ctx.id, e.code, e.message, e.status, e.headers);
    return { status: e.status, code: e.code };
  }
  try {
    await ex.head();
  } catch (err) {
    if (flight.closed) return { status: 499, code: 'PALISADE_CLIENT_CLOSED' };
    const e = upstreamError(err);
    sendError(res, ctx.id, e.code, e.message, e.status, e.headers);
    return { status: e.status, code: e.code, upstreamStatus: ex.status || undefined };
  }
  try {
    const d = ex.sse ? await deliverSse(res, ctx, pipeline, ex, MAX_SSE_EVENT) : await deliverJson(res, ctx, pipeline, ex);
    d.upstreamStatus = ex.status;
    return d;
  } finally {
    // Whatever happened, the upstream request does not outlive the delivery (a no-op once complete).
    ex.discard();
  }
}

/** What stages know of the HTTP request (also used by the gateway-answered auth routes). */
export function httpInfo(host: Pick<HandlerHost, 'trustedProxies'>, req: IncomingMessage): HttpInfo {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const peer = req.socket.remoteAddress ?? '';
  const info: HttpInfo = {
    method: req.method ?? 'GET',
    url,
    path: q < 0 ? url : url.slice(0, q),
    headers: req.headers,
    remoteAddress: peer,
    clientAddress: host.trustedProxies.clientAddress(peer, req.headers['x-forwarded-for']),
  };
  const sock = req.socket as TLSSocket;
  if (sock.encrypted) info.tls = { authorized: sock.authorized, clientCertSha256: clientCertThumbprint(sock) };
  return info;
}

/** RFC 8705 x5t#S256 of the client certificate: base64url(SHA-256(DER)), once per connection. */
function clientCertThumbprint(sock: TLSSocket): string | undefined {
  let t = certThumbprints.get(sock);
  if (t === undefined) {
    const cert = sock.getPeerCertificate();
    t = cert && cert.raw ? createHash('sha256').update(cert.raw).digest('base64url') : null;
    certThumbprints.set(sock, t);
  }
  return t ?? undefined;
}
