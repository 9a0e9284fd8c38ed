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
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  defaultTextMapGetter,
  defaultTextMapSetter,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { core, resources, tracing as sdk } from '@opentelemetry/sdk-node';
import { TrustedProxies } from '../server/client-address.js';
import type { TracingConfig } from './config.js';

/** What the exporter reports, for a metric. */
export type ExportResultListener = (ok: boolean, spans: number, err?: Error) => void;

/** The tracer of one gateway. When tracing is off it still writes upstream trace context. */
export class Tracing {
  readonly enabled: boolean;
  private readonly provider?: sdk.BasicTracerProvider;
  private readonly tracer?: ReturnType<sdk.BasicTracerProvider['getTracer']>;
  private readonly propagator = new core.W3CTraceContextPropagator();
  private readonly trusted: TrustedProxies;

  /**
   * @param exporter replaces the OTLP exporter (tests); by default OTLP/HTTP to `cfg.endpoint`.
   */
  constructor(cfg: TracingConfig, opts: { version?: string; onExport?: ExportResultListener; exporter?: sdk.SpanExporter } = {}) {
    this.enabled = cfg.enabled;
    this.trusted = new TrustedProxies(cfg.trustTraceparentFrom);
    if (!cfg.enabled) return;
    const inner =
      opts.exporter ??
      new OTLPTraceExporter({ url: cfg.endpoint, headers: { ...cfg.headers }, timeoutMillis: cfg.exportTimeout });
    const exporter = opts.onExport ? countingExporter(inner, opts.onExport) : inner;
    this.provider = new sdk.BasicTracerProvider({
      resource: resources.resourceFromAttributes({ 'service.name': cfg.serviceName, 'service.version': opts.version ?? '' }),
      sampler: new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(cfg.samplingRatio) }),
      spanProcessors: [
        new sdk.BatchSpanProcessor(exporter, {
          maxQueueSize: cfg.maxQueueSize,
          maxExportBatchSize: Math.min(512, cfg.maxQueueSize),
          exportTimeoutMillis: cfg.exportTimeout,
        }),
      ],
    });
    this.tracer = this.provider.getTracer('palisade', opts.version);
  }

  /** Whether `peer` (the socket address) may set the trace parent. */
  trusts(peer: string): boolean {
    return this.trusted.has(peer);
  }

  /** The parent context from a trusted client's headers, else the root. */
  parentFrom(headers: IncomingHttpHeaders, peer: string): Context {
    if (!headers.traceparent || !this.trusts(peer)) return ROOT_CONTEXT;
    return this.propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
  }

  /** Starts a span (undefined when tracing is off). `start` is a performance.now() time or omitted. */
  start(name: string, kind: SpanKind, parent: Context, attributes: Attributes, start?: number): Span | undefined {
    return this.tracer?.startSpan(name, { kind, attributes, startTime: start }, parent);
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
      this.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, defaultTextMapSetter);
      return span.spanContext().traceId;
    }
    const tp = incoming.traceparent;
    if (typeof tp === 'string' && this.trusts(peer)) {
      const parsed = core.parseTraceParent(tp);
      if (parsed) {
        headers.traceparent = tp;
        if (typeof incoming.tracestate === 'string') headers.tracestate = incoming.tracestate;
        return parsed.traceId;
      }
    }
    // Tracing off and nothing trusted to continue: a new, unsampled trace, so that the
    // upstream's logs can still be joined with the audit record (which carries the id).
    const id = randomBytes(24).toString('hex');
    headers.traceparent = `00-${id.slice(0, 32)}-${id.slice(32)}-00`;
    return id.slice(0, 32);
  }

  /** Exports what is buffered. */
  async flush(): Promise<void> {
    await this.provider?.forceFlush();
  }

  /** Flushes and stops the exporter. */
  async close(): Promise<void> {
    await this.provider?.shutdown();
  }
}

/** Ends `span` with an error status. */
export function failSpan(span: Span, errorType: string, err?: unknown): void {
  span.setAttribute('error.type', errorType);
  if (err instanceof Error) span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
}

function countingExporter(inner: sdk.SpanExporter, onExport: ExportResultListener): sdk.SpanExporter {
  return {
    export(spans, done) {
      inner.export(spans, (r) => {
        try {
          onExport(r.code === core.ExportResultCode.SUCCESS, spans.length, r.error);
        } finally {
          done(r);
        }
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}

export { SpanKind };
