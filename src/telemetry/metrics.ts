/**
 * The Prometheus metrics of the gateway (prom-client), one registry per gateway so that
 * tests can run several. Every metric is declared here with its labels, and the label
 * values are bounded: models, routes, upstreams, stages and detectors come from the
 * config and the code, codes from the error registry, and every label goes through a
 * cap. Never a principal, a token or a prompt. docs/telemetry.md lists the same set.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { CircuitState } from '../proxy/circuit-breaker.js';
import { ERRORS } from '../pipeline/errors.js';
import { CounterChild, FastCounter, FastHistogram, HistogramChild } from './fast-metrics.js';
import { BoundedLabel, Cache2, Cache4 } from './labels.js';

const S_REQUEST = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const S_STAGE = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const SCORE = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1];
// OpenTelemetry GenAI semantic conventions: the advised bucket boundaries.
const GENAI_TOKENS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const GENAI_DURATION = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const GENAI_TTFT = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

const BREAKER_STATES: readonly CircuitState[] = ['closed', 'half-open', 'open'];

type HChild = HistogramChild;
type CChild = CounterChild;

interface RequestChildren {
  count: CChild;
  duration: HChild;
}

interface GenaiChildren {
  duration: Map<string, HChild>;
  input: HChild;
  output: HChild;
  ttft: HChild;
}

interface DetectorChildren {
  verdicts: Map<string, CChild>;
  score: HChild;
  duration: HChild;
}

/** The metric handles, with cached label children for the per-request work. */
export class GatewayMetrics {
  readonly registry = new Registry();

  private readonly requests: FastCounter;
  private readonly requestDuration: FastHistogram;
  private inflightCount = 0;
  private readonly stageDuration: FastHistogram;
  private readonly stageErrors: FastCounter;
  private readonly genaiTokens: FastHistogram;
  private readonly genaiDuration: FastHistogram;
  private readonly genaiTtft: FastHistogram;
  private readonly upstreamDuration: FastHistogram;
  private readonly upstreamErrors: Counter;
  private readonly breakerState: Gauge;
  private readonly breakerTransitions: Counter;
  private readonly detectorScore: FastHistogram;
  private readonly detectorDuration: FastHistogram;
  private readonly detectorVerdicts: FastCounter;
  private readonly blocks: FastCounter;
  private readonly rateLimitRefusals: FastCounter;
  private readonly authFailures: FastCounter;
  private readonly tokens: FastCounter;
  private readonly reloads: Counter;
  private readonly lastReload: Gauge;
  private readonly stateFallback: Gauge;
  readonly auditRecords: Counter;
  readonly auditDropped: Counter;
  readonly auditWriteErrors: Counter;
  readonly auditCheckpointSeq: Gauge;
  private readonly traceSpans: Counter;

  private readonly requestChildren: Cache4<RequestChildren>;
  private readonly stageChildren: Cache2<HChild>;
  private readonly stageErrorChildren: Cache2<CChild>;
  private readonly upstreamChildren: Cache2<HChild>;
  private readonly genaiChildren: Cache2<GenaiChildren>;
  private readonly tokenChildren = new Map<string, [CChild, CChild]>();
  private readonly detectorChildren = new Map<string, DetectorChildren>();
  private readonly blockChildren: Cache2<CChild>;
  private readonly authChildren = new Map<string, CChild>();
  private readonly refusalChildren = new Map<string, CChild>();
  private readonly models = new BoundedLabel();
  private readonly names = new BoundedLabel();
  private readonly kinds = new BoundedLabel(50);

  constructor(opts: { process: boolean; auditQueueDepth?: () => number }) {
    const registers = [this.registry];
    const counter = (name: string, help: string, labelNames: string[] = []) => new Counter({ name, help, labelNames, registers });
    const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers });
    // The per-request metrics: children with no per-call label hashing (fast-metrics.ts).
    const fastCounter = (name: string, help: string, labelNames: string[]) => new FastCounter({ name, help, labelNames, registers });
    const histogram = (name: string, help: string, labelNames: string[], buckets: number[]) =>
      new FastHistogram({ name, help, labelNames, buckets, registers });

    const R = ['model', 'route', 'status', 'decision'];
    this.requests = fastCounter('palisade_requests_total', 'Requests answered, by model, route (operation), status and decision.', R);
    this.requestDuration = histogram(
      'palisade_request_duration_seconds',
      'Time from arrival to the end of the response, by model, route, status and decision.',
      R,
      S_REQUEST,
    );
    const metrics = this;
    new Gauge({
      name: 'palisade_requests_in_flight',
      help: 'Requests between their first stage and their end.',
      registers,
      collect() {
        this.set(metrics.inflightCount);
      },
    });
    this.stageDuration = histogram(
      'palisade_stage_duration_seconds',
      'Time spent in one call of a pipeline stage (the overhead it adds), by stage and side (request or response).',
      ['stage', 'side'],
      S_STAGE,
    );
    this.stageErrors = fastCounter('palisade_stage_errors_total', 'Stage calls that threw (each denied with PALISADE_INTERNAL).', ['stage', 'side']);
    const G = ['gen_ai_operation_name', 'gen_ai_request_model'];
    this.genaiTokens = histogram(
      'gen_ai_client_token_usage',
      'OpenTelemetry GenAI: tokens used per request ({token}), by operation, model and token type (input or output).',
      [...G, 'gen_ai_token_type'],
      GENAI_TOKENS,
    );
    this.genaiDuration = histogram(
      'gen_ai_server_request_duration',
      'OpenTelemetry GenAI: seconds from arrival to the end of the response of a GenAI request, by operation, model and error type.',
      [...G, 'error_type'],
      GENAI_DURATION,
    );
    this.genaiTtft = histogram(
      'gen_ai_server_time_to_first_token',
      'OpenTelemetry GenAI: seconds from arrival to the first streamed bytes of the model answer (streamed requests).',
      G,
      GENAI_TTFT,
    );
    this.upstreamDuration = histogram(
      'palisade_upstream_duration_seconds',
      'Time from sending the request upstream to its response headers, by upstream and status ("error" when it failed).',
      ['upstream', 'status'],
      S_REQUEST,
    );
    this.upstreamErrors = counter(
      'palisade_upstream_errors_total',
      'Upstream calls that failed (refused, reset, timed out, too large, unreadable, circuit open), by upstream and code.',
      ['upstream', 'code'],
    );
    this.breakerState = gauge('palisade_circuit_breaker_state', 'Circuit breaker state of each upstream: 1 for the current state, 0 for the others.', [
      'upstream',
      'state',
    ]);
    this.breakerTransitions = counter('palisade_circuit_breaker_transitions_total', 'Circuit breaker state changes, by upstream and new state.', [
      'upstream',
      'state',
    ]);
    this.detectorScore = histogram('palisade_detector_score', 'Scores given by each detector (0..1).', ['detector'], SCORE);
    this.detectorDuration = histogram('palisade_detector_duration_seconds', 'Time each detector took on a request.', ['detector'], S_STAGE);
    this.detectorVerdicts = fastCounter('palisade_detector_verdicts_total', 'Detector verdicts (pass, flag, block), by detector.', ['detector', 'verdict']);
    this.blocks = fastCounter('palisade_blocks_total', 'Requests denied by a stage, by reason code and stage.', ['code', 'stage']);
    this.rateLimitRefusals = fastCounter('palisade_rate_limit_refusals_total', 'Requests refused by a limit, by limit kind.', ['kind']);
    this.authFailures = fastCounter('palisade_auth_failures_total', 'Authentication and authorization failures, by code.', ['code']);
    this.tokens = fastCounter('palisade_tokens_total', 'Tokens reported by upstreams, by model and type (input or output).', ['model', 'type']);
    this.reloads = counter('palisade_config_reloads_total', 'Config reloads, by result (success or failure).', ['result']);
    this.lastReload = gauge('palisade_config_last_reload_success_timestamp_seconds', 'When the serving config was last loaded successfully.');
    this.stateFallback = gauge(
      'palisade_state_store_fallback',
      '1 while the gateway serves from local memory because the shared state store is unreachable.',
    );
    this.auditRecords = counter('palisade_audit_records_total', 'Audit records written (requests, checkpoints, start and gap records).', ['type']);
    this.auditDropped = counter('palisade_audit_dropped_total', 'Audit records dropped because the write queue was full.');
    this.auditWriteErrors = counter('palisade_audit_write_errors_total', 'Failed writes to the audit log (retried).');
    this.auditCheckpointSeq = gauge(
      'palisade_audit_checkpoint_seq',
      'Sequence number of the last signed checkpoint: an external anchor for `palisade audit verify --expect-seq`.',
    );
    this.traceSpans = counter('palisade_trace_spans_exported_total', 'Spans sent to the OTLP endpoint, by result (success or failure).', ['result']);
    if (opts.auditQueueDepth) {
      const depth = opts.auditQueueDepth;
      new Gauge({
        name: 'palisade_audit_queue_depth',
        help: 'Audit records waiting to be written.',
        registers,
        collect() {
          this.set(depth());
        },
      });
    }
    if (opts.process) collectDefaultMetrics({ register: this.registry });

    this.lastReload.setToCurrentTime();
    this.stateFallback.set(0);
    this.requestChildren = new Cache4((m, r, s, d) => {
      const labels = [String(m), String(r), String(s), String(d)];
      return { count: this.requests.labels(...labels), duration: this.requestDuration.labels(...labels) };
    });
    this.stageChildren = new Cache2((st, side) => this.stageDuration.labels(this.names.value(String(st)), String(side)));
    this.stageErrorChildren = new Cache2((st, side) => this.stageErrors.labels(this.names.value(String(st)), String(side)));
    this.upstreamChildren = new Cache2((u, s) => this.upstreamDuration.labels(String(u), String(s)));
    this.genaiChildren = new Cache2((op, model) => {
      const o = String(op);
      const m = String(model);
      return {
        duration: new Map(),
        input: this.genaiTokens.labels(o, m, 'input'),
        output: this.genaiTokens.labels(o, m, 'output'),
        ttft: this.genaiTtft.labels(o, m),
      };
    });
    this.blockChildren = new Cache2((code, stage) => this.blocks.labels(String(code), String(stage)));
  }

  stage(stage: string, side: 'request' | 'response', seconds: number, threw: boolean): void {
    this.stageChildren.get(stage, side).observe(seconds);
    if (threw) this.stageErrorChildren.get(stage, side).inc();
  }

  request(model: string, route: string, status: number, decision: string, seconds: number): void {
    const c = this.requestChildren.get(model === '' ? '' : this.models.value(model), route, status, decision);
    c.count.inc();
    c.duration.observe(seconds);
  }

  inflightDelta(d: 1 | -1): void {
    this.inflightCount += d;
  }

  genai(operation: string, model: string, seconds: number, errorType: string, input?: number, output?: number, ttftSeconds?: number): void {
    const m = this.models.value(model);
    const c = this.genaiChildren.get(operation, m);
    const e = registeredOrEmpty(errorType);
    let d = c.duration.get(e);
    if (!d) c.duration.set(e, (d = this.genaiDuration.labels(operation, m, e)));
    d.observe(seconds);
    if (input !== undefined) c.input.observe(input);
    if (output !== undefined) c.output.observe(output);
    if (ttftSeconds !== undefined) c.ttft.observe(ttftSeconds);
  }

  tokensUsed(model: string, input?: number, output?: number): void {
    const m = this.models.value(model);
    let c = this.tokenChildren.get(m);
    if (!c) this.tokenChildren.set(m, (c = [this.tokens.labels(m, 'input'), this.tokens.labels(m, 'output')]));
    if (input) c[0].inc(input);
    if (output) c[1].inc(output);
  }

  upstream(upstream: string, status: number | 'error', seconds: number): void {
    this.upstreamChildren.get(upstream, status).observe(seconds);
  }

  upstreamError(upstream: string, code: string): void {
    this.upstreamErrors.labels(upstream, code).inc();
  }

  breaker(upstream: string, state: CircuitState, transition: boolean): void {
    for (const s of BREAKER_STATES) this.breakerState.labels(upstream, s).set(s === state ? 1 : 0);
    if (transition) this.breakerTransitions.labels(upstream, state).inc();
  }

  /** Forgets the breaker series of upstreams no longer configured. */
  dropBreaker(upstream: string): void {
    for (const s of BREAKER_STATES) this.breakerState.remove(upstream, s);
  }

  detector(name: string, verdict: string, score?: number, latencyMs?: number): void {
    // Caches are keyed by the bounded value, so they are bounded too.
    const d = this.names.value(name);
    let c = this.detectorChildren.get(d);
    if (!c) {
      c = { verdicts: new Map(), score: this.detectorScore.labels(d), duration: this.detectorDuration.labels(d) };
      this.detectorChildren.set(d, c);
    }
    let v = c.verdicts.get(verdict);
    if (!v) c.verdicts.set(verdict, (v = this.detectorVerdicts.labels(d, verdict)));
    v.inc();
    if (score !== undefined) c.score.observe(score);
    if (latencyMs !== undefined) c.duration.observe(latencyMs / 1000);
  }

  block(code: string, stage: string): void {
    this.blockChildren.get(registeredCode(code), this.names.value(stage)).inc();
  }

  rateLimited(kind: string): void {
    const k = this.kinds.value(kind);
    let c = this.refusalChildren.get(k);
    if (!c) this.refusalChildren.set(k, (c = this.rateLimitRefusals.labels(k)));
    c.inc();
  }

  authFailure(code: string): void {
    const k = registeredCode(code);
    let c = this.authChildren.get(k);
    if (!c) this.authChildren.set(k, (c = this.authFailures.labels(k)));
    c.inc();
  }

  reload(ok: boolean): void {
    this.reloads.labels(ok ? 'success' : 'failure').inc();
    if (ok) this.lastReload.setToCurrentTime();
  }

  traceExport(ok: boolean, spans: number): void {
    this.traceSpans.labels(ok ? 'success' : 'failure').inc(spans);
  }

  setStateFallback(active: boolean): void {
    this.stateFallback.set(active ? 1 : 0);
  }

  /** The exposition text and its content type. */
  async expose(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** `error_type`: empty for success, a registered code, an HTTP status, else `other`. */
function registeredOrEmpty(t: string): string {
  return t === '' || /^\d{3}$/.test(t) ? t : registeredCode(t);
}

/** A code from the error registry, else `other` (a code is a label: it must be bounded). */
export function registeredCode(code: string): string {
  return Object.hasOwn(ERRORS, code) ? code : 'other';
}
