/**
 * RFC 8693 token exchange: a caller presents its identity token or API key and names a
 * model; the gateway answers with a short-lived access token of its own, bound to that
 * model (`aud: urn:palisade:model:<name>`), narrowed to the scopes asked for, bound to
 * the mTLS client certificate of the exchange when there is one (RFC 8705 `cnf`), and
 * living as long as the model's criticality and the caller's risk allow
 * (auth.tokenExchange.lifetimes, .shorten, .refuseAtRisk) but never longer than the
 * token it was exchanged for.
 */
import { randomUUID } from 'node:crypto';
import { GatewayError } from '../pipeline/errors.js';
import type { HttpInfo, Principal } from '../pipeline/types.js';
import type { ModelRuntime } from '../runtime.js';
import type { Auth, Credential } from './auth.js';
import type { TokenExchangeConfig } from './config.js';
import { AuthFailure } from './failure.js';
import { MODEL_RESOURCE_PREFIX } from './issuers.js';

export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPE_ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
export const TOKEN_TYPE_ID = 'urn:ietf:params:oauth:token-type:id_token';
/** subject_token_type of an API key (ours: RFC 8693 leaves the list open). */
export const TOKEN_TYPE_API_KEY = 'urn:palisade:params:oauth:token-type:api-key';

const SINGLE = ['grant_type', 'subject_token', 'subject_token_type', 'requested_token_type', 'scope', 'resource', 'audience'];

/** The token response (RFC 8693 section 2.2.1). */
export interface TokenResponse {
  access_token: string;
  issued_token_type: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

/** What the exchange decided, for the log (the refusal reasons never reach the client). */
export type ExchangeRefusal = { code: string; reason: string; principal?: string };

/** Thrown with a registered code; `refusal` says why, for the log. */
export class ExchangeError extends GatewayError {
  constructor(
    code: string,
    readonly reason: string,
    message?: string,
    headers?: Record<string, string>,
    readonly principal?: string,
  ) {
    super(code, message, headers);
  }
}

/**
 * The lifetime of a token for a model of this criticality at this risk, in ms, or
 * undefined when the risk is too high for any token.
 */
export function exchangeLifetime(cfg: TokenExchangeConfig, criticality: keyof TokenExchangeConfig['lifetimes'], risk: number): number | undefined {
  if (risk >= cfg.refuseAtRisk) return undefined;
  let factor = 1;
  for (const s of cfg.shorten) if (risk >= s.atRisk && s.factor < factor) factor = s.factor;
  return Math.floor(cfg.lifetimes[criticality] * factor);
}

/** Performs one exchange. Throws ExchangeError (a GatewayError) for every refusal. */
export async function exchangeToken(
  auth: Auth,
  models: ReadonlyMap<string, ModelRuntime>,
  form: URLSearchParams,
  http: Pick<HttpInfo, 'clientAddress' | 'tls'>,
  now = Date.now(),
): Promise<TokenResponse> {
  const issuer = auth.gatewayIssuer;
  const cfg = auth.config.tokenExchange;
  if (!issuer || !cfg) throw new ExchangeError('PALISADE_NOT_FOUND', 'exchange-off');
  for (const k of SINGLE) if (form.getAll(k).length > 1) throw bad(`${k} is given more than once`);
  if (form.get('grant_type') !== GRANT_TOKEN_EXCHANGE) throw bad(`grant_type must be ${GRANT_TOKEN_EXCHANGE}`);
  if (form.has('actor_token')) throw bad('actor_token is not supported');
  const requested = form.get('requested_token_type');
  if (requested !== null && requested !== TOKEN_TYPE_ACCESS && requested !== TOKEN_TYPE_JWT) throw bad('requested_token_type must be an access token');
  const value = form.get('subject_token');
  const type = form.get('subject_token_type');
  if (!value || !type) throw bad('subject_token and subject_token_type are required');
  let cred: Credential;
  if (type === TOKEN_TYPE_API_KEY) cred = { kind: 'api-key', value };
  else if (type === TOKEN_TYPE_ACCESS || type === TOKEN_TYPE_JWT || type === TOKEN_TYPE_ID) cred = { kind: 'jwt', value };
  else throw bad('unsupported subject_token_type');

  const cert = http.tls?.clientCertSha256;
  let subject: { principal: Principal; expiresAt?: number };
  try {
    subject = await auth.authenticate(cred, cert);
  } catch (err) {
    if (!(err instanceof AuthFailure)) throw err;
    void auth.risk.account([{ stage: 'token-exchange', kind: 'auth-failure' }], undefined, http.clientAddress).catch(() => {});
    throw new ExchangeError('PALISADE_UNAUTHENTICATED', err.reason, undefined, { 'www-authenticate': 'Bearer realm="palisade", error="invalid_token"' });
  }
  const p = subject.principal;

  const model = models.get(modelName(form));
  if (!model) throw new ExchangeError('PALISADE_UNKNOWN_MODEL', 'unknown-model', undefined, undefined, p.id);
  const scopeParam = form.get('scope');
  const scopes = scopeParam === null ? [...p.scopes] : scopeParam.split(' ').filter(Boolean);
  if (scopes.some((s) => !p.scopes.includes(s))) throw new ExchangeError('PALISADE_FORBIDDEN', 'scope', undefined, undefined, p.id);

  // The token to be: policy must admit it as it will be presented (its scopes, its model, its binding).
  const bound: Principal = { ...p, scopes, models: [model.name], cnf: cert !== undefined ? { 'x5t#S256': cert } : p.cnf };
  const risk = await auth.riskOf(p, http.clientAddress);
  const criticality = model.config.criticality;
  const decision = auth.policy.check(bound, { name: model.name, criticality }, cert, risk, now);
  if (!decision.ok) throw new ExchangeError(decision.code, decision.reason, undefined, undefined, p.id);
  let ttl = exchangeLifetime(cfg, criticality, risk);
  if (ttl === undefined) throw new ExchangeError('PALISADE_RISK_TOO_HIGH', 'risk', undefined, undefined, p.id);
  // Never outlive the credential it came from.
  if (subject.expiresAt !== undefined) ttl = Math.min(ttl, subject.expiresAt - now);
  if (ttl < 1000) throw new ExchangeError('PALISADE_UNAUTHENTICATED', 'expired', undefined, undefined, p.id);

  const claims: Record<string, unknown> = { scope: scopes.join(' ') };
  if (p.tenant !== undefined) claims.tenant = p.tenant;
  if (p.roles.length > 0) claims.roles = p.roles;
  if (p.acr !== undefined) claims.acr = p.acr;
  if (p.authTime !== undefined) claims.auth_time = p.authTime;
  if (bound.cnf) claims.cnf = { 'x5t#S256': bound.cnf['x5t#S256'] };
  const token = await issuer.keys.sign(claims, {
    issuer: cfg.issuer,
    audience: MODEL_RESOURCE_PREFIX + model.name,
    subject: p.id,
    ttlMs: ttl,
    jti: randomUUID(),
    now,
  });
  return {
    access_token: token,
    issued_token_type: TOKEN_TYPE_ACCESS,
    token_type: 'Bearer',
    expires_in: Math.max(1, Math.floor(ttl / 1000)),
    scope: scopes.join(' '),
  };
}

/** The model named by `resource` (urn:palisade:model:NAME) or `audience` (NAME); exactly one model. */
function modelName(form: URLSearchParams): string {
  const resource = form.get('resource');
  const audience = form.get('audience');
  let fromResource: string | undefined;
  if (resource !== null) {
    if (!resource.startsWith(MODEL_RESOURCE_PREFIX)) throw bad(`resource must be ${MODEL_RESOURCE_PREFIX}<model>`);
    fromResource = resource.slice(MODEL_RESOURCE_PREFIX.length);
  }
  if (fromResource !== undefined && audience !== null && fromResource !== audience) throw bad('resource and audience name different models');
  const name = fromResource ?? audience;
  if (!name) throw bad('resource or audience (the model) is required');
  return name;
}

function bad(message: string): ExchangeError {
  return new ExchangeError('PALISADE_BAD_REQUEST', 'bad-request', message);
}
