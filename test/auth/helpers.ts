/**
 * Shared fixtures of the auth tests: an identity provider (a key pair and its JWKS),
 * token signing with any header, a recorder of what the pipeline decided (the notes that
 * go to the audit record), and requests through the gateway.
 */
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { Gateway } from '../../src/server/gateway.js';
import type { Note, Outcome } from '../../src/pipeline/types.js';

export interface Idp {
  kid: string;
  iss: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  /** JSON of the JWKS file. */
  jwks: string;
  /** Signs a token: claims are merged over valid defaults; `header` over {alg, kid}. */
  sign(claims?: JWTPayload, header?: Record<string, unknown>, key?: CryptoKey | Uint8Array): Promise<string>;
}

export const AUDIENCE = 'palisade-api';

export async function makeIdp(kid: string, iss: string): Promise<Idp> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return {
    kid,
    iss,
    privateKey,
    publicJwk,
    jwks: JSON.stringify({ keys: [publicJwk] }),
    async sign(claims = {}, header = {}, key = privateKey) {
      const now = Math.floor(Date.now() / 1000);
      const body: JWTPayload = { iss, aud: AUDIENCE, sub: 'alice', iat: now, exp: now + 600, scope: 'chat', ...claims };
      for (const [k, v] of Object.entries(body)) if (v === undefined) delete body[k];
      return new SignJWT(body).setProtectedHeader({ alg: 'ES256', kid, ...header } as never).sign(key);
    },
  };
}

export interface Recorded {
  notes: Note[];
  outcome: Outcome;
  principal?: string;
}

/** Records every request's notes and outcome (what the audit record will hold). */
export function recorder(gw: Gateway): Recorded[] {
  const out: Recorded[] = [];
  gw.services.observer.requestDone = (ctx, outcome) => out.push({ notes: [...ctx.notes], outcome, principal: ctx.principal?.id });
  return out;
}

/** The reason of the last auth refusal recorded. */
export function lastReason(rec: Recorded[]): string | undefined {
  const r = rec[rec.length - 1];
  const n = r?.notes.find((x) => x.stage === 'identify' || x.stage === 'authorize');
  return n?.detail?.reason as string | undefined;
}

/** A chat completion through the gateway with the given headers. */
export async function chat(url: string, model: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }] }),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

/** Requests the demo LLM server received so far. */
export async function upstreamRequests(llmUrl: string): Promise<number> {
  const r = await fetch(`${llmUrl}/__stats`);
  return ((await r.json()) as { requests: number }).requests;
}

/** An RFC 8693 exchange at the gateway. */
export async function exchange(url: string, params: Record<string, string>, init: RequestInit = {}) {
  const res = await fetch(`${url}/palisade/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      ...params,
    }).toString(),
    ...init,
  });
  return { status: res.status, json: (await res.json()) as any, headers: res.headers };
}

/** Decodes a JWT's payload without verifying (to read what the gateway issued). */
export function payloadOf(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}
