/** The auth section of the config: what the schema and the build refuse before anything runs. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigText } from '../../src/config/load.js';
import { Gateway } from '../../src/server/gateway.js';
import { silentLogger } from '../../src/services.js';

const base = (auth: string, model = '{ name: m, upstream: u }') => `
upstreams: { u: { protocol: openai, url: "http://127.0.0.1:1" } }
models: [${model}]
auth:
${auth}
`;
const problems = (yaml: string) => {
  const r = loadConfigText(yaml, '/tmp/palisade.yaml');
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
};

describe('auth config', () => {
  it('accepts a full section and fills the defaults', () => {
    const r = loadConfigText(base(`
  issuers:
    - { name: idp, issuer: https://idp.example, audience: [a, b], jwks: { url: https://idp.example/jwks }, claims: { scopes: scp, roles: [realm_access, roles] } }
  tokenExchange: { issuer: https://gw.example, keys: [k.json] }
`, '{ name: m, upstream: u, criticality: high }'), '/tmp/p.yaml');
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    const a = r.loaded.config.auth!;
    assert.equal(r.loaded.config.models[0].criticality, 'high');
    assert.deepEqual(a.issuers[0].algorithms, ['ES256']);
    assert.equal(a.issuers[0].clockTolerance, 30_000);
    assert.equal('url' in a.issuers[0].jwks && a.issuers[0].jwks.cooldown, 30_000);
    assert.equal(a.maxTokenSize, 8192);
    assert.equal(a.tokenExchange!.lifetimes.critical, 300_000);
    assert.equal(a.risk.weights['auth-failure'], 0.05);
    assert.equal(a.revocation.ttl, 86_400_000);
  });

  it('defaults a model to low criticality', () => {
    const r = loadConfigText(base('  issuers: []'), '/tmp/p.yaml');
    assert.ok(r.ok);
    assert.equal(r.loaded.config.models[0].criticality, 'low');
  });

  it('refuses HMAC and none, http JWKS off loopback, duplicates, and the gateway posing as a trusted issuer', () => {
    const p = problems(base(`
  issuers:
    - { name: a, issuer: https://x, audience: y, jwks: { file: j.json }, algorithms: [HS256] }
    - { name: b, issuer: https://x, audience: y, jwks: { url: "http://idp.example/jwks" }, algorithms: [none] }
    - { name: b, issuer: https://z, audience: y, jwks: { file: j.json } }
  tokenExchange: { issuer: https://z, keys: [k.json] }
  policy: { critical: { maxRisk: 2, bogus: true } }
`));
    const text = p.join('\n');
    assert.match(text, /issuers\[0\]\.algorithms\[0\]/);
    assert.match(text, /issuers\[1\]\.algorithms\[0\]/);
    assert.match(text, /must be https/);
    assert.match(text, /duplicate issuer "https:\/\/x"/);
    assert.match(text, /duplicate issuer name "b"/);
    assert.match(text, /tokenExchange\.issuer: the gateway issuer must differ/);
    assert.match(text, /policy\.critical\.bogus: unknown key/);
    assert.match(text, /policy\.critical\.maxRisk/);
  });

  it('refuses requireMtls on a level a model uses when the listener asks for no client certificate', () => {
    const yaml = base('  policy: { critical: { requireMtls: true } }', '{ name: m, upstream: u, criticality: critical }');
    assert.match(problems(yaml).join('\n'), /auth\.policy\.critical\.requireMtls: needs server\.tls/);
    assert.deepEqual(problems(base('  policy: { critical: { requireMtls: true } }')), [], 'no critical model, no problem');
  });

  it('refuses an API key stored in clear instead of as a hash', () => {
    assert.match(problems(base('  apiKeys: { keys: [{ id: svc, hash: psk_plaintext }] }')).join('\n'), /expected sha256/);
  });

  it('does not start with a JWKS file that holds a private key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'palisade-cfg-'));
    try {
      writeFileSync(join(dir, 'j.json'), JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'secret' }] }));
      writeFileSync(join(dir, 'p.yaml'), base('  issuers: [{ name: i, issuer: https://i, audience: a, jwks: { file: j.json } }]'));
      await assert.rejects(
        Gateway.start({ configFile: join(dir, 'p.yaml'), logger: silentLogger, watch: false, listen: { host: '127.0.0.1', port: 0 }, adminListen: { host: '127.0.0.1', port: 0 } }),
        /private key/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
