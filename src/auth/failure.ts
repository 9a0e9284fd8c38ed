/**
 * Why a credential was refused. The reason code goes into the audit record (a Note);
 * the client only ever sees PALISADE_UNAUTHENTICATED, so a prober learns nothing about
 * which check it tripped.
 */

/** Reason codes of a 401 (docs/auth.md lists them). */
export type AuthReason =
  | 'malformed'
  | 'too-large'
  | 'unsupported-scheme'
  | 'ambiguous-credentials'
  | 'unknown-issuer'
  | 'alg-not-allowed'
  | 'unknown-kid'
  | 'unknown-crit'
  | 'bad-signature'
  | 'expired'
  | 'not-yet-valid'
  | 'token-too-old'
  | 'wrong-issuer'
  | 'wrong-audience'
  | 'wrong-type'
  | 'missing-claim'
  | 'invalid-claim'
  | 'jwks-unavailable'
  | 'revoked'
  | 'cnf-mismatch'
  | 'api-key-invalid';

export class AuthFailure extends Error {
  constructor(
    readonly reason: AuthReason,
    /** For the log and audit: which claim, which issuer. Never sent to the client. */
    readonly detail?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(`authentication failed: ${reason}`, options);
  }
}

/** Maps a jose error (by its stable `code`) to a reason. Anything unknown is `malformed`, never a pass. */
export function reasonOfJoseError(err: unknown): AuthFailure {
  if (err instanceof AuthFailure) return err;
  const e = err as { code?: string; claim?: string; reason?: string };
  const detail = e.claim ? { claim: e.claim } : undefined;
  switch (e.code) {
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return new AuthFailure('alg-not-allowed', undefined, { cause: err });
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return new AuthFailure('unknown-kid', undefined, { cause: err });
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new AuthFailure('bad-signature', undefined, { cause: err });
    case 'ERR_JOSE_NOT_SUPPORTED':
      // Unknown `crit` extensions and key/alg combinations jose refuses to use.
      return new AuthFailure(String((err as Error).message).includes('Extension Header') ? 'unknown-crit' : 'alg-not-allowed', undefined, { cause: err });
    case 'ERR_JWT_EXPIRED':
      return new AuthFailure(e.claim === 'iat' ? 'token-too-old' : 'expired', detail, { cause: err });
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (e.reason === 'missing') return new AuthFailure('missing-claim', detail, { cause: err });
      if (e.claim === 'nbf' || e.claim === 'iat') return new AuthFailure('not-yet-valid', detail, { cause: err });
      if (e.claim === 'iss') return new AuthFailure('wrong-issuer', detail, { cause: err });
      if (e.claim === 'aud') return new AuthFailure('wrong-audience', detail, { cause: err });
      if (e.claim === 'typ') return new AuthFailure('wrong-type', detail, { cause: err });
      return new AuthFailure('invalid-claim', detail, { cause: err });
    default:
      return new AuthFailure('malformed', undefined, { cause: err });
  }
}
