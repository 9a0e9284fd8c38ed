/**
 * A protocol adapter is the only code that knows a wire format (DESIGN.md). It turns a
 * parsed request body into an InferenceRequest and an upstream response body (or one
 * SSE event) into an InferenceResponse, and writes the response back after the stages.
 */
import type { Protocol } from '../config/schema.js';
import { GatewayError } from '../pipeline/errors.js';
import type { InferenceParams, InferenceRequest, InferenceResponse, RouteMatch } from '../pipeline/types.js';

export interface ParseInput {
  route: RouteMatch;
  /** The configured model name (what the client uses). */
  model: string;
  /** The model name at the upstream (rewritten into the body and path). */
  upstreamModel: string;
  body: unknown;
}

export interface ProtocolAdapter {
  readonly protocol: Protocol;
  /** Builds the neutral request; may rewrite the body (upstream model name). Throws GatewayError. */
  parseRequest(input: ParseInput): InferenceRequest;
  /** A whole JSON response body. Throws GatewayError('PALISADE_UPSTREAM_BAD_RESPONSE') when it is not the protocol's. */
  parseResponse(body: unknown, req: InferenceRequest, status: number): InferenceResponse;
  /** One SSE event's parsed data. */
  parseEvent(data: unknown, req: InferenceRequest): InferenceResponse;
  /** Writes the (possibly changed) neutral view back into its body and serializes it. */
  serializeResponse(res: InferenceResponse): string;
  /**
   * Whether serializeResponse has anything of the neutral view to write back into this
   * response's body (stages change the view, never the body). When it has not, the body
   * is as the upstream sent it, and its bytes may be sent as they are. Absent: always.
   */
  writesBack?(res: InferenceResponse): boolean;
  /**
   * Rewrites the request body so that it asks for `change` (a stage clamped what the
   * client asked for: fewer choices, fewer log-probabilities, no echo), and keeps
   * `req.params` in step. `logprobs: false` removes log-probabilities altogether.
   * Protocols without such parameters leave it out.
   */
  applyParams?(req: InferenceRequest, change: Partial<InferenceParams>): void;
  /**
   * Asks the upstream to report token usage in a streamed response (changes `req.body`).
   * Absent when the protocol has no such option; token accounting then estimates.
   */
  requestStreamUsage?(req: InferenceRequest): void;
}

export function badRequest(message: string): GatewayError {
  return new GatewayError('PALISADE_BAD_REQUEST', message);
}

export function badResponse(message: string): GatewayError {
  return new GatewayError('PALISADE_UPSTREAM_BAD_RESPONSE', message);
}

/**
 * The request body, for a stage (or adapter) about to change it. The parsed body is
 * frozen (it may be forwarded as the bytes it came from); this replaces `req.body` with
 * a deep, mutable copy once, and a body that is no longer the parsed one is forwarded
 * re-serialized: the upstream gets what the stages saw.
 */
export function mutableBody(req: InferenceRequest): Record<string, unknown> {
  if (Object.isFrozen(req.body)) req.body = cloneJson(req.body);
  return req.body as Record<string, unknown>;
}

/** A deep copy of a parsed JSON value (plain objects, arrays, primitives). */
export function cloneJson(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = cloneJson(v[i]);
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const k in v) out[k] = cloneJson((v as Record<string, unknown>)[k]);
  return out;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function optInt(body: Record<string, unknown>, key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw badRequest(`${key} must be an integer between ${min} and ${max}`);
  }
  return v;
}

export function optBool(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badRequest(`${key} must be a boolean`);
  return v;
}

/**
 * Flattens a nested numeric array, checking that every leaf is a finite number (or
 * boolean). A literal past the double range (`1e400`) parses as Infinity, which
 * detectors would score but JSON.stringify forwards as `null`: it is refused, so what is
 * inspected is what is forwarded.
 */
export function flattenNumbers(v: unknown, what: string, out: number[] = []): number[] {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw badRequest(`${what} must hold finite numbers`);
    out.push(v);
    return out;
  }
  if (typeof v === 'boolean') {
    out.push(v ? 1 : 0);
    return out;
  }
  if (!Array.isArray(v)) throw badRequest(`${what} must hold numbers`);
  // Fast path: a flat array of numbers is used as it is.
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x === 'number' && Number.isFinite(x)) out.push(x);
    else flattenNumbers(x, what, out);
  }
  return out;
}

/** The shape of a rectangular nested array, or undefined when it is ragged. */
export function shapeOf(v: unknown): number[] | undefined {
  const shape: number[] = [];
  let cur = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

/** Rebuilds a nested array of `shape` from flat data (row-major). */
export function nest(data: ArrayLike<number>, shape: readonly number[]): unknown {
  if (shape.length <= 1) return Array.from(data);
  let offset = 0;
  const build = (dim: number): unknown[] => {
    const n = shape[dim];
    const out: unknown[] = new Array(n);
    if (dim === shape.length - 1) {
      for (let i = 0; i < n; i++) out[i] = data[offset++];
    } else {
      for (let i = 0; i < n; i++) out[i] = build(dim + 1);
    }
    return out;
  };
  return build(0);
}
