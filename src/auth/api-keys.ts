/**
 * API keys of service accounts. Only their SHA-256 is stored (inline in the config or in
 * a file it names). A presented key is hashed and compared with every stored digest in
 * constant time, with no early exit, so neither the match nor its position leaks through
 * timing. SHA-256 rather than a slow KDF: the keys are 256 random bits, so there is no
 * dictionary to slow down, and a per-request scrypt would cost milliseconds.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Principal } from '../pipeline/types.js';
import { apiKeyFileSchema, type ApiKeyEntry } from './config.js';

interface StoredKey {
  digest: Buffer;
  principal: Readonly<Principal>;
}

export class ApiKeys {
  private constructor(private readonly keys: readonly StoredKey[]) {}

  get size(): number {
    return this.keys.length;
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
    const keys = entries.map((e): StoredKey => {
      if (ids.has(e.id)) throw new Error(`auth.apiKeys: duplicate id "${e.id}"`);
      if (digests.has(e.hash)) throw new Error(`auth.apiKeys: "${e.id}" has the same hash as another key`);
      ids.add(e.id);
      digests.add(e.hash);
      return {
        digest: Buffer.from(e.hash.slice('sha256:'.length), 'hex'),
        principal: Object.freeze({ id: e.id, tenant: e.tenant, scopes: [...e.scopes], roles: [...e.roles], via: 'api-key' as const }),
      };
    });
    return new ApiKeys(Object.freeze(keys));
  }

  /** The principal of a presented key, or undefined. Time depends on the number of keys only. */
  match(key: string): Principal | undefined {
    const d = createHash('sha256').update(key, 'utf8').digest();
    let found: Readonly<Principal> | undefined;
    for (const k of this.keys) {
      // Every digest is compared; `found` is set without branching the loop's work.
      const eq = timingSafeEqual(d, k.digest);
      if (eq && found === undefined) found = k.principal;
    }
    return found === undefined ? undefined : { ...found, scopes: [...found.scopes], roles: [...found.roles] };
  }
}

/** `sha256:<hex>` of a key: what the config stores. */
export function hashApiKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/** A new random key (256 bits), with a prefix that makes it recognisable in secret scanners. */
export function newApiKey(): string {
  return `psk_${randomBytes(32).toString('base64url')}`;
}
