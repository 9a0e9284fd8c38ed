/**
 * API keys of service accounts. Only their SHA-256 is stored (inline in the config or in
 * a file it names). SHA-256 rather than a slow KDF: the keys are 256 random bits, so
 * there is no dictionary to slow down, and a per-request scrypt would cost milliseconds.
 *
 * Timing: a presented key is hashed first, and only its digest is looked up and then
 * compared with timingSafeEqual. Whatever the lookup's timing reveals is about the
 * SHA-256 of the attacker's own input, which says nothing about a stored key (that would
 * need a preimage), so the lookup can be a Map and stays O(1) however many keys there
 * are (comparing against every digest cost 0.4 µs per stored key).
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Principal } from '../pipeline/types.js';
import { apiKeyFileSchema, type ApiKeyEntry } from './config.js';

interface StoredKey {
  digest: Buffer;
  principal: Readonly<Principal>;
}

export class ApiKeys {
  private constructor(private readonly keys: ReadonlyMap<string, StoredKey>) {}

  get size(): number {
    return this.keys.size;
  }

  /** Builds the store from inline entries and an optional file (path already resolved). Throws on bad input. */
  static load(inline: readonly ApiKeyEntry[], file?: string): ApiKeys {
    const entries = [...inline];
    if (file) {
      let parsed: unknown;
      try {
        parsed = parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new Error(`auth.apiKeys.file: ${file}: ${(err as Error).message}`);
      }
      const r = apiKeyFileSchema.safeParse(parsed);
      if (!r.success) {
        const i = r.error.issues[0];
        throw new Error(`auth.apiKeys.file: ${file}: [${i.path.join('.')}] ${i.message}`);
      }
      entries.push(...r.data);
    }
    const ids = new Set<string>();
    const digests = new Set<string>();
    const keys = new Map<string, StoredKey>();
    for (const e of entries) {
      if (ids.has(e.id)) throw new Error(`auth.apiKeys: duplicate id "${e.id}"`);
      if (digests.has(e.hash)) throw new Error(`auth.apiKeys: "${e.id}" has the same hash as another key`);
      ids.add(e.id);
      digests.add(e.hash);
      const hex = e.hash.slice('sha256:'.length);
      keys.set(hex, {
        digest: Buffer.from(hex, 'hex'),
        principal: Object.freeze({ id: e.id, tenant: e.tenant, scopes: [...e.scopes], roles: [...e.roles], via: 'api-key' as const }),
      });
    }
    return new ApiKeys(keys);
  }

  /** The principal of a presented key, or undefined. */
  match(key: string): Principal | undefined {
    const hex = hash('sha256', key, 'hex');
    const k = this.keys.get(hex);
    if (k === undefined || !timingSafeEqual(Buffer.from(hex, 'hex'), k.digest)) return undefined;
    const p = k.principal;
    return { ...p, scopes: [...p.scopes], roles: [...p.roles] };
  }
}

/** `sha256:<hex>` of a key: what the config stores. */
export function hashApiKey(key: string): string {
  return `sha256:${hash('sha256', key, 'hex')}`;
}

/** A new random key (256 bits), with a prefix that makes it recognisable in secret scanners. */
export function newApiKey(): string {
  return `psk_${randomBytes(32).toString('base64url')}`;
}
