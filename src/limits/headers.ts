/**
 * The IETF rate-limit header fields, draft-ietf-httpapi-ratelimit-headers (-10/-11):
 * `RateLimit-Policy` (the quota: `"<policy>";q=<quota>;w=<window s>[;qu=<unit>]`) and
 * `RateLimit` (what is left: `"<policy>";r=<remaining>[;t=<s to reset>]`), both
 * Structured Field Lists (RFC 9651), plus `Retry-After` (RFC 9110) on refusals.
 */

/** Quota units: `requests` (the default, left out), `concurrent-requests` (registered), `tokens` (ours). */
export type QuotaUnit = 'requests' | 'concurrent-requests' | 'tokens';

/** One quota policy as the client sees it (already shrunk for the principal's risk). */
export interface PolicyView {
  /** Policy identifier, e.g. `demo-llm-chat.requests`. */
  id: string;
  /** The quota (q). */
  quota: number;
  /** The window in seconds (w); absent for concurrency. */
  windowSec?: number;
  unit: QuotaUnit;
  /** Its RateLimit-Policy member, once built (a policy view kept across requests builds it once). */
  item?: string;
  /** Its id as an sf-string, once built. */
  quoted?: string;
}

/** An sf-string: quotes, with `\` and `"` escaped (ids are printable ASCII by the config schema). */
function sfString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** One member of RateLimit-Policy. */
export function policyItem(p: PolicyView): string {
  if (p.item !== undefined) return p.item;
  let out = `${quotedId(p)};q=${Math.max(0, Math.floor(p.quota))}`;
  if (p.unit !== 'requests') out += `;qu=${sfString(p.unit)}`;
  if (p.windowSec !== undefined) out += `;w=${Math.max(1, Math.round(p.windowSec))}`;
  p.item = out;
  return out;
}

function quotedId(p: PolicyView): string {
  return (p.quoted ??= sfString(p.id));
}

/** One member of RateLimit. */
export function limitItem(p: PolicyView, remaining: number, resetSec?: number): string {
  let out = `${quotedId(p)};r=${Math.max(0, Math.floor(remaining))}`;
  if (resetSec !== undefined) out += `;t=${Math.max(0, Math.ceil(resetSec))}`;
  return out;
}

/** What a response reports about one limit (a refusal, or an admitted request). */
export interface RefusalView {
  policy: PolicyView;
  remaining: number;
  /** Seconds until the quota resets (absent: unknown, e.g. concurrency). */
  resetSec?: number;
}

/**
 * Headers of a 429: Retry-After (the earliest reset among `items`, at least 1 s) and the
 * policies that refused with what is left of each.
 *
 * @example
 * refusalHeaders([{ policy: { id: 'chat.requests', quota: 60, windowSec: 60, unit: 'requests' }, remaining: 0, resetSec: 12.3 }])
 * // { 'retry-after': '13', 'ratelimit-policy': '"chat.requests";q=60;w=60', ratelimit: '"chat.requests";r=0;t=13' }
 */
export function refusalHeaders(items: RefusalView[], retryAfterSec?: number): Record<string, string> {
  const resets = items.map((i) => i.resetSec).filter((s): s is number => s !== undefined);
  const retry = retryAfterSec ?? (resets.length ? Math.min(...resets) : 1);
  return { 'retry-after': String(Math.max(1, Math.ceil(retry))), ...quotaHeaders(items) };
}

/**
 * RateLimit-Policy and RateLimit for `items`: on a refusal the limits that refused, on
 * an admitted request every limit it counted against (what is left after it).
 *
 * @example
 * quotaHeaders([{ policy: { id: 'chat.requests', quota: 60, windowSec: 60, unit: 'requests' }, remaining: 59, resetSec: 60 }])
 * // { 'ratelimit-policy': '"chat.requests";q=60;w=60', ratelimit: '"chat.requests";r=59;t=60' }
 */
export function quotaHeaders(items: readonly RefusalView[]): Record<string, string> {
  let policy = '';
  let limit = '';
  for (let i = 0; i < items.length; i++) {
    const v = items[i];
    if (i > 0) {
      policy += ', ';
      limit += ', ';
    }
    policy += policyItem(v.policy);
    limit += limitItem(v.policy, v.remaining, v.resetSec);
  }
  return { 'ratelimit-policy': policy, ratelimit: limit };
}
