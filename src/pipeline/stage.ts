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
 * Sees every stage call; telemetry (spans, histograms) plugs in here, so stages stay free
 * of telemetry code. A throwing observer never fails a request (the runner guards it).
 */
export interface StageObserver {
  stageStart?(ctx: RequestContext, stage: string, side: 'request' | 'response'): unknown;
  stageEnd?(ctx: RequestContext, stage: string, side: 'request' | 'response', token: unknown, decision: Decision | undefined, error?: unknown): void;
  requestDone?(ctx: RequestContext, outcome: Outcome): void;
}
