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
