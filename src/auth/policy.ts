/**
 * The access policy: may this principal call a model of this criticality now? Pure: the
 * caller reads the risk score and passes it in, so the same check serves the authorize
 * stage, the model listing and the token exchange.
 */
import type { Principal } from '../pipeline/types.js';
import type { AuthConfig, Criticality, LevelPolicy } from './config.js';

export type PolicyCode = 'PALISADE_UNAUTHENTICATED' | 'PALISADE_FORBIDDEN' | 'PALISADE_RISK_TOO_HIGH';

/** Reasons of a refusal by policy (docs/auth.md). */
export type PolicyReason =
  | 'anonymous'
  | 'model-not-bound'
  | 'tenant'
  | 'scope'
  | 'role'
  | 'acr'
  | 'auth-age'
  | 'not-sender-constrained'
  | 'risk';

export type PolicyResult = { ok: true } | { ok: false; code: PolicyCode; reason: PolicyReason };

const OK: PolicyResult = Object.freeze({ ok: true });

export class Policy {
  private readonly acrRank: ReadonlyMap<string, number>;

  constructor(private readonly cfg: Pick<AuthConfig, 'policy' | 'acrLevels'>) {
    this.acrRank = new Map(cfg.acrLevels.map((a, i) => [a, i]));
  }

  level(c: Criticality): LevelPolicy {
    return this.cfg.policy[c];
  }

  /** Whether a check at this level reads the risk score (not when any score passes). */
  needsRisk(c: Criticality): boolean {
    return this.cfg.policy[c].maxRisk < 1;
  }

  /**
   * Checks every requirement of the model's level. `clientCert` is the x5t#S256 of the
   * mTLS client certificate of the connection, if any; `risk` may be omitted when
   * `needsRisk` is false; `now` is epoch ms.
   */
  check(p: Principal, model: { name: string; criticality: Criticality }, clientCert: string | undefined, risk: number, now: number): PolicyResult {
    const r = this.requirements(p, model, clientCert, now);
    if (r !== undefined) {
      // Without a credential the answer is "authenticate", not "you may not".
      return { ok: false, code: p.via === 'anonymous' ? 'PALISADE_UNAUTHENTICATED' : 'PALISADE_FORBIDDEN', reason: r };
    }
    if (risk > this.cfg.policy[model.criticality].maxRisk) return { ok: false, code: 'PALISADE_RISK_TOO_HIGH', reason: 'risk' };
    return OK;
  }

  private requirements(p: Principal, model: { name: string; criticality: Criticality }, clientCert: string | undefined, now: number): PolicyReason | undefined {
    const l = this.cfg.policy[model.criticality];
    if (p.via === 'anonymous' && !l.allowAnonymous) return 'anonymous';
    if (p.models !== undefined && !p.models.includes(model.name)) return 'model-not-bound';
    if (l.tenants.length > 0 && (p.tenant === undefined || !l.tenants.includes(p.tenant))) return 'tenant';
    for (const s of l.scopes) if (!p.scopes.includes(s)) return 'scope';
    if (l.roles.length > 0 && !l.roles.some((r) => p.roles.includes(r))) return 'role';
    if (l.minAcr !== undefined) {
      const have = p.acr === undefined ? -1 : (this.acrRank.get(p.acr) ?? -1);
      if (have < this.acrRank.get(l.minAcr)!) return 'acr';
    }
    if (l.maxAuthAge !== undefined && (p.authTime === undefined || now - p.authTime * 1000 > l.maxAuthAge)) return 'auth-age';
    if (l.requireMtls) {
      const bound = p.cnf?.['x5t#S256'];
      if (bound === undefined || clientCert === undefined || bound !== clientCert) return 'not-sender-constrained';
    }
    return undefined;
  }
}
