/**
 * Encryption in transit, with certificates the test makes: HTTPS and mTLS on the main
 * listener; certificate verification and mTLS towards an HTTPS upstream.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { makeCerts, type TestCerts } from '../helpers/certs.js';
import { startGateway } from '../helpers/gateway.js';

let certs: TestCerts;
let upstream: Server;
let upstreamUrl: string;
let seenClientCert: string | undefined;

const chat = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });

before(async () => {
  certs = makeCerts();
  // An HTTPS model server fixture that asks for (but does not require) a client certificate.
  upstream = createServer(
    { cert: certs.read(certs.serverCert), key: certs.read(certs.serverKey), ca: certs.read(certs.caCert), requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const sock = req.socket as import('node:tls').TLSSocket;
      seenClientCert = sock.authorized ? String(sock.getPeerCertificate().subject?.CN) : undefined;
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: 'ok' } }] }));
      });
    },
  );
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `https://127.0.0.1:${(upstream.address() as { port: number }).port}`;
});
after(() => new Promise<void>((r) => upstream.close(() => r())));

const upstreamConfig = (tls: string) => `
upstreams:
  llm:
    protocol: openai
    url: "${upstreamUrl}"
    retries: 0
${tls}
models:
  - { name: m, upstream: llm }
`;

test('upstream TLS is verified by default: an unknown CA is a 502, the configured CA works', async () => {
  const noCa = await startGateway(upstreamConfig(''));
  try {
    const r = await fetch(`${noCa.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat });
    assert.equal(r.status, 502);
  } finally {
    await noCa.stop();
  }
  const withCa = await startGateway(upstreamConfig(`    tls: { ca: ${JSON.stringify(certs.caCert)} }`));
  try {
    const r = await fetch(`${withCa.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat });
    assert.equal(r.status, 200);
    assert.equal(seenClientCert, undefined);
  } finally {
    await withCa.stop();
  }
});

test('mTLS to the upstream presents the configured client certificate', async () => {
  const g = await startGateway(upstreamConfig(`    tls: { ca: ${JSON.stringify(certs.caCert)}, cert: ${JSON.stringify(certs.clientCert)}, key: ${JSON.stringify(certs.clientKey)} }`));
  try {
    const r = await fetch(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat });
    assert.equal(r.status, 200);
    assert.equal(seenClientCert, 'alice');
  } finally {
    await g.stop();
  }
});

test('the main listener serves HTTPS and requires a client certificate when told to', async () => {
  const g = await startGateway(`
server:
  tls:
    cert: ${JSON.stringify(certs.serverCert)}
    key: ${JSON.stringify(certs.serverKey)}
    clientCa: ${JSON.stringify(certs.caCert)}
    requireClientCert: true
${upstreamConfig(`    tls: { ca: ${JSON.stringify(certs.caCert)} }`)}`);
  try {
    assert.match(g.url, /^https:/);
    const withCert = new Agent({ connect: { ca: certs.read(certs.caCert), cert: certs.read(certs.clientCert), key: certs.read(certs.clientKey) } });
    const ok = await request(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat, dispatcher: withCert });
    assert.equal(ok.statusCode, 200);
    await ok.body.dump();
    const noCert = new Agent({ connect: { ca: certs.read(certs.caCert) } });
    await assert.rejects(
      request(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat, dispatcher: noCert }).then((r) => r.body.text()),
      'a client without a certificate fails the handshake',
    );
    await withCert.close();
    await noCert.close();
  } finally {
    await g.stop();
  }
});

test('a reload re-reads the listener certificate files', async () => {
  const second = makeCerts();
  const g = await startGateway(`
server:
  tls:
    cert: ${JSON.stringify(certs.serverCert)}
    key: ${JSON.stringify(certs.serverKey)}
${upstreamConfig(`    tls: { ca: ${JSON.stringify(certs.caCert)} }`)}`);
  try {
    const fingerprint = async (ca: string) => {
      const a = new Agent({ connect: { ca: certs.read(ca) } });
      try {
        const r = await request(`${g.url}/v1/models`, { dispatcher: a });
        await r.body.dump();
        return r.statusCode;
      } finally {
        await a.close();
      }
    };
    assert.equal(await fingerprint(certs.caCert), 200);
    // Replace the files in place with a certificate from another CA, then reload.
    copyFileSync(second.serverCert, certs.serverCert);
    copyFileSync(second.serverKey, certs.serverKey);
    assert.deepEqual(await g.gw.reload(), { ok: true });
    await assert.rejects(fingerprint(certs.caCert), 'the old CA no longer verifies the served certificate');
    assert.equal(await fingerprint(second.caCert), 200);
  } finally {
    await g.stop();
  }
});
