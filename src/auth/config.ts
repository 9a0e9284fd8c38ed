/**
 * The `auth:` section of the config and the per-model `criticality`. When the section
 * is present, every model needs a caller the policy of its criticality admits; when it
 * is absent, no identify or authorize stage runs. Reference: docs/auth.md.
 *
 * Units are parsed here with the parsers of src/config/units.ts directly (not the
 * helpers of schema.ts, which imports this file: the cycle would break at load).
 */
import { z } from 'zod';
import { parseDuration, parseSize } from '../config/units.js';

export const CRITICALITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Criticality = (typeof CRITICALITIES)[number];

/** A model's criticality: what a caller needs is set per level in `auth.policy`. */
export const criticalitySchema = z
  .enum(CRITICALITIES)
  .default('low')
  .describe('How critical the model is; auth.policy says what a caller needs at each level.');

const ms = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const r = parseDuration(v);
    if (r === undefined) {
      ctx.issues.push({ code: 'custom', input: v, message: `invalid duration "${v}" (expected e.g. 250ms, 30s, 5m, 1h)` });
      return z.NEVER;
    }
    return r;
  });

const bytes = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const r = parseSize(v);
    if (r === undefined) {
      ctx.issues.push({ code: 'custom', input: v, message: `invalid size "${v}" (expected e.g. 8kb)` });
      return z.NEVER;
    }
    return r;
  });

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** JWS algorithms an issuer may use. No `none`, no HMAC: a shared secret is not a trust anchor we accept. */
export const JWS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

/** Where a claim sits: a top-level name (`tenant`, `https://x.example/tenant`) or a path into nested objects. */
const claimPath = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const jwks = z.union([
  z.strictObject({ file: z.string().min(1).describe('JWKS JSON file (public keys), read at load and on reload.') }),
  z.strictObject({
    url: z
      .url({ protocol: /^https?$/ })
      .refine((u) => u.startsWith('https:') || LOOPBACK.has(new URL(u).hostname), 'a JWKS URL must be https (http only on loopback)')
      .describe('JWKS URL of the identity provider, fetched by jose and cached.'),
    cooldown: ms()
      .prefault('30s')
      .describe('Least time between two fetches, so that tokens with unknown `kid`s cannot hammer the IdP.'),
    cacheMaxAge: ms().prefault('10m').describe('How long a fetched JWKS is used before it is fetched again.'),
    timeout: ms().prefault('5s').describe('Fetch timeout. A JWKS that cannot be fetched fails closed (401).'),
  }),
]);

const issuer = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/).describe('Short name of the issuer (logs, default principal prefix).'),
  issuer: z.string().min(1).describe('Exact `iss` of its tokens; a token is matched to its issuer by `iss`.'),
  audience: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .describe('Accepted `aud` value(s); a token must carry at least one.'),
  jwks,
  algorithms: z.array(z.enum(JWS_ALGORITHMS)).min(1).prefault(['ES256']).describe('Algorithm allow-list (never `none` or HS*).'),
  clockTolerance: ms().prefault('30s').describe('Leeway for exp, nbf and iat.'),
  maxTokenAge: ms().optional().describe('Refuse tokens whose `iat` is older than this (then `iat` is required).'),
  requiredClaims: z.array(z.string()).default([]).describe('Claims that must be present (`exp` and the subject claim always are).'),
  subjectPrefix: z
    .string()
    .optional()
    .describe('Prefix of principal ids from this issuer (default "<name>:"), so that two issuers\' `sub`s never collide.'),
  claims: z
    .strictObject({
      subject: claimPath.default('sub').describe('Claim that names the principal.'),
      tenant: claimPath.default('tenant').describe('Claim that names the tenant.'),
      scopes: claimPath.default('scope').describe('Claim with the scopes: a space-separated string (`scope`) or an array (`scp`).'),
      roles: claimPath.default('roles').describe('Claim with the roles: an array or a space-separated string.'),
    })
    .prefault({})
    .describe('Where tenant, scopes and roles are in this issuer\'s tokens.'),
});

/** `sha256:<64 hex>`: the SHA-256 of the key. Keys are random (>= 128 bits), so a slow hash buys nothing. */
const keyHash = z
  .string()
  .regex(/^sha256:[0-9a-f]{64}$/, 'expected sha256:<64 lowercase hex> (palisade token api-key prints one)');

export const apiKeyEntrySchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._:@-]+$/).describe('Principal id of the service account.'),
  hash: keyHash.describe('sha256:<hex> of the key; the key itself is never stored.'),
  tenant: z.string().optional(),
  scopes: z.array(z.string()).default([]),
  roles: z.array(z.string()).default([]),
});
export type ApiKeyEntry = z.output<typeof apiKeyEntrySchema>;
export const apiKeyFileSchema = z.array(apiKeyEntrySchema);

const apiKeys = z
  .strictObject({
    header: z
      .enum(['x-api-key', 'x-palisade-api-key'])
      .default('x-api-key')
      .describe('Header that carries a key (also accepted as `Authorization: Bearer <key>`). Never forwarded upstream.'),
    keys: z.array(apiKeyEntrySchema).default([]).describe('Keys, inline.'),
    file: z.string().min(1).optional().describe('A YAML/JSON file with more keys (same entries), read at load and on reload.'),
  })
  .describe('API keys of service accounts, stored as hashes only.');

const levelPolicy = (maxRisk: number) =>
  z
    .strictObject({
      allowAnonymous: z.boolean().default(false).describe('Callers without any credential may call these models.'),
      scopes: z.array(z.string()).default([]).describe('Scopes the caller must all have.'),
      roles: z.array(z.string()).default([]).describe('Roles of which the caller must have one (empty: any).'),
      tenants: z.array(z.string()).default([]).describe('Tenants admitted (empty: any, including none).'),
      minAcr: z.string().optional().describe('Least `acr`, by the order of auth.acrLevels.'),
      maxAuthAge: ms().optional().describe('Longest time since `auth_time` (the user\'s login); then auth_time is required.'),
      requireMtls: z
        .boolean()
        .default(false)
        .describe('Sender-constrained tokens only: cnf["x5t#S256"] must match the mTLS client certificate (RFC 8705).'),
      maxRisk: z.number().min(0).max(1).default(maxRisk).describe('Highest risk score at which access is still granted.'),
    })
    .prefault({});

const policy = z
  .strictObject({
    low: levelPolicy(0.9),
    medium: levelPolicy(0.8),
    high: levelPolicy(0.6),
    critical: levelPolicy(0.4),
  })
  .prefault({})
  .describe('What a caller needs, per model criticality.');

/** Risk weights by note kind (docs/auth.md lists the kinds). */
export const DEFAULT_RISK_WEIGHTS: Readonly<Record<string, number>> = Object.freeze({
  'auth-failure': 0.05,
  forbidden: 0.02,
  'rate-limited': 0.02,
  'detector-flag': 0.1,
  'detector-block': 0.25,
});

const risk = z
  .strictObject({
    halfLife: ms().prefault('10m').describe('Time in which a risk score halves.'),
    weights: z
      .record(z.string().regex(/^[a-z][a-z0-9-]*$/), z.number().min(0).max(1))
      .default({})
      .transform((w) => ({ ...DEFAULT_RISK_WEIGHTS, ...w }))
      .describe('How much one event of a note kind adds to the risk (merged over the defaults; 0 turns a kind off).'),
  })
  .prefault({});

const lifetimes = z
  .strictObject({
    low: ms().prefault('60m'),
    medium: ms().prefault('30m'),
    high: ms().prefault('15m'),
    critical: ms().prefault('5m'),
  })
  .prefault({});

const tokenExchange = z
  .strictObject({
    issuer: z.string().min(1).describe('`iss` of the gateway\'s own tokens; the gateway trusts it as an issuer.'),
    audience: z
      .string()
      .min(1)
      .default('palisade')
      .describe('`aud` of tokens not bound to one model (palisade token mint); exchanged tokens name their model.'),
    keys: z
      .array(z.string().min(1))
      .min(1)
      .describe('Private JWK files (ES256/ES384 or EdDSA). The first signs; all are published and accepted, so a rotated-out key stays valid until its last token expires.'),
    lifetimes: lifetimes.describe('Lifetime of an exchanged token by the model\'s criticality.'),
    shorten: z
      .array(z.strictObject({ atRisk: z.number().min(0).max(1), factor: z.number().gt(0).max(1) }))
      .default([{ atRisk: 0.5, factor: 0.5 }])
      .describe('Lifetime factors by risk: the smallest factor whose atRisk the caller\'s risk reaches applies.'),
    refuseAtRisk: z.number().min(0).max(1).default(0.8).describe('At this risk or above, no token is issued.'),
    clockTolerance: ms().prefault('5s').describe('Leeway when the gateway verifies its own tokens.'),
  })
  .describe('RFC 8693 token exchange at POST /palisade/token; public keys at GET /.well-known/jwks.json.');

export const authConfigSchema = z
  .strictObject({
    issuers: z.array(issuer).default([]).describe('Trusted token issuers.'),
    apiKeys: apiKeys.optional(),
    maxTokenSize: bytes().prefault('8kb').describe('Longest credential accepted; longer ones are refused before parsing.'),
    cache: z
      .strictObject({
        maxEntries: z.number().int().min(0).default(10_000).describe('Verified tokens kept (LRU); 0 turns the cache off.'),
      })
      .prefault({})
      .describe('Cache of verified tokens, keyed by a hash of the token, never past its exp.'),
    acrLevels: z
      .array(z.string())
      .default([])
      .describe('Known `acr` values, weakest first; policy minAcr compares by this order.'),
    policy,
    risk,
    tokenExchange: tokenExchange.optional(),
    revocation: z
      .strictObject({
        ttl: ms().prefault('24h').describe('How long a revocation is kept (at least the longest token lifetime).'),
      })
      .prefault({}),
  })
  .describe('Identity and access (docs/auth.md). Present: every model needs a caller its criticality admits.');

/**
 * Checks of the auth section that need more than one field or another section. Like the
 * core's crossCheck they read the raw input leniently, so they run even when the schema
 * found other problems and every problem is listed at once.
 */
export function authCrossCheck(input: unknown): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const c = (input ?? {}) as Record<string, any>;
  const a = c.auth;
  if (!a || typeof a !== 'object') return out;
  const names = new Map<unknown, number>();
  const isses = new Map<unknown, number>();
  (Array.isArray(a.issuers) ? a.issuers : []).forEach((i: any, n: number) => {
    if (!i || typeof i !== 'object') return;
    if (typeof i.name === 'string') {
      if (names.has(i.name)) out.push({ path: ['auth', 'issuers', n, 'name'], message: `duplicate issuer name "${i.name}"` });
      else names.set(i.name, n);
    }
    if (typeof i.issuer === 'string') {
      if (isses.has(i.issuer)) out.push({ path: ['auth', 'issuers', n, 'issuer'], message: `duplicate issuer "${i.issuer}"` });
      else isses.set(i.issuer, n);
    }
  });
  if (a.tokenExchange && isses.has(a.tokenExchange.issuer)) {
    out.push({ path: ['auth', 'tokenExchange', 'issuer'], message: 'the gateway issuer must differ from every trusted issuer' });
  }
  const acr: unknown[] = Array.isArray(a.acrLevels) ? a.acrLevels : [];
  const policy = a.policy && typeof a.policy === 'object' ? a.policy : {};
  const used = new Set((Array.isArray(c.models) ? c.models : []).map((m: any) => m?.criticality ?? 'low'));
  const tls = c.server?.tls;
  const clientCerts = Boolean(tls && (tls.requestClientCert || tls.requireClientCert));
  for (const level of CRITICALITIES) {
    const l = policy[level];
    if (!l || typeof l !== 'object') continue;
    if (l.minAcr !== undefined && !acr.includes(l.minAcr)) {
      out.push({ path: ['auth', 'policy', level, 'minAcr'], message: `"${l.minAcr}" is not in acrLevels` });
    }
    if (l.requireMtls === true && used.has(level) && !clientCerts) {
      out.push({ path: ['auth', 'policy', level, 'requireMtls'], message: 'needs server.tls with requestClientCert (no client certificate could ever match)' });
    }
  }
  return out;
}

export type AuthConfig = z.output<typeof authConfigSchema>;
export type IssuerConfig = AuthConfig['issuers'][number];
export type LevelPolicy = AuthConfig['policy'][Criticality];
export type TokenExchangeConfig = NonNullable<AuthConfig['tokenExchange']>;
