/**
 * OpenTelemetry traces: one SERVER span per request, an INTERNAL child per stage and a
 * CLIENT child for the upstream call, exported by OTLP over HTTP (JSON). The provider
 * belongs to the gateway (not registered globally), and parent contexts are passed
 * explicitly, so no async-hooks context manager runs on the hot path and several
 * gateways can share a process.
 *
 * Trace context: a client's W3C `traceparent` is continued only when the socket peer is
 * trusted (`tracing.trustTraceparentFrom`); the upstream always receives a `traceparent`,
 * the gateway's own (its upstream span), also when tracing is off.
 *
 * The SDK (otel-sdk.ts) is loaded only when tracing is on: importing it costs a few
 * hundred milliseconds of start-up that a gateway without tracing should not pay.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Attributes, type Context, type Span } from '@opentelemetry/api';
import type { tracing as sdk } from '@opentelemetry/sdk-node';
import { TrustedProxies } from '../server/client-address.js';
import type { TracingConfig } from './config.js';
import type { OtelSdk } from './otel-sdk.js';

/** What the exporter reports, for a metric or a log line. */
export type ExportResultListener = (ok: boolean, spans: number, err?: Error) => void;

export interface TracingOptions {
  version?: string;
  onExport?: ExportResultListener;
  /** Replaces the OTLP exporter (tests). */
  exporter?: sdk.SpanExporter;
}

// W3C Trace Context level 1: version-traceid-parentid-flags (version ff is invalid).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** The trace id of a valid W3C traceparent, else undefined. */
export function traceIdOf(tp: string): string | undefined {
  const m = TRACEPARENT.exec(tp.trim());
  if (!m || m[1] === 'ff' || (m[1] === '00' && m[5] !== undefined) || m[2] === ZERO_TRACE || m[3] === ZERO_SPAN) return undefined;
  return m[2];
}

// Random ids from a pooled buffer: one getrandom call per 256 requests, not one each.
let pool = Buffer.alloc(0);
let poolAt = 0;
function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    pool = randomBytes(6144);
    poolAt = 0;
  }
  const s = pool.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  return s;
}

/** The tracer of one gateway. When tracing is off it still writes upstream trace context. */
export class Tracing {
  private readonly trusted: TrustedProxies;

  private constructor(
    cfg: TracingConfig,
    private readonly sdk: OtelSdk | undefined,
  ) {
    this.trusted = new TrustedProxies(cfg.trustTraceparentFrom);
  }

  static async create(cfg: TracingConfig, opts: TracingOptions = {}): Promise<Tracing> {
    if (!cfg.enabled) return new Tracing(cfg, undefined);
    const { startOtelSdk } = await import('./otel-sdk.js');
    return new Tracing(cfg, startOtelSdk(cfg, opts));
  }

  get enabled(): boolean {
    return this.sdk !== undefined;
  }

  /** Whether `peer` (the socket address) may set the trace parent. */
  trusts(peer: string): boolean {
    return this.trusted.has(peer);
  }

  /** The parent context from a trusted client's headers, else the root. */
  parentFrom(headers: IncomingHttpHeaders, peer: string): Context {
    if (!this.sdk || !headers.traceparent || !this.trusts(peer)) return ROOT_CONTEXT;
    return this.sdk.extract(headers);
  }

  /** Starts a span (undefined when tracing is off). `start` is a performance.now() time or omitted. */
  start(name: string, kind: SpanKind, parent: Context, attributes: Attributes, start?: number): Span | undefined {
    return this.sdk?.tracer.startSpan(name, { kind, attributes, startTime: start }, parent);
  }

  /**
   * Sets the trace context headers for the upstream: `span`'s context when there is one;
   * with tracing off, the trusted client's context as it came, else a fresh trace id.
   * Returns the trace id sent.
   */
  inject(headers: Record<string, string | string[]>, span: Span | undefined, incoming: IncomingHttpHeaders, peer: string): string {
    delete headers.traceparent;
    delete headers.tracestate;
    if (span) {
      const sc = span.spanContext();
      headers.traceparent = `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & 1}`;
      const ts = sc.traceState?.serialize();
      if (ts) headers.tracestate = ts;
      return sc.traceId;
    }
    const tp = incoming.traceparent;
    if (typeof tp === 'string' && this.trusts(peer)) {
      const traceId = traceIdOf(tp);
      if (traceId) {
        headers.traceparent = tp;
        if (typeof incoming.tracestate === 'string') headers.tracestate = incoming.tracestate;
        return traceId;
      }
    }
    // Tracing off and nothing trusted to continue: a new, unsampled trace, so that the
    // upstream's logs can still be joined with the audit record (which carries the id).
    const traceId = randomHex(16);
    headers.traceparent = `00-${traceId}-${randomHex(8)}-00`;
    return traceId;
  }

  /** Exports what is buffered. */
  async flush(): Promise<void> {
    await this.sdk?.flush();
  }

  /** Flushes and stops the exporter. */
  async close(): Promise<void> {
    await this.sdk?.close();
  }
}

/** Ends `span` with an error status. */
export function failSpan(span: Span, errorType: string, err?: unknown): void {
  span.setAttribute('error.type', errorType);
  if (err instanceof Error) span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
}

export { SpanKind };
