/** API keys: stored as hashes, matched against every stored digest, exact bytes only. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKeys, hashApiKey, newApiKey } from '../../src/auth/api-keys.js';

describe('ApiKeys', () => {
  const k1 = newApiKey();
  const k2 = newApiKey();
  const keys = ApiKeys.load([
    { id: 'svc-1', hash: hashApiKey(k1), tenant: 't', scopes: ['chat'], roles: [] },
    { id: 'svc-2', hash: hashApiKey(k2), scopes: [], roles: ['ops'] },
  ]);

  it('maps a key to its principal, and nothing else to anything', () => {
    assert.deepEqual(keys.match(k1), { id: 'svc-1', tenant: 't', scopes: ['chat'], roles: [], via: 'api-key' });
    assert.equal(keys.match(k2)?.id, 'svc-2');
    for (const wrong of [k1.slice(0, -1), k1 + 'x', k1.toUpperCase(), '', hashApiKey(k1), hashApiKey(k1).slice(7)]) {
      assert.equal(keys.match(wrong), undefined, wrong);
    }
    // Flip each byte in turn: none of the 47 neighbours may match.
    for (let i = 0; i < k1.length; i++) {
      const b = Buffer.from(k1);
      b[i] ^= 1;
      assert.equal(keys.match(b.toString('latin1')), undefined);
    }
  });

  it('makes random 256-bit keys and refuses duplicate ids or hashes', () => {
    assert.match(newApiKey(), /^psk_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(newApiKey(), newApiKey());
    assert.throws(() => ApiKeys.load([{ id: 'a', hash: hashApiKey(k1), scopes: [], roles: [] }, { id: 'a', hash: hashApiKey(k2), scopes: [], roles: [] }]), /duplicate id/);
    assert.throws(() => ApiKeys.load([{ id: 'a', hash: hashApiKey(k1), scopes: [], roles: [] }, { id: 'b', hash: hashApiKey(k1), scopes: [], roles: [] }]), /same hash/);
  });

  it('returns a copy, so a caller cannot change the stored principal', () => {
    keys.match(k1)!.scopes.push('admin');
    assert.deepEqual(keys.match(k1)!.scopes, ['chat']);
  });
});
