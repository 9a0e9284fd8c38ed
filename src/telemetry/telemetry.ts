/**
 * Telemetry, the one observer of the pipeline: it turns the runner's stage calls, the
 * upstream call and the end of each request into spans, metrics and the audit record,
 * so that stages carry no telemetry code. It is a long-lived service (built once by the
 * Gateway, kept across reloads) and also receives the gateway's own events (circuit
 * breakers, reloads, state-store fallback).
 *
 * @example
 * const telemetry = await Telemetry.create(config.telemetry, { resolvePath, logger });
 * services.observer = telemetry; services.events = telemetry;
 * // ... admin: GET /metrics → await telemetry.exposeMetrics()
 * await telemetry.close();
 */
import { ROOT_CONTEXT, trace, type Context, type Span } from '@opentelemetry/api';
import type { RequestContext } from '../pipeline/context.js';
import type { RejectedRequest, StageObserver } from '../pipeline/stage.js';
import type { Decision, Outcome } from '../pipeline/types.js';
import type { CircuitState } from '../proxy/circuit-breaker.js';
import type { GatewayEvents, Logger, TokenExchangeEvent } from '../services.js';
import { AuditLog, type AuditEntry } from './audit/log.js';
import { loadSigningKey } from './audit/keys.js';
import { rejectedRecord, requestRecord, tokenRecord } from './audit/record.js';
import type { TelemetryConfig } from './config.js';
import { GatewayMetrics } from './metrics.js';
import { AUTH_STAGES, LIMIT_STAGES, decisionOf, summarizeNotes, type DetectorResult } from './notes.js';
import { SpanKind, Tracing, failSpan } from './tracing.js';
import type { tracing as sdk } from '@opentelemetry/sdk-node';

/** Per-request telemetry state, kept on the context under a private symbol. */
interface RequestState {
  span?: Span;
  /** The context whose active span is `span`: the parent of the child spans. */
  parent?: Context;
  /** Response-side stage spans: one per stage, over all its calls (SSE events). */
  responseSpans?: Map<string, { span: Span; calls: number }>;
  upstreamSpan?: Span;
  upstreamStart: number;
  traceId?: string;
}

interface StageToken {
  t: number;
  span?: Span;
}

const STATE = Symbol('palisade.telemetry');
type Observed = RequestContext & { [STATE]?: RequestState };

// Upstream failures that can happen after the response started (counted at the end).
const LATE_UPSTREAM_CODES = new Set(['PALISADE_UPSTREAM_UNAVAILABLE', 'PALISADE_UPSTREAM_TIMEOUT', 'PALISADE_UPSTREAM_RESPONSE_TOO_LARGE', 'PALISADE_UPSTREAM_BAD_RESPONSE']);

// OpenTelemetry GenAI operation names of the OpenAI routes.
const GENAI_OPERATIONS: Record<string, string> = { chat: 'chat', completions: 'text_completion', embeddings: 'embeddings' };

export interface TelemetryOptions {
  /** Resolves a path of the config (relative to the config file). */
  resolvePath: (p: string) => string;
  logger: Logger;
  version?: string;
  /** Replaces the OTLP exporter (tests). */
  spanExporter?: sdk.SpanExporter;
  /** Extra fields of the audit log's start record. */
  auditStartInfo?: Record<string, unknown>;
}

export class Telemetry implements StageObserver, GatewayEvents {
  private readonly promptMode: 'hash' | 'full' | 'none';

  private constructor(
    readonly metrics: GatewayMetrics | undefined,
    readonly tracing: Tracing,
    readonly audit: AuditLog | undefined,
    private readonly logger: Logger,
    cfg: TelemetryConfig,
  ) {
    this.promptMode = cfg.audit?.prompt ?? 'hash';
  }

  /** Builds metrics, the tracer and (when configured) opens the audit log. */
  static async create(cfg: TelemetryConfig, opts: TelemetryOptions): Promise<Telemetry> {
    let audit: AuditLog | undefined;
    let auditDepth: (() => number) | undefined;
    const a = cfg.audit;
    if (a) auditDepth = () => audit?.depth ?? 0;
    const metrics = cfg.metrics.enabled ? new GatewayMetrics({ process: cfg.metrics.process, auditQueueDepth: auditDepth }) : undefined;
    const tracing = await Tracing.create(cfg.tracing, {
      version: opts.version,
      exporter: opts.spanExporter,
      onExport: (ok, n, err) => {
        metrics?.traceExport(ok, n);
        if (!ok) opts.logger.warn({ err, spans: n }, 'trace export failed');
      },
    });
    if (a) {
      const keyFile = opts.resolvePath(a.signingKey);
      const key = await loadSigningKey(keyFile);
      if (/[\\/]demo-keys[\\/]/.test(keyFile)) opts.logger.warn({ key: keyFile }, 'the audit log is signed with a DEMO key: anyone can forge its checkpoints; make your own with `palisade audit keygen`');
      try {
        audit = await AuditLog.open({
          dir: opts.resolvePath(a.dir),
          key,
          checkpointEvery: a.checkpointEvery,
          checkpointInterval: a.checkpointInterval,
          fsync: a.fsync,
          fsyncInterval: a.fsyncInterval,
          maxFileSize: a.maxFileSize,
          queueSize: a.queueSize,
          logger: opts.logger,
          startInfo: opts.auditStartInfo,
          hooks: metrics && {
            written: (type) => metrics.auditRecords.labels(type).inc(),
            dropped: () => metrics.auditDropped.inc(),
            writeError: () => metrics.auditWriteErrors.inc(),
            checkpoint: (seq) => metrics.auditCheckpointSeq.set(seq),
          },
        });
      } catch (err) {
        await tracing.close();
        throw err;
      }
    } else {
      opts.logger.warn('the audit log is off (telemetry.audit is not set)');
    }
    return new Telemetry(metrics, tracing, audit, opts.logger, cfg);
  }

  // --- StageObserver -------------------------------------------------------------

  requestStart(ctx: RequestContext): void {
    const st: RequestState = { upstreamStart: 0 };
    (ctx as Observed)[STATE] = st;
    this.metrics?.inflightDelta(1);
    if (!this.tracing.enabled) return;
    const h = ctx.http;
    const route = routeTemplate(ctx);
    const attrs: Record<string, string | number> = {
      'http.request.method': h.method,
      'http.route': route,
      'url.path': h.path,
      'url.scheme': h.tls ? 'https' : 'http',
      'client.address': h.clientAddress,
      'network.peer.address': h.remoteAddress,
      'palisade.request_id': ctx.id,
      'palisade.model': ctx.model.name,
      'palisade.route': ctx.route.operation,
      'palisade.protocol': ctx.route.protocol,
    };
    const ua = h.headers['user-agent'];
    if (typeof ua === 'string') attrs['user_agent.original'] = ua;
    const op = ctx.route.protocol === 'openai' ? GENAI_OPERATIONS[ctx.route.operation] : undefined;
    if (op) {
      attrs['gen_ai.operation.name'] = op;
      attrs['gen_ai.request.model'] = ctx.model.name;
    }
    st.span = this.tracing.start(`${h.method} ${route}`, SpanKind.SERVER, this.tracing.parentFrom(h.headers, h.remoteAddress), attrs, ctx.startedAt);
    if (st.span) st.parent = trace.setSpan(ROOT_CONTEXT, st.span);
  }

  stageStart(ctx: RequestContext, stage: string, side: 'request' | 'response'): unknown {
    const t = performance.now();
    const parent = (ctx as Observed)[STATE]?.parent;
    if (!parent || side === 'response') return t;
    const span = this.tracing.start(stage, SpanKind.INTERNAL, parent, { 'palisade.stage': stage, 'palisade.stage.side': side }, t);
    const token: StageToken = { t, span };
    return token;
  }

  stageEnd(ctx: RequestContext, stage: string, side: 'request' | 'response', token: unknown, decision: Decision | undefined, error?: unknown): void {
    const now = performance.now();
    const tok = token as StageToken | number | undefined;
    const t0 = typeof tok === 'number' ? tok : (tok?.t ?? now);
    this.metrics?.stage(stage, side, (now - t0) / 1000, error !== undefined);
    const st = (ctx as Observed)[STATE];
    if (!st?.span) return;
    let span = typeof tok === 'object' ? tok.span : undefined;
    if (side === 'response') {
      // One span per response stage, however many SSE events it saw; ended at requestDone.
      const spans = (st.responseSpans ??= new Map());
      let r = spans.get(stage);
      if (!r) {
        const s = this.tracing.start(stage, SpanKind.INTERNAL, st.parent!, { 'palisade.stage': stage, 'palisade.stage.side': side }, t0);
        if (!s) return;
        spans.set(stage, (r = { span: s, calls: 0 }));
      }
      r.calls++;
      span = r.span;
    }
    if (!span) return;
    if (decision) {
      span.setAttribute('palisade.decision', decision.allow ? 'allow' : 'deny');
      if (!decision.allow) span.setAttribute('palisade.error_code', decision.code);
      if (decision.notes) {
        const fired = summarizeNotes(decision.notes).fired;
        if (fired) setDetector(span, fired);
      }
    }
    if (error !== undefined) failSpan(span, 'PALISADE_INTERNAL', error);
    if (side === 'request') span.end(now);
  }

  upstreamStart(ctx: RequestContext, headers: Record<string, string | string[]>): void {
    const st = (ctx as Observed)[STATE];
    const t = performance.now();
    let span: Span | undefined;
    if (st?.parent) {
      const up = ctx.model.upstream;
      const url = new URL(up.config.url);
      span = this.tracing.start(
        ctx.http.method,
        SpanKind.CLIENT,
        st.parent,
        {
          'http.request.method': ctx.http.method,
          'server.address': url.hostname,
          'server.port': Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
          'url.full': `${up.origin}${url.pathname.replace(/\/+$/, '')}${ctx.route.upstreamPath}`,
          'palisade.upstream': up.name,
        },
        t,
      );
    }
    const traceId = this.tracing.inject(headers, span, ctx.http.headers, ctx.http.remoteAddress);
    if (st) {
      st.upstreamStart = t;
      st.upstreamSpan = span;
      st.traceId = traceId;
    }
  }

  upstreamEnd(ctx: RequestContext, status: number | undefined, code?: string): void {
    const st = (ctx as Observed)[STATE];
    const name = ctx.model.upstream.name;
    const m = this.metrics;
    if (m && st && code !== 'PALISADE_CLIENT_CLOSED' && code !== 'PALISADE_CIRCUIT_OPEN') {
      m.upstream(name, status ?? 'error', (performance.now() - st.upstreamStart) / 1000);
    }
    if (code !== undefined && code !== 'PALISADE_CLIENT_CLOSED') m?.upstreamError(name, code);
    const span = st?.upstreamSpan;
    if (!span) return;
    if (status !== undefined) {
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) failSpan(span, String(status));
    } else {
      failSpan(span, code ?? 'error');
      span.end();
      st.upstreamSpan = undefined;
    }
  }

  requestDone(ctx: RequestContext, outcome: Outcome): void {
    const st = (ctx as Observed)[STATE];
    const s = summarizeNotes(ctx.notes);
    const decision = decisionOf(outcome, s);
    const m = this.metrics;
    if (m) {
      if (st) m.inflightDelta(-1);
      const seconds = outcome.durationMs / 1000;
      m.request(ctx.model.name, ctx.route.operation, outcome.status, decision, seconds);
      const by = outcome.deniedBy;
      if (by !== undefined && outcome.code !== undefined) {
        m.block(outcome.code, by);
        if (AUTH_STAGES.has(by)) m.authFailure(outcome.code);
        else if (LIMIT_STAGES.has(by)) m.rateLimited(refusedLimit(s.limits) ?? 'unknown');
      }
      for (const d of s.detectors) m.detector(d.name, d.verdict, d.score, d.latencyMs);
      const u = outcome.usage;
      if (u) m.tokensUsed(ctx.model.name, u.inputTokens, u.outputTokens);
      if (outcome.upstreamStatus !== undefined && outcome.code !== undefined && by === undefined && LATE_UPSTREAM_CODES.has(outcome.code)) {
        m.upstreamError(ctx.model.upstream.name, outcome.code);
      }
      const op = ctx.route.protocol === 'openai' ? GENAI_OPERATIONS[ctx.route.operation] : undefined;
      if (op && by === undefined) {
        const ttft = ctx.request?.params.stream && outcome.firstByteMs !== undefined ? outcome.firstByteMs / 1000 : undefined;
        m.genai(op, ctx.model.name, seconds, outcome.status >= 400 ? (outcome.code ?? String(outcome.status)) : '', u?.inputTokens, u?.outputTokens, ttft);
      }
    }
    if (st?.span) this.endSpans(ctx, st, st.span, outcome, decision, s.fired);
    this.audit?.append(requestRecord(ctx, outcome, s, decision, this.promptMode, st?.traceId ?? st?.span?.spanContext().traceId));
  }

  requestRejected(info: RejectedRequest): void {
    this.metrics?.request('', '', info.status, 'reject', info.durationMs / 1000);
    this.audit?.append(rejectedRecord(info));
  }

  // --- GatewayEvents -------------------------------------------------------------

  onBreakerChange(upstream: string, state: CircuitState): void {
    this.metrics?.breaker(upstream, state, true);
    const log = state === 'open' ? this.logger.warn : this.logger.info;
    log.call(this.logger, { upstream, state }, 'circuit breaker changed state');
  }

  onReload(ok: boolean): void {
    this.metrics?.reload(ok);
  }

  onStateFallback(active: boolean): void {
    this.metrics?.setStateFallback(active);
  }

  onTokenExchange(e: TokenExchangeEvent): void {
    this.audit?.append(tokenRecord(e));
  }

  /**
   * Sets the breaker gauges to the upstreams now serving (at start and after a reload:
   * a rebuilt upstream starts closed, a removed one disappears).
   */
  activeUpstreams(upstreams: ReadonlyMap<string, { breaker: { state: CircuitState } }>, previous?: Iterable<string>): void {
    const m = this.metrics;
    if (!m) return;
    for (const name of previous ?? []) if (!upstreams.has(name)) m.dropBreaker(name);
    for (const [name, u] of upstreams) m.breaker(name, u.breaker.state, false);
  }

  /** Writes an audit record that is not about one request (e.g. a config reload). */
  auditEvent(entry: AuditEntry): void {
    this.audit?.append(entry);
  }

  /** The Prometheus exposition, or undefined when metrics are off. */
  async exposeMetrics(): Promise<{ contentType: string; body: string } | undefined> {
    return this.metrics?.expose();
  }

  /** Exports buffered spans and writes queued audit records (tests, drain). */
  async flush(): Promise<void> {
    await Promise.all([this.tracing.flush(), this.audit?.flush()]);
  }

  /** Flushes and closes the exporter and the audit log (its closing checkpoint). */
  async close(): Promise<void> {
    const r = await Promise.allSettled([this.tracing.close(), this.audit?.close()]);
    for (const x of r) if (x.status === 'rejected') this.logger.error({ err: x.reason }, 'closing telemetry failed');
  }

  private endSpans(ctx: RequestContext, st: RequestState, span: Span, outcome: Outcome, decision: string, fired: DetectorResult | undefined): void {
    if (st.responseSpans) {
      for (const { span: s, calls } of st.responseSpans.values()) {
        s.setAttribute('palisade.stage.calls', calls);
        s.end();
      }
    }
    const up = st.upstreamSpan;
    if (up) {
      if (outcome.code !== undefined && outcome.deniedBy === undefined && LATE_UPSTREAM_CODES.has(outcome.code)) failSpan(up, outcome.code);
      up.end();
    }
    span.setAttribute('http.response.status_code', outcome.status);
    span.setAttribute('palisade.decision', decision);
    if (outcome.code !== undefined) span.setAttribute('palisade.error_code', outcome.code);
    if (outcome.deniedBy !== undefined) span.setAttribute('palisade.denied_by', outcome.deniedBy);
    if (fired) setDetector(span, fired);
    const p = ctx.principal;
    if (p?.tenant !== undefined) span.setAttribute('palisade.tenant', p.tenant);
    if (p) span.setAttribute('palisade.principal.via', p.via);
    const u = outcome.usage;
    if (u?.inputTokens !== undefined) span.setAttribute('gen_ai.usage.input_tokens', u.inputTokens);
    if (u?.outputTokens !== undefined) span.setAttribute('gen_ai.usage.output_tokens', u.outputTokens);
    const mt = ctx.request?.params.maxTokens;
    if (mt !== undefined && span.isRecording()) span.setAttribute('gen_ai.request.max_tokens', mt);
    if (outcome.aborted) span.setAttribute('palisade.aborted', true);
    if (outcome.status >= 500) failSpan(span, outcome.code ?? String(outcome.status));
    span.end();
  }
}

function setDetector(span: Span, d: DetectorResult): void {
  span.setAttribute('palisade.detector', d.name);
  span.setAttribute('palisade.detector.verdict', d.verdict);
  if (d.score !== undefined) span.setAttribute('palisade.detector.score', d.score);
}

function refusedLimit(limits: readonly { kind: string; shadow?: boolean }[]): string | undefined {
  for (let i = limits.length - 1; i >= 0; i--) if (!limits[i].shadow) return limits[i].kind;
  return undefined;
}

/** The route as a template (`/v2/models/{model}/infer`): low cardinality, for span names. */
function routeTemplate(ctx: RequestContext): string {
  const r = ctx.route;
  if (r.protocol === 'raw') return `${ctx.model.config.pathPrefix ?? `/raw/${ctx.model.name}`}/*`;
  let path = ctx.http.path;
  if (r.modelFromPath !== undefined) path = path.replace(`/models/${r.modelFromPath}`, '/models/{model}');
  if (r.version !== undefined) path = path.replace(`/versions/${r.version}`, '/versions/{version}');
  return path;
}
