/**
 * `palisade token keys | mint | api-key` as real processes: the keys it writes configure a
 * gateway, the token it mints is accepted by a gateway started with the same config, and
 * the API key it prints matches the hash it prints.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { hashApiKey } from '../../src/auth/api-keys.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';
import { bearer, chat, payloadOf } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: ROOT });

describe('palisade token', () => {
  let dir: string;
  let llm: SpawnedServer;
  let gw: TestGateway;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'palisade-cli-'));
    llm = await spawnServer('src/demo/llm-server.ts');
  });
  after(async () => {
    await gw?.stop();
    await llm?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a key pair, and mints a token that a gateway with that key accepts', async () => {
    const keys = await cli('token', 'keys', '--out', dir, '--kid', 'cli-key');
    assert.match(keys.stdout, /kid cli-key/);
    assert.equal(statSync(join(dir, 'cli-key.private.jwk.json')).mode & 0o777, 0o600);
    gw = await startGateway(`
upstreams:
  llm: { protocol: openai, url: ${llm.url} }
models:
  - { name: demo-llm, upstream: llm }
auth:
  policy: { low: { scopes: [chat] } }
  tokenExchange: { issuer: https://palisade.cli.test, keys: [${dir}/cli-key.private.jwk.json] }
`);
    const minted = await cli('token', 'mint', '-c', gw.file, '--sub', 'alice', '--tenant', 'acme', '--scope', 'chat', '--scope', 'extra', '--ttl', '5m');
    const token = minted.stdout.trim();
    const p = payloadOf(token);
    assert.equal(p.sub, 'alice');
    assert.equal(p.tenant, 'acme');
    assert.equal(p.scope, 'chat extra');
    assert.equal(p.exp - p.iat, 300);
    assert.equal((await chat(gw.url, 'demo-llm', bearer(token))).status, 200);
    const noScope = (await cli('token', 'mint', '-c', gw.file, '--sub', 'bob')).stdout.trim();
    assert.equal((await chat(gw.url, 'demo-llm', bearer(noScope))).status, 403);
  });

  it('refuses bad usage with exit code 2', async () => {
    await assert.rejects(cli('token', 'mint', '--sub', 'x'), (e: { code: number }) => e.code === 2);
    await assert.rejects(cli('token', 'frobnicate'), (e: { code: number }) => e.code === 2);
  });

  it('prints a new API key with the hash to configure', async () => {
    const { stdout } = await cli('token', 'api-key', '--id', 'batch-svc', '--scope', 'chat');
    const key = /^(psk_\S+)$/m.exec(stdout)![1];
    assert.ok(stdout.includes(`hash: ${hashApiKey(key)}`));
  });
});
