/**
 * Signatures of model packages: `manifest.jws` is a detached compact JWS (RFC 7515
 * appendix F: `header..signature`) over the exact bytes of `manifest.json`, made with
 * jose. The manifest carries the sha256 of `model.onnx`, so one signature covers the
 * whole package. Keys are JWKs (Ed25519 by default); a key's id is its `kid`, or its
 * RFC 7638 thumbprint when it has none.
 */
import { readFileSync } from 'node:fs';
import {
  CompactSign,
  calculateJwkThumbprint,
  compactVerify,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type KeyInput,
} from 'jose';

/** A public key the gateway trusts for packages. */
export interface TrustedKey {
  kid: string;
  alg: string;
  key: KeyInput;
}

const ALGS = new Set(['EdDSA', 'Ed25519', 'ES256', 'ES384', 'RS256', 'PS256']);

/** The algorithm a JWK signs with (its `alg`, else the usual one for its key type). */
function algOf(jwk: JWK): string {
  if (jwk.alg) return jwk.alg;
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'EC' && jwk.crv === 'P-384') return 'ES384';
  if (jwk.kty === 'RSA') return 'PS256';
  throw new Error(`unsupported key type ${jwk.kty}${jwk.crv ? ` (${jwk.crv})` : ''}`);
}

/** Imports a public JWK as a trusted key. Refuses private keys: they have no place in a gateway config. */
export async function trustedKeyFromJwk(jwk: JWK): Promise<TrustedKey> {
  if ('d' in jwk || 'p' in jwk) throw new Error('a trusted key must be a public key (this JWK holds private parameters)');
  const alg = algOf(jwk);
  if (!ALGS.has(alg)) throw new Error(`unsupported algorithm ${alg}`);
  const kid = jwk.kid ?? (await calculateJwkThumbprint(jwk));
  return { kid, alg, key: await importJWK(jwk, alg) };
}

/** Reads a JWK file (public key) as a trusted key. */
export async function readTrustedKey(file: string): Promise<TrustedKey> {
  let jwk: JWK;
  try {
    jwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
  } catch (err) {
    throw new Error(`cannot read trusted key ${file}: ${(err as Error).message}`);
  }
  try {
    return await trustedKeyFromJwk(jwk);
  } catch (err) {
    throw new Error(`trusted key ${file}: ${(err as Error).message}`);
  }
}

/** Signs manifest bytes; returns the detached compact JWS. */
export async function signManifest(manifest: Uint8Array, privateJwk: JWK): Promise<string> {
  if (!('d' in privateJwk)) throw new Error('the signing key must be a private JWK');
  const alg = algOf(privateJwk);
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = privateJwk;
  const kid = privateJwk.kid ?? (await calculateJwkThumbprint(pub));
  const key = await importJWK(privateJwk, alg);
  const jws = await new CompactSign(manifest).setProtectedHeader({ alg, kid, typ: 'palisade-manifest+jws' }).sign(key);
  const [h, , s] = jws.split('.');
  return `${h}..${s}`;
}

export type VerifyResult = { ok: true; kid: string } | { ok: false; reason: 'untrusted-key' | 'bad-signature' | 'malformed'; detail: string };

/** Verifies a detached compact JWS over `manifest` against the trusted keys. */
export async function verifyManifest(manifest: Uint8Array, jws: string, trusted: readonly TrustedKey[]): Promise<VerifyResult> {
  const parts = jws.trim().split('.');
  if (parts.length !== 3 || parts[1] !== '') return { ok: false, reason: 'malformed', detail: 'manifest.jws is not a detached compact JWS (header..signature)' };
  let header: { alg?: string; kid?: string };
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as { alg?: string; kid?: string };
    if (!header || typeof header !== 'object') throw new Error('not an object');
  } catch {
    return { ok: false, reason: 'malformed', detail: 'manifest.jws has an unreadable header' };
  }
  const candidates = header.kid ? trusted.filter((k) => k.kid === header.kid) : trusted;
  if (candidates.length === 0) {
    return {
      ok: false,
      reason: 'untrusted-key',
      detail: header.kid
        ? `signed by key "${header.kid}", which is not among the trusted keys (${trusted.map((k) => k.kid).join(', ') || 'none configured'})`
        : 'no trusted keys are configured',
    };
  }
  const full = `${parts[0]}.${Buffer.from(manifest).toString('base64url')}.${parts[2]}`;
  for (const k of candidates) {
    if (header.alg !== k.alg) continue;
    try {
      await compactVerify(full, k.key, { algorithms: [k.alg] });
      return { ok: true, kid: k.kid };
    } catch {
      // try the next candidate
    }
  }
  return {
    ok: false,
    reason: header.kid ? 'bad-signature' : 'untrusted-key',
    detail: header.kid
      ? `the signature by key "${header.kid}" does not verify: manifest.json was changed after signing, or manifest.jws is not its signature`
      : 'the signature verifies against none of the trusted keys',
  };
}

/** A new Ed25519 key pair as JWKs (private and public), with a thumbprint kid. */
export async function generateSigningKey(kidPrefix = 'palisade-models'): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = `${kidPrefix}-${(await calculateJwkThumbprint(publicJwk)).slice(0, 16)}`;
  const pub = { ...publicJwk, kid, alg: 'EdDSA', use: 'sig' };
  return { privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'EdDSA', use: 'sig' }, publicJwk: pub };
}
