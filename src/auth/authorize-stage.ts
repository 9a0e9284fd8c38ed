/**
 * Stage 2, authorize: may this principal call this model now? The model's criticality
 * picks the policy level (scopes, tenants, roles, acr, auth age, sender constraint,
 * highest risk). The stage also answers which models a caller may see in GET /v1/models.
 */
import { GatewayError } from '../pipeline/errors.js';
import type { Stage } from '../pipeline/stage.js';
import { ALLOW, type Decision } from '../pipeline/types.js';
import type { Auth } from './auth.js';
import type { PolicyResult } from './policy.js';
import { AuthFailure } from './failure.js';
import { WWW_AUTHENTICATE } from './identify-stage.js';

/** Note kinds of a refusal by policy (a refusal for risk is not itself weighed as risk). */
const NOTE_KIND = {
  PALISADE_UNAUTHENTICATED: 'auth-required',
  PALISADE_FORBIDDEN: 'forbidden',
  PALISADE_RISK_TOO_HIGH: 'risk-refused',
} as const;

/** The stage's decision on a policy result. */
function decisionOf(r: PolicyResult, criticality: string): Decision {
  if (r.ok) return ALLOW;
  return {
    allow: false,
    code: r.code,
    headers: r.code === 'PALISADE_UNAUTHENTICATED' ? { 'www-authenticate': WWW_AUTHENTICATE } : undefined,
    notes: [{ stage: 'authorize', kind: NOTE_KIND[r.code], name: r.reason, detail: { reason: r.reason, criticality } }],
  };
}

export function createAuthorizeStage(auth: Auth): Stage {
  return {
    name: 'authorize',
    request(ctx) {
      const p = ctx.principal;
      if (!p) throw new Error('authorize runs after identify, which always sets a principal');
      const r = auth.decide(p, ctx.model, ctx.http);
      const criticality = ctx.model.config.criticality;
      return r instanceof Promise ? r.then((x) => decisionOf(x, criticality)) : decisionOf(r, criticality);
    },
    async visibleModels(http, models) {
      try {
        return await auth.visibleModels(http, models);
      } catch (err) {
        if (err instanceof AuthFailure) throw new GatewayError('PALISADE_UNAUTHENTICATED', undefined, { 'www-authenticate': `${WWW_AUTHENTICATE}, error="invalid_token"` });
        throw err;
      }
    },
  };
}
