/**
 * Minting a gateway token outside the request path: `palisade token mint`, the curl line
 * that `npm start` prints, and tests. It signs with the active key of
 * auth.tokenExchange.keys, so a gateway started with the same config accepts the token.
 */
import { randomUUID } from 'node:crypto';
import { resolveConfigPath, type LoadedConfig } from '../config/load.js';
import { MODEL_RESOURCE_PREFIX } from './issuers.js';
import { GatewayKeys } from './signing-keys.js';

export interface MintOptions {
  /** The principal id (`sub`). */
  sub: string;
  tenant?: string;
  scopes?: readonly string[];
  roles?: readonly string[];
  /** Lifetime in ms; default one hour. */
  ttlMs?: number;
  /** Bind the token to one model (as an exchanged token is); default: every model. */
  model?: string;
  acr?: string;
  /** `auth_time` in epoch seconds; default now (the "login" is the minting). */
  authTime?: number;
  /** x5t#S256 of a client certificate to bind the token to (RFC 8705). */
  certThumbprint?: string;
}

/**
 * Signs a token for the gateway of `loaded`. Throws when the config has no
 * auth.tokenExchange (the gateway has no key of its own then).
 *
 * @example
 * const token = await mintToken(loaded, { sub: 'alice', scopes: ['chat'], ttlMs: 3_600_000 });
 */
export async function mintToken(loaded: LoadedConfig, o: MintOptions): Promise<string> {
  const te = loaded.config.auth?.tokenExchange;
  if (!te) throw new Error(`${loaded.file}: auth.tokenExchange is not configured, so the gateway has no signing key`);
  if (o.sub === '') throw new Error('sub must not be empty');
  const keys = await GatewayKeys.load(te.keys.map((k) => resolveConfigPath(loaded, k)));
  const now = Date.now();
  const claims: Record<string, unknown> = { scope: (o.scopes ?? []).join(' '), auth_time: o.authTime ?? Math.floor(now / 1000) };
  if (o.tenant !== undefined) claims.tenant = o.tenant;
  if (o.roles?.length) claims.roles = [...o.roles];
  if (o.acr !== undefined) claims.acr = o.acr;
  if (o.certThumbprint !== undefined) claims.cnf = { 'x5t#S256': o.certThumbprint };
  return keys.sign(claims, {
    issuer: te.issuer,
    audience: o.model === undefined ? te.audience : MODEL_RESOURCE_PREFIX + o.model,
    subject: o.sub,
    ttlMs: o.ttlMs ?? 3_600_000,
    jti: randomUUID(),
    now,
  });
}

/**
 * The token `npm start` prints in its curl lines: a `demo-user` that meets every policy
 * level's scopes, roles and acr (not a certificate binding, which curl cannot show),
 * valid for 12 hours. Undefined when the config has no auth.tokenExchange.
 */
export async function demoBearer(loaded: LoadedConfig): Promise<string | undefined> {
  const auth = loaded.config.auth;
  if (!auth?.tokenExchange) return undefined;
  const levels = Object.values(auth.policy);
  const tenants = levels.flatMap((l) => l.tenants);
  return mintToken(loaded, {
    sub: 'demo-user',
    tenant: tenants[0] ?? 'demo',
    scopes: [...new Set(levels.flatMap((l) => l.scopes))],
    roles: [...new Set(levels.flatMap((l) => l.roles.slice(0, 1)))],
    acr: auth.acrLevels.at(-1),
    ttlMs: 12 * 3_600_000,
  });
}
