/** The policy table, unit by unit: each requirement refuses alone, and risk is compared last. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authConfigSchema, authCrossCheck } from '../../src/auth/config.js';
import { Policy } from '../../src/auth/policy.js';
import type { Principal } from '../../src/pipeline/types.js';

const cfg = authConfigSchema.parse({
  acrLevels: ['pwd', 'mfa', 'hwk'],
  policy: {
    low: {},
    medium: { scopes: ['chat'] },
    high: { tenants: ['acme'], minAcr: 'mfa', maxAuthAge: '10m', roles: ['analyst', 'operator'] },
    critical: { requireMtls: true, maxRisk: 0.2 },
  },
});
const policy = new Policy(cfg);
const NOW = 1_800_000_000_000;
const base: Principal = { id: 'alice', tenant: 'acme', scopes: ['chat'], roles: ['analyst'], acr: 'hwk', authTime: NOW / 1000 - 60, via: 'jwt' };
const check = (p: Partial<Principal>, criticality: 'low' | 'medium' | 'high' | 'critical', cert?: string, risk = 0, name = 'm') =>
  policy.check({ ...base, ...p }, { name, criticality }, cert, risk, NOW);
const reason = (r: ReturnType<typeof check>) => (r.ok ? 'ok' : `${r.code}:${r.reason}`);

describe('Policy', () => {
  it('has defaults that refuse anonymous callers and rising risk by level', () => {
    assert.equal(reason(check({ via: 'anonymous', scopes: [], roles: [] }, 'low')), 'PALISADE_UNAUTHENTICATED:anonymous');
    assert.deepEqual(['low', 'medium', 'high', 'critical'].map((l) => cfg.policy[l as 'low'].maxRisk), [0.9, 0.8, 0.6, 0.2]);
    assert.equal(reason(check({}, 'low', undefined, 0.9)), 'ok', 'maxRisk is the highest risk still granted');
    assert.equal(reason(check({}, 'low', undefined, 0.91)), 'PALISADE_RISK_TOO_HIGH:risk');
  });

  it('checks scopes (all), roles (any), tenants, acr order and auth age', () => {
    assert.equal(reason(check({ scopes: [] }, 'medium')), 'PALISADE_FORBIDDEN:scope');
    assert.equal(reason(check({}, 'high')), 'ok');
    assert.equal(reason(check({ roles: ['operator'] }, 'high')), 'ok');
    assert.equal(reason(check({ roles: [] }, 'high')), 'PALISADE_FORBIDDEN:role');
    assert.equal(reason(check({ tenant: 'globex' }, 'high')), 'PALISADE_FORBIDDEN:tenant');
    assert.equal(reason(check({ acr: 'mfa' }, 'high')), 'ok');
    assert.equal(reason(check({ acr: 'pwd' }, 'high')), 'PALISADE_FORBIDDEN:acr');
    assert.equal(reason(check({ acr: 'something-else' }, 'high')), 'PALISADE_FORBIDDEN:acr');
    assert.equal(reason(check({ authTime: NOW / 1000 - 601 }, 'high')), 'PALISADE_FORBIDDEN:auth-age');
    assert.equal(reason(check({ authTime: undefined }, 'high')), 'PALISADE_FORBIDDEN:auth-age');
  });

  it('requires a sender-constrained token whose thumbprint is the connection certificate', () => {
    assert.equal(reason(check({}, 'critical', 'thumb')), 'PALISADE_FORBIDDEN:not-sender-constrained');
    assert.equal(reason(check({ cnf: { 'x5t#S256': 'thumb' } }, 'critical')), 'PALISADE_FORBIDDEN:not-sender-constrained');
    assert.equal(reason(check({ cnf: { 'x5t#S256': 'thumb' } }, 'critical', 'other')), 'PALISADE_FORBIDDEN:not-sender-constrained');
    assert.equal(reason(check({ cnf: { 'x5t#S256': 'thumb' } }, 'critical', 'thumb')), 'ok');
    assert.equal(reason(check({ cnf: { 'x5t#S256': 'thumb' } }, 'critical', 'thumb', 0.3)), 'PALISADE_RISK_TOO_HIGH:risk');
  });

  it('keeps a model-bound token to its model', () => {
    assert.equal(reason(check({ models: ['a'] }, 'low', undefined, 0, 'a')), 'ok');
    assert.equal(reason(check({ models: ['a'] }, 'low', undefined, 0, 'b')), 'PALISADE_FORBIDDEN:model-not-bound');
  });

  it('refuses a minAcr that acrLevels does not list, at load', () => {
    const r = authCrossCheck({ auth: { policy: { high: { minAcr: 'mfa' } } } });
    assert.deepEqual(r, [{ path: ['auth', 'policy', 'high', 'minAcr'], message: '"mfa" is not in acrLevels' }]);
    assert.deepEqual(authCrossCheck({ auth: { acrLevels: ['mfa'], policy: { high: { minAcr: 'mfa' } } } }), []);
  });
});
