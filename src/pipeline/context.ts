/**
 * The per-request object every stage reads and writes. It is created by the HTTP shell
 * once the route and model are known and lives until the response has ended.
 */
import type { ModelRuntime } from '../runtime.js';
import type { HttpInfo, InferenceRequest, Note, Principal, RouteMatch } from './types.js';

export interface RequestContext {
  readonly id: string;
  /** performance.now() at arrival, for durations. */
  readonly startedAt: number;
  /** Date.now() at arrival, for records. */
  readonly receivedAt: number;
  readonly http: HttpInfo;
  readonly route: RouteMatch;
  readonly model: ModelRuntime;
  /** The parsed JSON body (undefined for raw, non-JSON bodies). Adapters may rewrite it. */
  body: unknown;
  /** The exact request bytes (raw protocol, or when nothing parsed them). */
  rawBody?: Buffer;
  /**
   * The bytes `body` was parsed from, when the upstream cannot read them as anything
   * else (no duplicate key, no inexact number): forwarded as they are while the body
   * stays the parsed (frozen) one. A stage that changes the body takes a copy
   * (`mutableBody`), and the copy is forwarded re-serialized.
   */
  bodyBytes?: Buffer;
  principal?: Principal;
  request?: InferenceRequest;
  readonly notes: Note[];
  /** Aborted when the client goes away or the request times out. */
  readonly signal: AbortSignal;
  /**
   * True once the client has gone away: what `signal.aborted` says, for a stage that only
   * polls (the gateway makes the signal's AbortController on first use of `signal`, so
   * polling this instead keeps a request that never aborts from paying for one).
   */
  readonly clientGone?: boolean;
  /**
   * Headers for the client's response when the request is admitted: the pipeline gathers
   * them from the stages' allow decisions (the limit stage's RateLimit fields). The shell
   * sets them before the upstream call; headers of the response itself take precedence.
   */
  responseHeaders?: Record<string, string>;
  /**
   * Scratch space of stages, keyed by stage name, for state a stage carries from its
   * request hook to its response or done hook (a reservation, a start time).
   */
  readonly locals: Record<string, unknown>;
}
