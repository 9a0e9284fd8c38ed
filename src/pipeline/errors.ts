/**
 * The registry of every error a client can see: a stable code, its HTTP status and a
 * message that says what went wrong without leaking scores or internals. Only codes
 * registered here reach a client; anything else becomes PALISADE_INTERNAL (500) with
 * the request id, which is also in the log. docs/errors.md lists the same table; a
 * test keeps the two in step.
 */

export interface ErrorSpec {
  status: number;
  message: string;
  /** What an operator should know: shown in docs/errors.md, never to clients. */
  doc: string;
}

export const ERRORS = {
  PALISADE_BAD_REQUEST: {
    status: 400,
    message: 'The request is malformed.',
    doc: 'Unparseable JSON, invalid UTF-8, a body deeper than server.maxJsonDepth, a body that does not match the protocol, or a prototype-poisoning key.',
  },
  PALISADE_MODEL_MISMATCH: {
    status: 400,
    message: 'The model named in the path and the model in the body differ.',
    doc: 'KServe/TF Serving path and body, or the routed model and the body `model`, disagree.',
  },
  PALISADE_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: 'The request content type is not supported.',
    doc: 'Inference routes accept application/json only (no compressed bodies).',
  },
  PALISADE_UNAUTHENTICATED: {
    status: 401,
    message: 'Authentication is required, or the credential is not valid.',
    doc: 'No credential where policy needs one, or a JWT / API key that failed a check (signature, alg, kid, iss, aud, exp, nbf, size, revocation, certificate binding). The reason is in the audit record only.',
  },
  PALISADE_FORBIDDEN: {
    status: 403,
    message: 'The caller may not use this model.',
    doc: "The policy of the model's criticality refuses this principal (scope, tenant, role, acr, auth_time age, sender-constrained token, model binding). The reason is in the audit record.",
  },
  PALISADE_RISK_TOO_HIGH: {
    status: 403,
    message: 'Access is refused for now because of recent activity; try again later.',
    doc: "The caller's risk score (decaying, raised by auth failures, detector flags, rate-limit hits) is above the maxRisk of the model's criticality, or at tokenExchange.refuseAtRisk.",
  },
  PALISADE_UNKNOWN_MODEL: { status: 404, message: 'The model does not exist.', doc: 'No entry of `models` has this name.' },
  PALISADE_NOT_FOUND: { status: 404, message: 'No route matches this path.', doc: 'The path is not an inference route of any configured protocol.' },
  PALISADE_METHOD_NOT_ALLOWED: { status: 405, message: 'The method is not allowed on this route.', doc: 'E.g. GET on /v1/chat/completions.' },
  PALISADE_BODY_TOO_LARGE: {
    status: 413,
    message: 'The request body is too large.',
    doc: 'Larger than the model bodyLimit or server.bodyLimit.',
  },
  PALISADE_HEADERS_TOO_LARGE: {
    status: 431,
    message: 'The request headers are too large.',
    doc: 'Larger than server.maxHeaderSize, or more lines than server.maxHeaderCount.',
  },
  PALISADE_REQUEST_TIMEOUT: {
    status: 408,
    message: 'The request was not received in time.',
    doc: 'The client took longer than server.requestTimeout to send the request.',
  },
  PALISADE_OUTPUT_POLICY: {
    status: 400,
    message: 'The request asks for more model output than the output policy of this model allows.',
    doc: 'An output defense (docs/defenses.md) refused top_logprobs/logprobs over its cap, logprobs it strips, echo with logprobs, or n over its cap. The message says which.',
  },
  PALISADE_UPSTREAM_UNAVAILABLE: {
    status: 502,
    message: 'The model server is unavailable.',
    doc: 'Connection refused or reset, or the upstream failed before a complete response.',
  },
  PALISADE_UPSTREAM_TIMEOUT: {
    status: 504,
    message: 'The model server did not answer in time.',
    doc: 'upstreams.*.timeouts.headers or .body elapsed.',
  },
  PALISADE_UPSTREAM_RESPONSE_TOO_LARGE: {
    status: 502,
    message: 'The model server response is too large.',
    doc: 'Larger than upstreams.*.maxResponseSize.',
  },
  PALISADE_UPSTREAM_BAD_RESPONSE: {
    status: 502,
    message: 'The model server response could not be read.',
    doc: 'A response that must be inspected (output defenses) is not valid for its protocol.',
  },
  PALISADE_CIRCUIT_OPEN: {
    status: 503,
    message: 'The model server is failing; try again later.',
    doc: 'The circuit breaker of the upstream is open after consecutive failures.',
  },
  PALISADE_CLIENT_CLOSED: {
    status: 499,
    message: 'The client closed the request.',
    doc: 'Recorded (audit, metrics) when the client went away before the response ended; never sent.',
  },
  PALISADE_OVERLOADED: {
    status: 503,
    message: 'The gateway is overloaded; try again later.',
    doc: 'More than server.overload.maxInFlight requests running and the queue (maxQueued) full or waited on past queueTimeout, or the event loop lagging past maxEventLoopDelay. Sent with Retry-After.',
  },
  PALISADE_EXPECTATION_FAILED: {
    status: 417,
    message: 'The expectation in the Expect header is not supported.',
    doc: 'An Expect header other than 100-continue.',
  },
  PALISADE_RATE_LIMITED: {
    status: 429,
    message: 'Too many requests; retry after the time in Retry-After.',
    doc: 'A `requests` limit (rate, and burst when configured) of a limit rule is used up for this key. See docs/limits.md.',
  },
  PALISADE_TOKEN_BUDGET: {
    status: 429,
    message: 'The token budget is used up; retry after the time in Retry-After.',
    doc: 'A `tokens` limit: the reservation (prompt estimate + max_tokens) does not fit what is left of the window, or a streamed response crossed the budget (ended with this code as a final SSE error event).',
  },
  PALISADE_CONCURRENCY: {
    status: 429,
    message: 'Too many requests in flight; retry when one has finished.',
    doc: 'A `concurrency` limit: this key already has `max` requests in flight.',
  },
  PALISADE_QUERY_BUDGET: {
    status: 429,
    message: 'The daily query budget is used up; retry after the time in Retry-After.',
    doc: 'A `queries` limit: the per-day budget (UTC day) of this key is used up. A defense against model extraction.',
  },
  PALISADE_STATE_UNAVAILABLE: {
    status: 503,
    message: 'The gateway cannot check limits right now; try again later.',
    doc: 'Redis is unreachable and `state.onStoreFailure` is `deny`.',
  },
  PALISADE_INPUT_REJECTED: {
    status: 403,
    message: 'The input was rejected by a detector.',
    doc: 'A detector in enforce mode with action block scored the input at or over its threshold. The message names the detector, never the score (the audit record has it).',
  },
  PALISADE_DETECTOR_UNAVAILABLE: {
    status: 503,
    message: 'A detector could not inspect the input; try again later.',
    doc: 'A detector failed or exceeded its latency budget and is not failOpen (fail closed). The log line with the request id has the cause.',
  },
  PALISADE_SHUTTING_DOWN: { status: 503, message: 'The gateway is shutting down.', doc: 'Sent, with Connection: close, to requests that arrive on open connections while draining on SIGTERM.' },
  PALISADE_INTERNAL: {
    status: 500,
    message: 'Internal error.',
    doc: 'A bug: the log line with the same request id has the details.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export function errorSpec(code: string): ErrorSpec {
  return (ERRORS as Record<string, ErrorSpec>)[code] ?? ERRORS.PALISADE_INTERNAL;
}

/** An error that becomes a registered response. Throw it from adapters and the proxy. */
export class GatewayError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode | (string & {}),
    message?: string,
    readonly headers?: Record<string, string>,
  ) {
    const spec = errorSpec(code);
    super(message ?? spec.message);
    this.status = spec.status;
  }
}

/** The one error shape of the gateway. */
export function errorBody(code: string, message: string, requestId: string): string {
  return JSON.stringify({ error: { code, message, requestId } });
}
