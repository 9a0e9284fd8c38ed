/**
 * The bearer token of the authenticated scenarios: signed like an IdP would sign it,
 * with the DEMO key whose public half bench/configs/*.yaml trust as a JWKS file
 * (config/demo-keys/README.md: a committed key, for demos and benchmarks only).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importJWK, SignJWT, type JWK } from 'jose';

export const BENCH_ISSUER = 'https://idp.bench.example';

/** A token for `bench-user` with the chat and infer scopes, valid for `ttlS` seconds. */
export async function benchToken(root: string, ttlS = 4 * 3600): Promise<string> {
  const jwk = JSON.parse(readFileSync(join(root, 'config/demo-keys/demo-gateway-1.private.jwk.json'), 'utf8')) as JWK;
  const key = await importJWK(jwk, 'ES256');
  return new SignJWT({ scope: 'chat infer' })
    .setProtectedHeader({ alg: 'ES256', kid: jwk.kid })
    .setIssuer(BENCH_ISSUER)
    .setAudience('palisade')
    .setSubject('bench-user')
    .setIssuedAt()
    .setExpirationTime(`${ttlS}s`)
    .setJti('bench')
    .sign(key);
}
