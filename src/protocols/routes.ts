/**
 * The route table: which method and path is which protocol operation. Matching works on
 * the raw path as received (no decoding), and a model name in a path must be a plain
 * name, so `..`, percent-encoding, `//`, `;` and backslashes never match a route and
 * never reach an upstream. Upstream paths are built from the match, not copied.
 */
import type { Protocol } from '../config/schema.js';

export interface PathMatch {
  protocol: Protocol | 'openai-or-tfserving';
  operation: string;
  modelFromPath?: string;
  version?: string;
  /** Whether the operation carries a JSON body. */
  hasBody: boolean;
}

export type MatchResult = { match: PathMatch } | { error: 'PALISADE_NOT_FOUND' | 'PALISADE_METHOD_NOT_ALLOWED' };

/**
 * The methods the gateway serves at all (raw routes forward these and no others: TRACE,
 * CONNECT and extension methods never reach a model server).
 */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;
const METHOD_SET: ReadonlySet<string> = new Set(HTTP_METHODS);

/** Whether the gateway serves `method` at all. */
export function isServedMethod(method: string): boolean {
  return METHOD_SET.has(method);
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const NOT_FOUND: MatchResult = Object.freeze({ error: 'PALISADE_NOT_FOUND' as const });
const BAD_METHOD: MatchResult = Object.freeze({ error: 'PALISADE_METHOD_NOT_ALLOWED' as const });

const OPENAI_POST: Record<string, string> = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'completions',
  '/v1/embeddings': 'embeddings',
};

/** Matches a protocol route. Raw prefixes are matched by the runtime (they come from config). */
export function matchRoute(method: string, path: string): MatchResult {
  const op = OPENAI_POST[path];
  if (op !== undefined) {
    return method === 'POST' ? { match: { protocol: 'openai', operation: op, hasBody: true } } : BAD_METHOD;
  }
  if (path === '/v1/models') {
    return method === 'GET' ? { match: { protocol: 'openai', operation: 'list-models', hasBody: false } } : BAD_METHOD;
  }
  if (path.startsWith('/v2/models/')) return matchKserve(method, path.slice(11).split('/'));
  if (path.startsWith('/v1/models/')) return matchV1Model(method, path.slice(11).split('/'));
  return NOT_FOUND;
}

// /v2/models/{name}[/versions/{v}][/infer|/ready]
function matchKserve(method: string, seg: string[]): MatchResult {
  const name = seg[0];
  if (!NAME.test(name)) return NOT_FOUND;
  let i = 1;
  let version: string | undefined;
  if (seg[i] === 'versions') {
    version = seg[i + 1];
    if (version === undefined || !VERSION.test(version)) return NOT_FOUND;
    i += 2;
  }
  const rest = seg.length - i;
  if (rest === 0) return get(method, 'kserve-v2', 'metadata', name, version);
  if (rest === 1 && seg[i] === 'ready') return get(method, 'kserve-v2', 'ready', name, version);
  if (rest === 1 && seg[i] === 'infer') {
    return method === 'POST' ? { match: { protocol: 'kserve-v2', operation: 'infer', modelFromPath: name, version, hasBody: true } } : BAD_METHOD;
  }
  return NOT_FOUND;
}

// TF Serving: /v1/models/{name}[/versions/{v}][:predict] and /metadata; OpenAI: GET /v1/models/{name}.
function matchV1Model(method: string, seg: string[]): MatchResult {
  let last = seg[seg.length - 1];
  let verb: string | undefined;
  const colon = last.lastIndexOf(':');
  if (colon > 0 && last.slice(colon + 1) === 'predict') {
    verb = 'predict';
    last = last.slice(0, colon);
    seg = [...seg.slice(0, -1), last];
  }
  const name = seg[0];
  if (!NAME.test(name)) return NOT_FOUND;
  let i = 1;
  let version: string | undefined;
  if (seg[i] === 'versions') {
    version = seg[i + 1];
    if (version === undefined || !VERSION.test(version)) return NOT_FOUND;
    i += 2;
  }
  const rest = seg.length - i;
  if (verb === 'predict') {
    if (rest !== 0) return NOT_FOUND;
    return method === 'POST' ? { match: { protocol: 'tfserving', operation: 'predict', modelFromPath: name, version, hasBody: true } } : BAD_METHOD;
  }
  if (rest === 1 && seg[i] === 'metadata') return get(method, 'tfserving', 'metadata', name, version);
  if (rest === 0) {
    // GET /v1/models/{name}: TF Serving status or OpenAI model retrieval; the model's protocol decides.
    return version === undefined ? get(method, 'openai-or-tfserving', 'model-info', name) : get(method, 'tfserving', 'model-info', name, version);
  }
  return NOT_FOUND;
}

function get(method: string, protocol: PathMatch['protocol'], operation: string, name: string, version?: string): MatchResult {
  if (method !== 'GET' && method !== 'HEAD') return BAD_METHOD;
  return { match: { protocol, operation, modelFromPath: name, version, hasBody: false } };
}

/** The path at the upstream for a protocol operation and the upstream's model name. */
export function upstreamPathFor(protocol: Protocol, operation: string, model: string, version?: string): string {
  const v = version === undefined ? '' : `/versions/${encodeURIComponent(version)}`;
  const m = encodeURIComponent(model);
  switch (protocol) {
    case 'openai':
      return operation === 'chat' ? '/v1/chat/completions' : operation === 'completions' ? '/v1/completions' : operation === 'embeddings' ? '/v1/embeddings' : `/v1/models/${m}`;
    case 'kserve-v2':
      return operation === 'infer' ? `/v2/models/${m}${v}/infer` : operation === 'ready' ? `/v2/models/${m}${v}/ready` : `/v2/models/${m}${v}`;
    case 'tfserving':
      return operation === 'predict' ? `/v1/models/${m}${v}:predict` : operation === 'metadata' ? `/v1/models/${m}${v}/metadata` : `/v1/models/${m}${v}`;
    case 'raw':
      throw new Error('raw paths come from the request');
  }
}

/**
 * The rest of a raw-route path after its prefix, if it is safe to forward: no dot
 * segments (literal, percent-encoded or overlong UTF-8), no encoded slash, backslash or
 * percent (they change meaning with each decoding, so a double-decoding upstream would
 * see another path), no empty segments, no `;` params, no fragment, no control bytes.
 */
export function safeRawSuffix(suffix: string): string | undefined {
  if (suffix === '') return '/';
  if (suffix[0] !== '/') return undefined;
  if (/[\\;#]|%2f|%5c|%25/i.test(suffix)) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(suffix);
  } catch {
    return undefined; // a malformed escape, or bytes that are not UTF-8 (overlong dots)
  }
  if (/[\x00-\x1f\x7f\\;]|\/\/|\/\.\.?(\/|$)/.test(decoded)) return undefined;
  return suffix;
}
