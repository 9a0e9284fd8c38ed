/**
 * Trusted issuers: who may vouch for a caller with a JWT. Each issuer verifies with jose
 * against its own key set (a local JWKS file, or a remote JWKS that jose fetches, caches
 * and re-fetches at most once per cooldown) and its own algorithm allow-list, `iss`,
 * `aud`, clock tolerance, maximum age and required claims. Headers that point at other
 * keys (`jku`, `x5u`, `jwk`, `x5c`) are never used: keys come from the config only.
 *
 * The gateway itself is one more issuer (its exchanged and minted tokens), verified
 * against the public halves of its own signing keys.
 */
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWK, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import type { Principal } from '../pipeline/types.js';
import { principalFromClaims, type ClaimMapping } from './claims.js';
import type { IssuerConfig, TokenExchangeConfig } from './config.js';
import { AuthFailure, reasonOfJoseError } from './failure.js';
import type { GatewayKeys } from './signing-keys.js';

/** A token that passed every check. */
export interface VerifiedToken {
  principal: Principal;
  /** Epoch ms after which it must not be used (exp, or iat + maxTokenAge if sooner). */
  expiresAt: number;
}

export interface TokenVerifier {
  /** The exact `iss` this verifier answers for. */
  readonly iss: string;
  readonly name: string;
  /** Verifies signature and claims. Throws AuthFailure. */
  verify(token: string): Promise<VerifiedToken>;
}

/** `resource` / `aud` value that binds a gateway token to one model (RFC 8707 style). */
export const MODEL_RESOURCE_PREFIX = 'urn:palisade:model:';

const GATEWAY_CLAIMS: ClaimMapping = { subject: 'sub', tenant: 'tenant', scopes: 'scope', roles: 'roles' };

/** An identity provider of the config (`auth.issuers[]`). */
export class ExternalIssuer implements TokenVerifier {
  readonly iss: string;
  readonly name: string;
  private readonly options: JWTVerifyOptions;
  private readonly prefix: string;

  private constructor(
    private readonly cfg: IssuerConfig,
    private readonly getKey: JWTVerifyGetKey,
  ) {
    this.iss = cfg.issuer;
    this.name = cfg.name;
    this.prefix = cfg.subjectPrefix ?? `${cfg.name}:`;
    const required = new Set(['exp', ...cfg.requiredClaims]);
    if (cfg.maxTokenAge !== undefined) required.add('iat');
    if (typeof cfg.claims.subject === 'string') required.add(cfg.claims.subject);
    this.options = {
      issuer: cfg.issuer,
      audience: cfg.audience,
      algorithms: [...cfg.algorithms],
      clockTolerance: cfg.clockTolerance / 1000,
      maxTokenAge: cfg.maxTokenAge === undefined ? undefined : cfg.maxTokenAge / 1000,
      requiredClaims: [...required],
    };
  }

  /** Builds the key set: reads a JWKS file now, or prepares the remote set (fetched on first use). */
  static create(cfg: IssuerConfig, resolvePath: (p: string) => string): ExternalIssuer {
    const j = cfg.jwks;
    if ('file' in j) {
      const file = resolvePath(j.file);
      let set: { keys: JWK[] };
      try {
        set = JSON.parse(readFileSync(file, 'utf8')) as { keys: JWK[] };
      } catch (err) {
        throw new Error(`auth.issuers ${cfg.name}: ${file}: ${(err as Error).message}`);
      }
      checkPublicJwks(set, `auth.issuers ${cfg.name}: ${file}`);
      return new ExternalIssuer(cfg, createLocalJWKSet(set));
    }
    const remote = createRemoteJWKSet(new URL(j.url), {
      cooldownDuration: j.cooldown,
      cacheMaxAge: j.cacheMaxAge,
      timeoutDuration: j.timeout,
    });
    // Fail closed, and say why: a fetch that fails is not a bad token.
    const getKey: JWTVerifyGetKey = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'ERR_JWKS_NO_MATCHING_KEY' || code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS' || code === 'ERR_JOSE_NOT_SUPPORTED') throw err;
        throw new AuthFailure('jwks-unavailable', { issuer: cfg.name }, { cause: err });
      }
    };
    return new ExternalIssuer(cfg, getKey);
  }

  async verify(token: string): Promise<VerifiedToken> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.getKey, this.options));
    } catch (err) {
      throw reasonOfJoseError(err);
    }
    const principal = principalFromClaims(payload, this.cfg.claims, this.prefix, 'jwt', this.iss);
    return { principal, expiresAt: expiry(payload, this.cfg.maxTokenAge) };
  }
}

/** The gateway's own tokens: exchanged (bound to a model) or minted (for every model). */
export class GatewayIssuer implements TokenVerifier {
  readonly iss: string;
  readonly name = 'palisade';
  private readonly getKey: JWTVerifyGetKey;
  private readonly options: JWTVerifyOptions;

  constructor(
    private readonly cfg: TokenExchangeConfig,
    readonly keys: GatewayKeys,
  ) {
    this.iss = cfg.issuer;
    this.getKey = createLocalJWKSet(keys.jwks);
    this.options = {
      issuer: cfg.issuer,
      algorithms: keys.algorithms,
      clockTolerance: cfg.clockTolerance / 1000,
      typ: 'at+jwt',
      requiredClaims: ['exp', 'iat', 'sub', 'jti', 'aud'],
    };
  }

  async verify(token: string): Promise<VerifiedToken> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.getKey, this.options));
    } catch (err) {
      throw reasonOfJoseError(err);
    }
    // The audience is checked here rather than by jose: besides the gateway audience it
    // may name models, and those names become the principal's model binding.
    const auds = typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
    const models = auds.filter((a) => a.startsWith(MODEL_RESOURCE_PREFIX)).map((a) => a.slice(MODEL_RESOURCE_PREFIX.length));
    const general = auds.includes(this.cfg.audience);
    if (!general && models.length === 0) throw new AuthFailure('wrong-audience');
    const principal = principalFromClaims(payload, GATEWAY_CLAIMS, '', general ? 'jwt' : 'exchanged', this.iss);
    if (!general) principal.models = models;
    return { principal, expiresAt: expiry(payload) };
  }
}

function expiry(payload: JWTPayload, maxAgeMs?: number): number {
  const exp = (payload.exp as number) * 1000;
  if (maxAgeMs === undefined || typeof payload.iat !== 'number') return exp;
  return Math.min(exp, payload.iat * 1000 + maxAgeMs);
}

/** A JWKS file must hold public asymmetric keys only: a private or shared key there is a leak or a mistake. */
function checkPublicJwks(set: { keys?: unknown }, where: string): void {
  if (!set || !Array.isArray(set.keys)) throw new Error(`${where}: not a JWKS ({"keys": [...]})`);
  for (const k of set.keys as JWK[]) {
    if (!k || typeof k !== 'object') throw new Error(`${where}: a key is not an object`);
    if (k.kty === 'oct') throw new Error(`${where}: symmetric keys are not accepted`);
    if ('d' in k) throw new Error(`${where}: holds a private key; publish only public keys`);
  }
}
