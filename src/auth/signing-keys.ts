/**
 * The gateway's own token keys: private JWK files named by auth.tokenExchange.keys. The
 * first signs; every one is published at /.well-known/jwks.json and accepted, so a key
 * rotated out of first place keeps verifying until its last token has expired. Also the
 * key generator behind `palisade token keys`.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export const SIGNING_ALGORITHMS = ['ES256', 'ES384', 'EdDSA'] as const;
export type SigningAlg = (typeof SIGNING_ALGORITHMS)[number];

/** The members of a public JWK, by key type: everything else (d, p, q, ...) is private. */
const PUBLIC_MEMBERS: Record<string, readonly string[]> = { EC: ['kty', 'crv', 'x', 'y'], OKP: ['kty', 'crv', 'x'] };
const ALG_OF_CURVE: Record<string, SigningAlg> = { 'P-256': 'ES256', 'P-384': 'ES384', Ed25519: 'EdDSA' };

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: CryptoKey;
  /** The public half, as published. */
  publicJwk: JWK;
}

export class GatewayKeys {
  private constructor(
    readonly keys: readonly SigningKey[],
    /** The public JWKS served at /.well-known/jwks.json. */
    readonly jwks: { keys: JWK[] },
  ) {}

  /** The signing key: the first of the list. */
  get active(): SigningKey {
    return this.keys[0];
  }

  /** The algorithms of every key (the gateway issuer's allow-list). */
  get algorithms(): SigningAlg[] {
    return [...new Set(this.keys.map((k) => k.alg))];
  }

  /** Reads and checks the private JWK files (paths already resolved). Throws with the file name. */
  static async load(files: readonly string[]): Promise<GatewayKeys> {
    const keys: SigningKey[] = [];
    for (const file of files) {
      let jwk: JWK;
      try {
        jwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
      } catch (err) {
        throw new Error(`auth.tokenExchange.keys: ${file}: ${(err as Error).message}`);
      }
      keys.push(await signingKeyOf(jwk, file));
    }
    const kids = new Set<string>();
    for (const k of keys) {
      if (kids.has(k.kid)) throw new Error(`auth.tokenExchange.keys: two keys have kid "${k.kid}"`);
      kids.add(k.kid);
    }
    return new GatewayKeys(Object.freeze(keys), { keys: keys.map((k) => k.publicJwk) });
  }

  /** Signs an access token (RFC 9068 `at+jwt`) with the active key. */
  async sign(claims: JWTPayload, opts: { issuer: string; audience: string | string[]; subject: string; ttlMs: number; jti: string; now?: number }): Promise<string> {
    const k = this.active;
    const iat = Math.floor((opts.now ?? Date.now()) / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: k.alg, kid: k.kid, typ: 'at+jwt' })
      .setIssuer(opts.issuer)
      .setAudience(opts.audience)
      .setSubject(opts.subject)
      .setIssuedAt(iat)
      .setExpirationTime(iat + Math.max(1, Math.floor(opts.ttlMs / 1000)))
      .setJti(opts.jti)
      .sign(k.privateKey);
  }
}

async function signingKeyOf(jwk: JWK, file: string): Promise<SigningKey> {
  const members = jwk.kty ? PUBLIC_MEMBERS[jwk.kty] : undefined;
  const curveAlg = jwk.crv ? ALG_OF_CURVE[jwk.crv] : undefined;
  if (!members || !curveAlg) throw new Error(`auth.tokenExchange.keys: ${file}: expected an EC P-256/P-384 or OKP Ed25519 JWK`);
  if (typeof jwk.d !== 'string') throw new Error(`auth.tokenExchange.keys: ${file}: not a private key (no "d")`);
  const alg = (jwk.alg ?? curveAlg) as SigningAlg;
  if (alg !== curveAlg) throw new Error(`auth.tokenExchange.keys: ${file}: alg ${jwk.alg} does not fit curve ${jwk.crv}`);
  const pub: JWK = {};
  for (const m of members) (pub as Record<string, unknown>)[m] = (jwk as Record<string, unknown>)[m];
  const kid = jwk.kid ?? (await calculateJwkThumbprint(pub));
  const privateKey = (await importJWK({ ...jwk, alg }, alg)) as CryptoKey;
  return { kid, alg, privateKey, publicJwk: { ...pub, kid, alg, use: 'sig' } };
}

export interface GeneratedKeyFiles {
  kid: string;
  /** The private JWK (mode 0600): list it in auth.tokenExchange.keys. */
  privateFile: string;
  /** A JWKS with the public key: what another gateway (or test) trusts as `jwks.file`. */
  publicFile: string;
}

/** Writes a new key pair as `<kid>.private.jwk.json` and `<kid>.jwks.json` in `dir`. */
export async function writeKeyPair(dir: string, opts: { alg?: SigningAlg; kid?: string } = {}): Promise<GeneratedKeyFiles> {
  const alg = opts.alg ?? 'ES256';
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
  const pub = await exportJWK(publicKey);
  const kid = opts.kid ?? (await calculateJwkThumbprint(pub)).slice(0, 16);
  if (!/^[A-Za-z0-9._-]+$/.test(kid)) throw new Error(`invalid kid "${kid}"`);
  const priv = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
  mkdirSync(dir, { recursive: true });
  const privateFile = join(dir, `${kid}.private.jwk.json`);
  const publicFile = join(dir, `${kid}.jwks.json`);
  writeFileSync(privateFile, `${JSON.stringify(priv, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(privateFile, 0o600);
  writeFileSync(publicFile, `${JSON.stringify({ keys: [{ ...pub, kid, alg, use: 'sig' }] }, null, 2)}\n`, { flag: 'wx' });
  return { kid, privateFile, publicFile };
}
