/**
 * Stage 1, identify: who is calling (a JWT of a trusted issuer, a gateway token, an API
 * key, or nobody). A credential that is present but not good is refused here with 401;
 * a request without one goes on as anonymous and policy decides. Its `done` hook runs
 * last of all hooks, so it sees every note of the request and turns them into risk.
 */
import type { Services } from '../services.js';
import type { Stage } from '../pipeline/stage.js';
import { ALLOW, type Decision, type Principal } from '../pipeline/types.js';
import type { Auth } from './auth.js';
import { AuthFailure } from './failure.js';

/** The challenge of every 401 (RFC 6750); it names no reason. */
export const WWW_AUTHENTICATE = 'Bearer realm="palisade"';

/** The identify stage, with the Auth it uses (the gateway's token and admin routes reach it through the stage). */
export interface IdentifyStage extends Stage {
  readonly name: 'identify';
  readonly auth: Auth;
}

/**
 * @example
 * const auth = await Auth.create(loaded, services);
 * if (auth) stages.push(createIdentifyStage(auth, services), createAuthorizeStage(auth));
 */
export function createIdentifyStage(auth: Auth, services: Pick<Services, 'logger'>): IdentifyStage {
  return {
    name: 'identify',
    auth,
    request(ctx) {
      // Synchronous for a cached token (no promise per request); a promise when a token
      // must be verified or the revocation list is a round trip away.
      let p: Principal | Promise<Principal>;
      try {
        p = auth.identify(ctx.http);
      } catch (err) {
        return refused(err);
      }
      if (!(p instanceof Promise)) {
        ctx.principal = p;
        return ALLOW;
      }
      return p.then((x) => {
        ctx.principal = x;
        return ALLOW;
      }, refused);
    },
    done(ctx) {
      const p = ctx.principal;
      const id = p && p.via !== 'anonymous' ? p.id : undefined;
      auth.risk.account(ctx.notes, id, ctx.http.clientAddress).catch((err) => services.logger.warn({ err }, 'risk update failed'));
    },
  };
}

/** An AuthFailure is a 401; anything else is the stage failing (the pipeline denies). */
function refused(err: unknown): Decision {
  if (!(err instanceof AuthFailure)) throw err;
  return unauthenticated(err);
}

/** The 401 of a refused credential: the reason goes to the audit note only. */
export function unauthenticated(err: AuthFailure): Decision {
  return {
    allow: false,
    code: 'PALISADE_UNAUTHENTICATED',
    headers: { 'www-authenticate': `${WWW_AUTHENTICATE}, error="invalid_token"` },
    notes: [{ stage: 'identify', kind: 'auth-failure', name: err.reason, detail: { reason: err.reason, ...err.detail } }],
  };
}

/** The Auth behind a pipeline's identify stage, if auth is on. */
export function authOf(stages: readonly Stage[]): Auth | undefined {
  const s = stages.find((x) => x.name === 'identify') as Partial<IdentifyStage> | undefined;
  return s?.auth;
}
