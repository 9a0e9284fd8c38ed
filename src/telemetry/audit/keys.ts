/**
 * The gateway's audit signing key: a PEM private key (Ed25519, ECDSA P-256/P-384 or RSA),
 * its JWS algorithm, and its key id (the RFC 7638 thumbprint of the public JWK), which
 * the verifier compares against the key it is given.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  alg: string;
  /** JWK thumbprint of the public key. */
  kid: string;
  publicJwk: JWK;
}

/** The JWS algorithm for a key. */
export function algFor(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return 'EdDSA';
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return 'ES256';
      if (curve === 'secp384r1') return 'ES384';
      throw new Error(`unsupported EC curve ${curve} (use P-256 or P-384)`);
    }
    case 'rsa':
      return 'PS256';
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType} (use Ed25519, ECDSA P-256/P-384 or RSA)`);
  }
}

/** Reads a PEM private key file. Throws with the file name when it is not one. */
export async function loadSigningKey(file: string): Promise<SigningKey> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(file));
  } catch (err) {
    throw new Error(`audit signing key ${file}: ${(err as Error).message}`);
  }
  const publicKey = createPublicKey(privateKey);
  const alg = algFor(privateKey);
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { privateKey, publicKey, alg, kid, publicJwk: { ...publicJwk, kid, alg } };
}

/** Reads the key a verifier pins: a PEM public key, or a private key whose public half is used. */
export async function loadVerifyKey(file: string): Promise<{ key: KeyObject; kid: string }> {
  const pem = readFileSync(file);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new Error(`verify key ${file}: ${(err as Error).message}`);
  }
  return { key, kid: await calculateJwkThumbprint(await exportJWK(key)) };
}

/** Generates an Ed25519 key pair: `file` (private, mode 0600) and `file` with `.pub.pem`. */
export function generateSigningKey(file: string): { privateFile: string; publicFile: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  const publicFile = file.replace(/(\.pem)?$/, '.pub.pem');
  writeFileSync(publicFile, publicKey.export({ type: 'spki', format: 'pem' }), { flag: 'wx' });
  return { privateFile: file, publicFile };
}
