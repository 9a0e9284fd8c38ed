/**
 * Header policy between client and upstream: hop-by-hop headers never cross, the
 * client's credentials stay at the gateway, x-forwarded-* and x-request-id are set.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

// RFC 9110 7.6.1 hop-by-hop fields, plus the ones a proxy recomputes itself.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
  'http2-settings',
]);

/** Whether a (lower-case) field is hop-by-hop or one a proxy recomputes. */
export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name);
}

// The caller's credentials are for the gateway, not for the model server.
const CREDENTIALS = new Set(['authorization', 'cookie', 'x-api-key', 'x-palisade-api-key']);

// Claims about the client's address or identity that model servers (and the proxies
// in front of them) are known to believe. Only a trusted proxy may make them; from any
// other peer they are dropped, so the upstream never reads an identity the gateway did
// not establish. x-forwarded-* as a whole is in this class (user, email, groups, ...).
const CLIENT_CLAIMS = new Set([
  'forwarded',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-cluster-client-ip',
  'x-original-forwarded-for',
  'x-remote-user',
  'remote-user',
]);

function isClientClaim(key: string): boolean {
  return CLIENT_CLAIMS.has(key) || key.startsWith('x-forwarded-') || key.startsWith('x-auth-request-');
}

/** Builds the headers sent upstream. */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  opts: {
    requestId: string;
    /** The socket peer (appended to x-forwarded-for). */
    peer: string;
    /** Whether the peer is a trusted proxy whose forwarding headers are kept. */
    trustedPeer: boolean;
    proto: string;
    extra?: Readonly<Record<string, string>>;
  },
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connTokens = connectionTokens(incoming.connection);
  for (const key in incoming) {
    if (HOP_BY_HOP.has(key) || CREDENTIALS.has(key) || connTokens?.has(key)) continue;
    // The gateway's own namespace: a client cannot speak for the gateway.
    if (key.startsWith('x-palisade-') || key === 'x-forwarded-for' || key === 'x-request-id') continue;
    if (!opts.trustedPeer && isClientClaim(key)) continue;
    const v = incoming[key];
    if (v !== undefined) out[key] = v;
  }
  // Each proxy appends the peer it heard from; a chain from an untrusted peer starts here.
  const xff = opts.trustedPeer ? incoming['x-forwarded-for'] : undefined;
  out['x-forwarded-for'] = xff ? `${Array.isArray(xff) ? xff.join(', ') : xff}, ${opts.peer}` : opts.peer;
  if (typeof out['x-forwarded-proto'] !== 'string') out['x-forwarded-proto'] = opts.proto;
  if (typeof out['x-forwarded-host'] !== 'string') {
    if (incoming.host) out['x-forwarded-host'] = incoming.host;
    else delete out['x-forwarded-host'];
  }
  out['x-request-id'] = opts.requestId;
  // The gateway must read what the model returns; compressed bodies would hide it.
  out['accept-encoding'] = 'identity';
  if (opts.extra) for (const k in opts.extra) out[k.toLowerCase()] = opts.extra[k];
  return out;
}

/** Builds the headers sent to the client from the upstream's. */
export function clientResponseHeaders(upstream: IncomingHttpHeaders | Record<string, string | string[] | undefined>, requestId: string, keepLength: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const connTokens = connectionTokens(upstream.connection);
  for (const key in upstream) {
    if (HOP_BY_HOP.has(key) && !(keepLength && key === 'content-length')) continue;
    if (connTokens?.has(key) || key === 'set-cookie') continue;
    const v = upstream[key];
    if (v !== undefined) out[key] = v;
  }
  out['x-request-id'] = requestId;
  return out;
}

function connectionTokens(v: string | string[] | undefined): Set<string> | undefined {
  // The common cases name no header.
  if (!v || v === 'keep-alive' || v === 'close' || v === 'Keep-Alive') return undefined;
  const s = Array.isArray(v) ? v.join(',') : v;
  const set = new Set<string>();
  for (const t of s.split(',')) {
    const k = t.trim().toLowerCase();
    if (k && k !== 'close' && k !== 'keep-alive') set.add(k);
  }
  return set.size ? set : undefined;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Keeps a client's x-request-id when it is a sane token, else makes one. */
export function requestIdFrom(v: string | string[] | undefined, make: () => string): string {
  return typeof v === 'string' && REQUEST_ID.test(v) ? v : make();
}
