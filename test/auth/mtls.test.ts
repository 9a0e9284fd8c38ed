/**
 * Sender-constrained tokens for critical models (RFC 8705): certificates made here with
 * openssl (a CA, the gateway's server certificate, two client certificates), a gateway
 * on HTTPS asking for client certificates, and clients on undici with each certificate.
 * A token exchanged over mTLS carries the client certificate's thumbprint in
 * cnf["x5t#S256"] and works only over a connection with that certificate.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as ufetch } from 'undici';
import { writeKeyPair } from '../../src/auth/signing-keys.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';
import { lastReason, makeIdp, payloadOf, recorder, type Idp, type Recorded } from './helpers.js';

/** Makes a CA, a server certificate for 127.0.0.1 and client certificates `names`, in `dir`. */
function makePki(dir: string, names: string[]): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=palisade test CA');
  // Each certificate's extensions are in <name>.ext.
  const issue = (name: string) => {
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  };
  execFileSync('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext`], { cwd: dir });
  issue('server');
  for (const n of names) {
    execFileSync('sh', ['-c', `printf 'extendedKeyUsage=clientAuth\\n' > ${n}.ext`], { cwd: dir });
    issue(n);
  }
}

/** RFC 8705 x5t#S256: base64url(SHA-256(DER)). */
function thumbprint(pemFile: string): string {
  return createHash('sha256').update(new X509Certificate(readFileSync(pemFile)).raw).digest('base64url');
}

describe('mTLS-bound tokens for critical models', () => {
  let dir: string;
  let llm: SpawnedServer;
  let gw: TestGateway;
  let idp: Idp;
  let rec: Recorded[];
  const agents: Agent[] = [];
  let asA: Agent;
  let asB: Agent;
  let noCert: Agent;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'palisade-pki-'));
    makePki(dir, ['client-a', 'client-b']);
    await writeKeyPair(dir, { kid: 'gw' });
    llm = await spawnServer('src/demo/llm-server.ts');
    idp = await makeIdp('idp-1', 'https://idp.test');
    gw = await startGateway(
      `
server:
  tls: { cert: ${dir}/server.crt, key: ${dir}/server.key, clientCa: ${dir}/ca.crt, requestClientCert: true }
upstreams:
  llm: { protocol: openai, url: ${llm.url} }
models:
  - { name: low-llm, upstream: llm, upstreamModel: demo-llm }
  - { name: critical-llm, upstream: llm, upstreamModel: demo-llm, criticality: critical }
auth:
  issuers:
    - { name: idp, issuer: https://idp.test, audience: palisade-api, jwks: { file: idp.jwks.json } }
  policy:
    critical: { requireMtls: true, maxRisk: 1 }
  tokenExchange: { issuer: https://palisade.test, keys: [${dir}/gw.private.jwk.json] }
`,
      { files: { 'idp.jwks.json': idp.jwks } },
    );
    rec = recorder(gw.gw);
    const ca = readFileSync(join(dir, 'ca.crt'));
    const agent = (name?: string) => {
      const a = new Agent({ connect: name ? { ca, cert: readFileSync(join(dir, `${name}.crt`)), key: readFileSync(join(dir, `${name}.key`)) } : { ca } });
      agents.push(a);
      return a;
    };
    asA = agent('client-a');
    asB = agent('client-b');
    noCert = agent();
  });

  after(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await gw?.stop();
    await llm?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const call = async (agent: Agent, model: string, token: string) => {
    const r = await ufetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await r.text();
    return r.status;
  };
  const exchangeOver = async (agent: Agent, subject: string, model: string) => {
    const r = await ufetch(`${gw.url}/palisade/token`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: subject,
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        audience: model,
      }).toString(),
    });
    return { status: r.status, json: (await r.json()) as any };
  };

  it('refuses a bearer token that is not bound to the client certificate on a critical model', async () => {
    const t = await idp.sign();
    assert.equal(await call(asA, 'low-llm', t), 200);
    assert.equal(await call(asA, 'critical-llm', t), 403);
    assert.equal(lastReason(rec), 'not-sender-constrained');
  });

  it('binds an exchanged token to the certificate of the exchange, and honours it only with that certificate', async () => {
    const r = await exchangeOver(asA, await idp.sign(), 'critical-llm');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.expires_in, 300);
    const t = r.json.access_token;
    assert.equal(payloadOf(t).cnf['x5t#S256'], thumbprint(join(dir, 'client-a.crt')));
    assert.equal(await call(asA, 'critical-llm', t), 200);
    assert.equal(await call(asB, 'critical-llm', t), 401);
    assert.equal(lastReason(rec), 'cnf-mismatch');
    assert.equal(await call(noCert, 'critical-llm', t), 401);
    assert.equal(lastReason(rec), 'cnf-mismatch');
  });

  it('refuses to exchange for a critical model without a client certificate', async () => {
    const r = await exchangeOver(noCert, await idp.sign(), 'critical-llm');
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'PALISADE_FORBIDDEN');
  });
});
