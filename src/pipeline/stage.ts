/**
 * A stage is one job of the pipeline (DESIGN.md): identify, authorize, parse, limit,
 * inspect, defend, account. It returns decisions; it never writes an HTTP reply and
 * never writes telemetry (the runner observes it).
 */
import type { ModelRuntime } from '../runtime.js';
import type { RequestContext } from './context.js';
import type { Decision, HttpInfo, InferenceResponse, Outcome } from './types.js';

export interface Stage {
  readonly name: string;
  /** Request side, in pipeline order. A denial ends the request with its registered error. */
  request?(ctx: RequestContext): Decision | Promise<Decision>;
  /**
   * Whether this request's response must pass through `response` (buffered JSON or SSE
   * event by event). When no stage wants it, the upstream body streams through untouched.
   */
  wantsResponse?(ctx: RequestContext): boolean;
  /**
   * Response side, in reverse pipeline order: once for a JSON body, or once per SSE event.
   * It may change `res` in place. A denial replaces a JSON response with the error, or
   * ends an SSE stream with a final error event.
   */
  response?(ctx: RequestContext, res: InferenceResponse): Decision | void | Promise<Decision | void>;
  /** Always called once the request is over, in reverse order, for every stage whose request hook ran. */
  done?(ctx: RequestContext, outcome: Outcome): void;
  /**
   * Model discovery (GET /v1/models, GET /v1/models/{name}), which the gateway answers
   * without running the pipeline: the subset of `models` this caller may call now. It may
   * throw a GatewayError (a 401 for a bad credential).
   */
  visibleModels?(http: HttpInfo, models: readonly ModelRuntime[]): Promise<readonly ModelRuntime[]>;
  /** Releases what the stage holds (sessions, timers) when its runtime is retired. */
  close?(): Promise<void> | void;
}

/**
 * Sees every stage call; telemetry (spans, histograms, the audit record) plugs in here,
 * so stages stay free of telemetry code. A throwing observer never fails a request (the
 * runner guards every call).
 *
 * Per request the calls come in this order: `requestStart`, then `stageStart`/`stageEnd`
 * around every stage call, `upstreamStart`/`upstreamEnd` around the upstream call (when
 * the request is forwarded), and `requestDone` once at the end. A request the gateway
 * answers before a context exists (no route, unknown model, unreadable body) gets one
 * `requestRejected` and nothing else.
 */
export interface StageObserver {
  /** Before the first stage: the request span starts here (its start time is `ctx.startedAt`). */
  requestStart?(ctx: RequestContext): void;
  stageStart?(ctx: RequestContext, stage: string, side: 'request' | 'response'): unknown;
  stageEnd?(ctx: RequestContext, stage: string, side: 'request' | 'response', token: unknown, decision: Decision | undefined, error?: unknown): void;
  /**
   * Just before the upstream call, with the headers that will be sent: the observer may
   * set trace context headers (W3C `traceparent`) in `headers`.
   */
  upstreamStart?(ctx: RequestContext, headers: Record<string, string | string[]>): void;
  /** When the upstream answered with its status line and headers, or failed with `code`. */
  upstreamEnd?(ctx: RequestContext, status: number | undefined, code?: string): void;
  requestDone?(ctx: RequestContext, outcome: Outcome): void;
  /** A request answered with an error before any stage could run. */
  requestRejected?(info: RejectedRequest): void;
}

/** What is known of a request refused before the pipeline (see `StageObserver.requestRejected`). */
export interface RejectedRequest {
  id: string;
  /** Date.now() at arrival. */
  receivedAt: number;
  method: string;
  /** Path without the query (not a metric label: it is unbounded). */
  path: string;
  clientAddress: string;
  status: number;
  code: string;
  durationMs: number;
}
