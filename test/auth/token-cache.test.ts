/** The verified-token cache: bounded LRU, never past an entry's expiry. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TokenCache } from '../../src/auth/token-cache.js';

const entry = (id: string, expiresAt: number) => ({ principal: { id, scopes: [], roles: [], via: 'jwt' as const }, expiresAt });

describe('TokenCache', () => {
  it('never returns an entry at or past its expiry', () => {
    const c = new TokenCache(10);
    c.set('k', entry('a', 1000), 0);
    assert.equal(c.get('k', 999)?.principal.id, 'a');
    assert.equal(c.get('k', 1000), undefined);
    assert.equal(c.size, 0, 'an expired entry is dropped');
    c.set('dead', entry('b', 50), 100);
    assert.equal(c.size, 0, 'an already-expired token is not stored');
  });

  it('evicts the least recently used past its bound', () => {
    const c = new TokenCache(2);
    c.set('a', entry('a', 1e12), 0);
    c.set('b', entry('b', 1e12), 0);
    c.get('a', 1);
    c.set('c', entry('c', 1e12), 0);
    assert.equal(c.size, 2);
    assert.equal(c.get('b', 1), undefined);
    assert.ok(c.get('a', 1) && c.get('c', 1));
  });

  it('stores nothing with maxEntries 0, and keys by a fixed-size hash, not the token', () => {
    const c = new TokenCache(0);
    c.set('a', entry('a', 1e12), 0);
    assert.equal(c.size, 0);
    const k = TokenCache.keyOf('eyJhbGciOiJFUzI1NiJ9.' + 'x'.repeat(5000) + '.sig');
    assert.equal(k.length, 43);
    assert.notEqual(TokenCache.keyOf('a.b.c'), TokenCache.keyOf('a.b.d'));
  });
});
