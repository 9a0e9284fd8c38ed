/**
 * Counter keys from a request: who (principal, tenant, client address) and what (model).
 * Until identity is configured there is no principal, and `principal` counts by the
 * client address, which already honours server.trustedProxies (an x-forwarded-for from
 * any other peer is ignored, so it cannot pick its own key).
 */
import type { RequestContext } from '../pipeline/context.js';
import type { KeyPart } from './config.js';

const PLAIN = /^[A-Za-z0-9._@:+=-]{1,200}$/;

/** Ids come from tokens; escape anything that could forge a separator or bloat a key. */
function id(s: string): string {
  return PLAIN.test(s) ? s : encodeURIComponent(s.slice(0, 512));
}

function part(p: KeyPart, ctx: RequestContext): string {
  const pr = ctx.principal;
  switch (p) {
    case 'principal':
      return pr ? `p:${id(pr.id)}` : `a:${ctx.http.clientAddress}`;
    case 'tenant':
      return pr?.tenant ? `t:${id(pr.tenant)}` : pr ? `p:${id(pr.id)}` : `a:${ctx.http.clientAddress}`;
    case 'model':
      return `m:${ctx.model.name}`;
    case 'client':
      return `a:${ctx.http.clientAddress}`;
  }
}

/**
 * The key of a counter kept per `by` for this request, e.g. `p:alice|m:demo-llm`.
 *
 * @example
 * counterKey(['principal', 'model'], ctx) // 'a:203.0.113.9|m:demo-llm' without identity
 */
export function counterKey(by: readonly KeyPart[], ctx: RequestContext): string {
  if (by.length === 1) return part(by[0], ctx);
  let out = part(by[0], ctx);
  for (let i = 1; i < by.length; i++) out += `|${part(by[i], ctx)}`;
  return out;
}

/** The day of the last call, kept: every request of a day asks for the same one. */
let dayStart = 0;
let dayEnd = 0;
let dayName = '';

/** The UTC day of `now` (`2026-11-26`) and the seconds until it ends. */
export function utcDay(now: number): { day: string; secondsLeft: number } {
  if (now < dayStart || now >= dayEnd) {
    const d = new Date(now);
    dayStart = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    dayEnd = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
    dayName = d.toISOString().slice(0, 10);
  }
  return { day: dayName, secondsLeft: (dayEnd - now) / 1000 };
}
