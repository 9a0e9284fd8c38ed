/**
 * From a verified claims set to a Principal, by the claim mapping of its issuer. Claims
 * of the wrong type are refused rather than guessed at: a tenant that is an object is
 * an error, not "no tenant".
 */
import type { JWTPayload } from 'jose';
import type { Principal } from '../pipeline/types.js';
import { AuthFailure } from './failure.js';

export type ClaimPath = string | readonly string[];

export interface ClaimMapping {
  subject: ClaimPath;
  tenant: ClaimPath;
  scopes: ClaimPath;
  roles: ClaimPath;
}

/** The value at a claim path: a top-level name, or a path through nested objects. */
export function claimAt(payload: Record<string, unknown>, path: ClaimPath): unknown {
  if (typeof path === 'string') return Object.hasOwn(payload, path) ? payload[path] : undefined;
  let v: unknown = payload;
  for (const k of path) {
    if (!v || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** Scopes and roles: an array of strings (`scp`) or one space-separated string (`scope`). */
export function stringList(v: unknown, claim: string): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return v.split(' ').filter(Boolean);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new AuthFailure('invalid-claim', { claim });
}

const name = (p: ClaimPath) => (typeof p === 'string' ? p : p.join('.'));

/** Builds the principal of a verified token. `prefix` namespaces the subject per issuer. */
export function principalFromClaims(
  payload: JWTPayload,
  map: ClaimMapping,
  prefix: string,
  via: Principal['via'],
  issuer: string,
): Principal {
  const sub = claimAt(payload, map.subject);
  if (typeof sub !== 'string' || sub === '') throw new AuthFailure(sub === undefined ? 'missing-claim' : 'invalid-claim', { claim: name(map.subject) });
  const tenant = claimAt(payload, map.tenant);
  if (tenant !== undefined && typeof tenant !== 'string') throw new AuthFailure('invalid-claim', { claim: name(map.tenant) });
  const p: Principal = {
    id: prefix + sub,
    tenant,
    scopes: stringList(claimAt(payload, map.scopes), name(map.scopes)),
    roles: stringList(claimAt(payload, map.roles), name(map.roles)),
    via,
    issuer,
  };
  if (typeof payload.jti === 'string') p.jti = payload.jti;
  if (typeof payload.acr === 'string') p.acr = payload.acr;
  if (payload.auth_time !== undefined) {
    if (typeof payload.auth_time !== 'number' || !Number.isFinite(payload.auth_time)) throw new AuthFailure('invalid-claim', { claim: 'auth_time' });
    p.authTime = payload.auth_time;
  }
  const cnf = payload.cnf;
  if (cnf !== undefined) {
    const t = cnf && typeof cnf === 'object' ? (cnf as Record<string, unknown>)['x5t#S256'] : undefined;
    // A confirmation we cannot check must not be dropped: that would unbind the token.
    if (typeof t !== 'string' || t === '') throw new AuthFailure('invalid-claim', { claim: 'cnf' });
    p.cnf = { 'x5t#S256': t };
  }
  return p;
}
