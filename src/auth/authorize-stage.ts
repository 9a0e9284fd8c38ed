/**
 * Stage 2, authorize: may this principal call this model now? The model's criticality
 * picks the policy level (scopes, tenants, roles, acr, auth age, sender constraint,
 * highest risk). The stage also answers which models a caller may see in GET /v1/models.
 */
import { GatewayError } from '../pipeline/errors.js';
import type { Stage } from '../pipeline/stage.js';
import { ALLOW } from '../pipeline/types.js';
import type { Auth } from './auth.js';
import { AuthFailure } from './failure.js';
import { WWW_AUTHENTICATE } from './identify-stage.js';

/** Note kinds of a refusal by policy (a refusal for risk is not itself weighed as risk). */
const NOTE_KIND = {
  PALISADE_UNAUTHENTICATED: 'auth-required',
  PALISADE_FORBIDDEN: 'forbidden',
  PALISADE_RISK_TOO_HIGH: 'risk-refused',
} as const;

export function createAuthorizeStage(auth: Auth): Stage {
  return {
    name: 'authorize',
    async request(ctx) {
      const p = ctx.principal;
      if (!p) throw new Error('authorize runs after identify, which always sets a principal');
      const r = await auth.decide(p, ctx.model, ctx.http);
      if (r.ok) return ALLOW;
      return {
        allow: false,
        code: r.code,
        headers: r.code === 'PALISADE_UNAUTHENTICATED' ? { 'www-authenticate': WWW_AUTHENTICATE } : undefined,
        notes: [{ stage: 'authorize', kind: NOTE_KIND[r.code], name: r.reason, detail: { reason: r.reason, criticality: ctx.model.config.criticality } }],
      };
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
