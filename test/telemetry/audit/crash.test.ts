/**
 * A gateway process killed with SIGKILL under load leaves an audit log that verifies up
 * to its last durable record; restarted, it continues the chain from there, and a clean
 * stop (SIGTERM) closes the log with a signed checkpoint.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hashLine } from '../../../src/telemetry/audit/chain.js';
import { generateSigningKey, loadVerifyKey } from '../../../src/telemetry/audit/keys.js';
import { verifyAuditFiles } from '../../../src/telemetry/audit/verify.js';
import { spawnServer, type SpawnedServer } from '../../helpers/spawn.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface GatewayProcess {
  child: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `palisade start -c FILE` as a real process; resolves once it logs that it listens. */
function startGatewayProcess(configFile: string): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '-c', configFile], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c));
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (c: Buffer) => {
      buf += c;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const o = JSON.parse(line) as { msg?: string; url?: string };
          if (o.msg === 'palisade listening' && o.url) {
            child.stdout!.off('data', onData);
            child.stdout!.resume();
            resolve({ child, url: o.url, exited });
          }
        } catch {
          // not a log line
        }
      }
    };
    child.stdout!.on('data', onData);
    void exited.then(({ code, signal }) => reject(new Error(`gateway exited (${code}, ${signal}) before listening:\n${stderr}`)));
  });
}

let llm: SpawnedServer;
let dir: string;
before(async () => {
  llm = await spawnServer('src/demo/llm-server.ts');
  dir = mkdtempSync(join(tmpdir(), 'palisade-crash-'));
});
after(async () => {
  await llm.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('SIGKILL under load, restart: the log verifies up to its last durable record and the chain continues', async () => {
  const { privateFile, publicFile } = generateSigningKey(join(dir, 'audit.pem'));
  const auditDir = join(dir, 'audit');
  const configFile = join(dir, 'palisade.yaml');
  writeFileSync(
    configFile,
    `server:
  listen: 127.0.0.1:0
  admin: { listen: 127.0.0.1:0 }
upstreams:
  llm: { protocol: openai, url: "${llm.url}" }
models:
  - { name: demo-llm, upstream: llm }
telemetry:
  metrics: { process: false }
  audit:
    dir: ${auditDir}
    signingKey: ${privateFile}
    fsync: always
    checkpointEvery: 25
`,
  );
  const files = () =>
    readdirSync(auditDir)
      .filter((f) => f.endsWith('.jsonl'))
      .sort()
      .map((f) => join(auditDir, f));
  const readRecords = () => files().flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)));
  const pinned = await loadVerifyKey(publicFile);

  // 1. Load, then SIGKILL while requests are in flight.
  const gw = await startGatewayProcess(configFile);
  const sent = new Set<string>();
  let answered = 0;
  let killed = false;
  const worker = async (w: number) => {
    for (let i = 0; !killed; i++) {
      const id = `load-${w}-${i}`;
      sent.add(id);
      try {
        const r = await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': id },
          body: JSON.stringify({ model: 'demo-llm', messages: [{ role: 'user', content: `request ${id}` }] }),
        });
        await r.arrayBuffer();
        answered++;
        if (answered >= 120 && !killed) {
          killed = true;
          gw.child.kill('SIGKILL');
        }
      } catch {
        return; // the gateway is gone
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
  assert.equal((await gw.exited).signal, 'SIGKILL');

  const crashed = await verifyAuditFiles(files(), { key: pinned });
  assert.equal(crashed.ok, true, crashed.problem?.message);
  assert.ok(crashed.checkpoints >= 1, 'checkpoints were signed under load');
  assert.notEqual(crashed.tail.state, 'closed', 'a killed gateway did not close its log');
  const before = readRecords();
  const requests = before.filter((r) => r.type === 'request');
  assert.ok(requests.length >= 80, `${requests.length} request records survived`);
  for (const r of requests) assert.ok(sent.has(r.id), `record ${r.id} is a request the client sent`);
  const lastDurable = readFileSync(files().at(-1)!, 'utf8').split('\n').slice(0, -1).at(-1)!;

  // 2. Restart: the chain continues from the last durable record.
  const gw2 = await startGatewayProcess(configFile);
  for (let i = 0; i < 5; i++) {
    const r = await fetch(`${gw2.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': `after-${i}` },
      body: JSON.stringify({ model: 'demo-llm', messages: [{ role: 'user', content: 'after the crash' }] }),
    });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
  }
  gw2.child.kill("SIGTERM");
  assert.equal((await gw2.exited).code, 0);

  const all = readRecords();
  const starts = all.filter((r) => r.type === 'start');
  assert.equal(starts.length, 2);
  const restart = starts[1];
  assert.equal(restart.prev, hashLine(lastDurable), 'the new session chains to the last durable record');
  assert.equal(restart.seq, JSON.parse(lastDurable).seq + 1);
  if (crashed.tail.state === 'torn') assert.deepEqual(restart.recovered, { truncatedBytes: crashed.tail.tornBytes });
  assert.deepEqual(
    all.filter((r) => r.type === 'request' && r.id.startsWith('after-')).map((r) => r.id),
    ['after-0', 'after-1', 'after-2', 'after-3', 'after-4'],
  );
  const final = await verifyAuditFiles(files(), { key: pinned });
  assert.equal(final.ok, true, final.problem?.message);
  assert.equal(final.startsAt, 'genesis');
  assert.equal(final.tail.state, 'closed');
  assert.equal(final.tail.truncated, 'no');
});
