/**
 * The core types every stage speaks (DESIGN.md, "Core types"). Protocol adapters are
 * the only code that turns wire formats into these and back.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Protocol } from '../config/schema.js';

/** Who is calling. Built by the identify stage. */
export interface Principal {
  id: string;
  tenant?: string;
  scopes: string[];
  roles: string[];
  /** Seconds since the epoch (JWT `auth_time`). */
  authTime?: number;
  acr?: string;
  cnf?: { 'x5t#S256'?: string };
  via: 'jwt' | 'api-key' | 'exchanged' | 'anonymous';
  /** Issuer of the credential, when known. */
  issuer?: string;
  /** Token id, when the credential is a JWT. */
  jti?: string;
  /** Models the credential is bound to (an exchanged token names its model); undefined: any model. */
  models?: string[];
}

export interface InferenceText {
  /** `user`, `system`, `assistant`, `tool`, `prompt` (completions), `input` (embeddings). */
  role: string;
  text: string;
  /** Where in the body it sits, e.g. `messages[2].content[0].text`. */
  path: string;
}

export interface InferenceTensor {
  name: string;
  shape: number[];
  datatype: string;
  data: ArrayLike<number>;
}

export interface InferenceParams {
  stream: boolean;
  maxTokens?: number;
  logprobs?: boolean;
  topLogprobs?: number;
  n?: number;
  echo?: boolean;
}

/** A request in protocol-neutral form. Built by the parse stage (protocol adapter). */
export interface InferenceRequest {
  protocol: Protocol;
  /** The model as configured (the name clients use). */
  model: string;
  /** What kind of call: chat, completions, embeddings, infer, predict, raw. */
  operation: string;
  texts: InferenceText[];
  tensors: InferenceTensor[];
  params: InferenceParams;
  /** The parsed body that will be forwarded (after any rewrite by the adapter). */
  body: unknown;
}

export interface TokenUsage {
  inputTokens?: number;
  outputTokens?: number;
}

/** One alternative token of a top-log-probabilities list. */
export interface TopLogprob {
  token: string;
  logprob: number;
  /** UTF-8 bytes of the token, when the protocol sends them. */
  bytes?: number[] | null;
}

/** The log-probability of one generated (or echoed) token and its most likely alternatives. */
export interface TokenLogprob {
  /** null when the protocol has none for this token (the first echoed prompt token). */
  logprob: number | null;
  /** Alternatives, most likely first; null when the protocol sends none for this token. */
  top: TopLogprob[] | null;
}

/**
 * The log-probabilities of one choice of an LLM response (or of one SSE chunk of it), in
 * protocol-neutral form. Stages may change the numbers, shorten `top` lists, or set
 * `strip`; the adapter writes the view back into the body when it serializes.
 */
export interface ChoiceLogprobs {
  /** Position of the choice in the response's list of choices. */
  choice: number;
  /** Every scored token of the choice, in order. */
  tokens: TokenLogprob[];
  /** Set by a stage: the adapter removes this choice's log-probabilities altogether. */
  strip?: boolean;
}

/**
 * A response (or one SSE event of a streamed response) in protocol-neutral form. Stages
 * change `tensors` (and the adapter-specific views) in place; the adapter writes them
 * back into `body` when it serializes.
 */
export interface InferenceResponse {
  protocol: Protocol;
  model: string;
  status: number;
  /** True for one event of an SSE stream. */
  stream: boolean;
  /** The parsed JSON body, or the parsed data of one SSE event. */
  body: unknown;
  tensors: InferenceTensor[];
  /** LLM token log-probabilities, one entry per choice that carries them (absent when none do). */
  logprobs?: ChoiceLogprobs[];
  usage?: TokenUsage;
}

/** Something a stage noticed: goes to the audit record, metrics and risk. */
export interface Note {
  stage: string;
  kind: string;
  /** e.g. detector name, limit kind */
  name?: string;
  score?: number;
  detail?: Record<string, unknown>;
}

export type Decision =
  | {
      allow: true;
      notes?: Note[];
      /** Headers for the client's response if the request is admitted (the limit stage's RateLimit fields). */
      headers?: Record<string, string>;
    }
  | {
      allow: false;
      /** Defaults to the registered status of `code`. */
      status?: number;
      code: string;
      /** Client-safe text; defaults to the registered message. */
      message?: string;
      headers?: Record<string, string>;
      notes?: Note[];
      /** What went wrong inside (logged, never sent). */
      cause?: unknown;
    };

export const ALLOW: Decision = Object.freeze({ allow: true }) as Decision;

export function deny(code: string, message?: string, headers?: Record<string, string>): Decision {
  return { allow: false, code, message, headers };
}

export interface HttpInfo {
  method: string;
  /** Path and query as received. */
  url: string;
  /** Path without the query. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The socket peer. */
  remoteAddress: string;
  /** The client: the peer, or x-forwarded-for's client when the peer is a trusted proxy. */
  clientAddress: string;
  /** TLS details of the client connection, when the listener is HTTPS. */
  tls?: { authorized: boolean; clientCertSha256?: string };
}

/** What a route resolved to, before any stage ran. */
export interface RouteMatch {
  protocol: Protocol;
  operation: string;
  /** Model named in the path (KServe, TF Serving, raw); body models come from the adapter. */
  modelFromPath?: string;
  version?: string;
  /** Path to request at the upstream (before query). */
  upstreamPath: string;
  /** Query string including `?`, or ''. */
  query: string;
}

/** How the request ended; given to every stage's `done` hook. */
export interface Outcome {
  status: number;
  /** Error code when the gateway answered with an error. */
  code?: string;
  /** Stage that denied, if any (a request or a response stage). */
  deniedBy?: string;
  /** Status of the upstream response, when the upstream answered. */
  upstreamStatus?: number;
  /** Milliseconds from arrival to the first body bytes of the upstream response. */
  firstByteMs?: number;
  usage?: TokenUsage;
  durationMs: number;
  /** True when the client went away before the end. */
  aborted?: boolean;
}
