/**
 * The OpenTelemetry SDK part of tracing, loaded only when tracing is on: a tracer
 * provider of this gateway (not registered globally), parent-based ratio sampling, a
 * batch span processor and the OTLP/HTTP exporter (JSON encoding).
 */
import { ROOT_CONTEXT, defaultTextMapGetter, type Context, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { core, resources, tracing as sdk } from '@opentelemetry/sdk-node';
import type { IncomingHttpHeaders } from 'node:http';
import type { TracingConfig } from './config.js';
import type { ExportResultListener, TracingOptions } from './tracing.js';

export interface OtelSdk {
  tracer: Tracer;
  /** The context of a client's traceparent/tracestate headers. */
  extract(headers: IncomingHttpHeaders): Context;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function startOtelSdk(cfg: TracingConfig, opts: TracingOptions): OtelSdk {
  const inner = opts.exporter ?? new OTLPTraceExporter({ url: cfg.endpoint, headers: { ...cfg.headers }, timeoutMillis: cfg.exportTimeout });
  const exporter = opts.onExport ? countingExporter(inner, opts.onExport) : inner;
  const provider = new sdk.BasicTracerProvider({
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
  const propagator = new core.W3CTraceContextPropagator();
  return {
    tracer: provider.getTracer('palisade', opts.version),
    extract: (headers) => propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter),
    flush: () => provider.forceFlush(),
    close: () => provider.shutdown(),
  };
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
