/**
 * Identity and access for one config: everything the identify and authorize stages, the
 * model listing and the token endpoint share (issuers, API keys, the verified-token
 * cache, policy, risk, revocation, the gateway's signing keys). Built once per runtime
 * (a reload builds a new one, with an empty cache and freshly read keys); the risk
 * scores and revocations live in the StateStore and survive reloads.
 */
import { decodeJwt } from 'jose';
import { resolveConfigPath, type LoadedConfig } from '../config/load.js';
import type { HttpInfo, Principal } from '../pipeline/types.js';
import type { ModelRuntime } from '../runtime.js';
import type { Services } from '../services.js';
import { ApiKeys } from './api-keys.js';
import type { AuthConfig } from './config.js';
import { AuthFailure } from './failure.js';
import { ExternalIssuer, GatewayIssuer, type TokenVerifier } from './issuers.js';
import { Policy, type PolicyResult } from './policy.js';
import { Revocations } from './revocation.js';
import { RiskEngine } from './risk.js';
import { GatewayKeys } from './signing-keys.js';
import { TokenCache } from './token-cache.js';

/** A credential as presented: a JWT, or an API key. */
export type Credential = { kind: 'jwt' | 'api-key'; value: string };

/** A credential that passed: its principal, and when it ends (JWTs only). */
export interface Authenticated {
  principal: Principal;
  /** Epoch ms. */
  expiresAt?: number;
}

const BEARER = /^Bearer +([^\s]+) *$/i;

export interface AuthOptions {
  /** Clock for risk and policy (epoch ms); tests and the benchmark replace it. */
  now?: () => number;
}

export class Auth {
  readonly revocations: Revocations;
  readonly risk: RiskEngine;
  readonly policy: Policy;
  readonly cache: TokenCache;
  /** The gateway as an issuer (token exchange), when auth.tokenExchange is set. */
  readonly gatewayIssuer?: GatewayIssuer;
  private readonly verifiers: ReadonlyMap<string, TokenVerifier>;
  private readonly now: () => number;

  private constructor(
    readonly config: AuthConfig,
    verifiers: TokenVerifier[],
    private readonly apiKeys: ApiKeys | undefined,
    services: Services,
    gatewayIssuer: GatewayIssuer | undefined,
    opts: AuthOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.verifiers = new Map(verifiers.map((v) => [v.iss, v]));
    this.gatewayIssuer = gatewayIssuer;
    this.cache = new TokenCache(config.cache.maxEntries);
    this.revocations = new Revocations(services.state);
    this.risk = new RiskEngine(services.state, config.risk, this.now);
    this.policy = new Policy(config);
  }

  /** Builds auth for a config; undefined when the config has no `auth` section. Throws on unreadable keys or key files. */
  static async create(loaded: LoadedConfig, services: Services, opts: AuthOptions = {}): Promise<Auth | undefined> {
    const cfg = loaded.config.auth;
    if (!cfg) return undefined;
    const resolve = (p: string) => resolveConfigPath(loaded, p);
    const verifiers: TokenVerifier[] = cfg.issuers.map((i) => ExternalIssuer.create(i, resolve));
    let gateway: GatewayIssuer | undefined;
    if (cfg.tokenExchange) {
      const keys = await GatewayKeys.load(cfg.tokenExchange.keys.map(resolve));
      gateway = new GatewayIssuer(cfg.tokenExchange, keys);
      verifiers.push(gateway);
    }
    const ak = cfg.apiKeys ? ApiKeys.load(cfg.apiKeys.keys, cfg.apiKeys.file && resolve(cfg.apiKeys.file)) : undefined;
    return new Auth(cfg, verifiers, ak, services, gateway, opts);
  }

  /**
   * Who is calling: the principal of the request's credential, or an anonymous principal
   * when it carries none (policy decides whether that is enough). Throws AuthFailure.
   */
  identify(http: HttpInfo): Principal | Promise<Principal> {
    const cred = this.credentialOf(http);
    if (cred === undefined) return { id: `anon:${http.clientAddress}`, scopes: [], roles: [], via: 'anonymous' };
    const a = this.authenticate(cred, http.tls?.clientCertSha256);
    return a instanceof Promise ? a.then(principalOf) : a.principal;
  }

  /**
   * Verifies a credential and checks revocation and sender binding (every time, also on
   * a cache hit). `clientCert` is the x5t#S256 of the connection's client certificate.
   * Synchronous (a result, or a thrown AuthFailure) when nothing needs a wait: a cached
   * token or an API key, with revocations in a memory store; else a promise.
   */
  authenticate(cred: Credential, clientCert: string | undefined): Authenticated | Promise<Authenticated> {
    if (cred.value.length > this.config.maxTokenSize) throw new AuthFailure('too-large');
    const a = cred.kind === 'jwt' ? this.verifyJwt(cred.value) : { principal: this.matchApiKey(cred.value) };
    return a instanceof Promise ? a.then((x) => this.checked(x, clientCert)) : this.checked(a, clientCert);
  }

  /** Revocation, then sender binding, of a verified credential. */
  private checked(a: Authenticated, clientCert: string | undefined): Authenticated | Promise<Authenticated> {
    const p = a.principal;
    const revoked = this.revocations.isRevoked(p.id, p.jti);
    return revoked instanceof Promise ? revoked.then((r) => boundTo(a, r, clientCert)) : boundTo(a, revoked, clientCert);
  }

  /**
   * The policy decision for a principal and a model now. It reads the risk only when the
   * level needs it: synchronous when it does not (no promise per request for a policy of
   * scopes and roles alone).
   */
  decide(p: Principal, model: ModelRuntime, http: Pick<HttpInfo, 'clientAddress' | 'tls'>): PolicyResult | Promise<PolicyResult> {
    const c = model.config.criticality;
    const target = { name: model.name, criticality: c };
    const cert = http.tls?.clientCertSha256;
    if (!this.policy.needsRisk(c)) return this.policy.check(p, target, cert, 0, this.now());
    return this.riskOf(p, http.clientAddress).then((risk) => this.policy.check(p, target, cert, risk, this.now()));
  }

  /** The risk that policy sees for this caller. */
  riskOf(p: Principal, address: string): Promise<number> {
    return this.risk.score(p.via === 'anonymous' ? undefined : p.id, address);
  }

  /** The models of `models` this caller may call now (GET /v1/models). Throws AuthFailure for a bad credential. */
  async visibleModels(http: HttpInfo, models: readonly ModelRuntime[]): Promise<ModelRuntime[]> {
    let p: Principal;
    try {
      p = await this.identify(http);
    } catch (err) {
      void this.risk.account([{ stage: 'identify', kind: 'auth-failure' }], undefined, http.clientAddress).catch(() => {});
      throw err;
    }
    const risk = models.some((m) => this.policy.needsRisk(m.config.criticality)) ? await this.riskOf(p, http.clientAddress) : 0;
    const now = this.now();
    const cert = http.tls?.clientCertSha256;
    return models.filter((m) => this.policy.check(p, { name: m.name, criticality: m.config.criticality }, cert, risk, now).ok);
  }

  /** The credential of a request: `Authorization: Bearer` (a JWT, or an API key) or the API key header. */
  private credentialOf(http: HttpInfo): Credential | undefined {
    const authz = http.headers.authorization;
    const keyHeader = this.config.apiKeys ? http.headers[this.config.apiKeys.header] : undefined;
    if (authz !== undefined && keyHeader !== undefined) throw new AuthFailure('ambiguous-credentials');
    if (keyHeader !== undefined) {
      if (typeof keyHeader !== 'string' || keyHeader === '') throw new AuthFailure('malformed');
      return { kind: 'api-key', value: keyHeader };
    }
    if (authz === undefined) return undefined;
    if (authz.length > this.config.maxTokenSize + 16) throw new AuthFailure('too-large');
    const m = BEARER.exec(authz);
    if (!m) throw new AuthFailure(/^Bearer\b/i.test(authz) ? 'malformed' : 'unsupported-scheme');
    const v = m[1];
    return { kind: looksLikeJwt(v) ? 'jwt' : 'api-key', value: v };
  }

  /** A JWT's principal: from the cache at once, else verified (a promise). */
  private verifyJwt(token: string): Authenticated | Promise<Authenticated> {
    const now = Date.now();
    const key = TokenCache.keyOf(token);
    const hit = this.cache.get(key, now);
    if (hit) return { principal: { ...hit.principal }, expiresAt: hit.expiresAt };
    return this.verifyUncached(token, key, now);
  }

  private async verifyUncached(token: string, key: string, now: number): Promise<Authenticated> {
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw new AuthFailure('malformed');
    }
    const v = typeof iss === 'string' ? this.verifiers.get(iss) : undefined;
    if (!v) throw new AuthFailure('unknown-issuer');
    const verified = await v.verify(token);
    const p = verified.principal;
    Object.freeze(p.scopes);
    Object.freeze(p.roles);
    if (p.models) Object.freeze(p.models);
    this.cache.set(key, { principal: Object.freeze(p), expiresAt: verified.expiresAt }, now);
    return { principal: { ...p }, expiresAt: verified.expiresAt };
  }

  private matchApiKey(key: string): Principal {
    if (!this.apiKeys) throw new AuthFailure('malformed');
    const p = this.apiKeys.match(key);
    if (!p) throw new AuthFailure('api-key-invalid');
    return p;
  }
}

function principalOf(a: Authenticated): Principal {
  return a.principal;
}

/** A verified credential that is not revoked, checked against the connection's certificate. */
function boundTo(a: Authenticated, revoked: boolean, clientCert: string | undefined): Authenticated {
  const p = a.principal;
  if (revoked) throw new AuthFailure('revoked', { principal: p.id });
  // RFC 8705: a certificate-bound token is only good over a connection with that certificate.
  const bound = p.cnf?.['x5t#S256'];
  if (bound !== undefined && bound !== clientCert) throw new AuthFailure('cnf-mismatch', { principal: p.id });
  return a;
}

function looksLikeJwt(v: string): boolean {
  const a = v.indexOf('.');
  return a > 0 && v.indexOf('.', a + 1) > a + 1 && v.indexOf('.', v.indexOf('.', a + 1) + 1) < 0;
}
