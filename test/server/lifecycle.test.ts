/**
 * The gateway as a process: `palisade start`, SIGTERM drain, SIGHUP reload,
 * `palisade validate` exit codes.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnGateway } from '../helpers/gateway-process.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';

const ROOT = new URL('../../', import.meta.url).pathname;
let llm: SpawnedServer;

before(async () => {
  llm = await spawnServer('src/demo/llm-server.ts');
});
after(async () => {
  await llm?.stop();
});

function writeConfig(extra = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-life-'));
  const file = join(dir, 'palisade.yaml');
  writeFileSync(
    file,
    `server:
  listen: 127.0.0.1:0
  admin: { listen: 127.0.0.1:0 }
  drainTimeout: 5s
upstreams:
  llm: { protocol: openai, url: "${llm.url}" }
models:
  - { name: demo-llm, upstream: llm }
${extra}`,
  );
  return file;
}

async function startProcess(file: string): Promise<{ child: ChildProcess; url: string; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '-c', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`no listening line: ${buf}`)), 20_000);
    child.stdout!.on('data', (d) => {
      buf += d;
      const m = /"url":"(http[^"]+)"[^\n]*palisade listening/.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
  });
  return { child, url, exit };
}

const chatBody = (stream: boolean) => JSON.stringify({ model: 'demo-llm', messages: [{ role: 'user', content: 'hi' }], stream, max_tokens: 20 });

test('SIGTERM drains: the request in flight completes, then the process exits 0', async () => {
  const { child, url, exit } = await startProcess(writeConfig());
  // The response has started (headers come with the first event) before the drain does:
  // a fixed sleep lost that race on a loaded machine.
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-demo-token-delay-ms': '50' },
    body: chatBody(true),
  });
  child.kill('SIGTERM');
  const r = { status: res.status, text: await res.text() };
  assert.equal(r.status, 200);
  assert.match(r.text, /data: \[DONE\]\n\n$/, 'the stream in flight ran to its end');
  assert.equal(await exit, 0);
  await assert.rejects(fetch(`${url}/v1/models`), 'no longer accepting');
});

test('SIGHUP reloads the config file', async () => {
  const file = writeConfig();
  const { child, url, exit } = await startProcess(file);
  try {
    writeFileSync(file, writeConfigText(file).replace('{ name: demo-llm, upstream: llm }', '{ name: demo-llm, upstream: llm }\n  - { name: alias, upstream: llm, upstreamModel: demo-llm }'));
    child.kill('SIGHUP');
    let ids: string[] = [];
    for (let i = 0; i < 50 && !ids.includes('alias'); i++) {
      await sleep(100);
      ids = ((await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] }).data.map((m) => m.id);
    }
    assert.ok(ids.includes('alias'), ids.join());
  } finally {
    child.kill('SIGTERM');
    await exit;
  }
});

function writeConfigText(file: string): string {
  return spawnSync('cat', [file]).stdout.toString();
}

test('palisade validate: exit 0 for a good file, 1 with every problem for a bad one', () => {
  const good = spawnSync(process.execPath, ['bin/palisade.js', 'validate', '-c', writeConfig()], { cwd: ROOT });
  assert.equal(good.status, 0, good.stderr.toString());
  assert.match(good.stdout.toString(), /ok \(1 models, 1 upstreams\)/);
  const bad = writeConfig('  - { name: x, upstream: nope, extra: 1 }\n');
  const r = spawnSync(process.execPath, ['bin/palisade.js', 'validate', '-c', bad], { cwd: ROOT });
  assert.equal(r.status, 1);
  const out = r.stdout.toString();
  assert.match(out, /palisade\.yaml:9:\d+ models\[1\]\.extra: unknown key/);
  assert.match(out, /palisade\.yaml:9:\d+ models\[1\]\.upstream: unknown upstream "nope"/);
  assert.match(out, /2 problems/);
  const usage = spawnSync(process.execPath, ['bin/palisade.js', 'validate'], { cwd: ROOT });
  assert.equal(usage.status, 2);
});

test('regression: a SIGHUP right after the listening line killed the process; a reload of invalid YAML keeps the old config', async () => {
  const file = writeConfig();
  const { child, url, exit } = await startProcess(file);
  try {
    const good = writeConfigText(file);
    writeFileSync(file, `${good}  - { name: broken, upstream: llm\n`); // unterminated flow mapping
    child.kill('SIGHUP');
    await sleep(500);
    assert.equal(child.exitCode, null, 'still running');
    assert.equal(child.signalCode, null, 'not killed by SIGHUP');
    const ids = ((await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] }).data.map((m) => m.id);
    assert.deepEqual(ids, ['demo-llm'], 'the old config serves');
  } finally {
    child.kill('SIGTERM');
    await exit;
  }
});

test('the listening line names the bound address and a URL that reaches it (a wildcard bind shows as 127.0.0.1)', async () => {
  const file = writeConfig().replace(/palisade\.yaml$/, 'wild.yaml');
  writeFileSync(file, `server:\n  listen: 0.0.0.0:0\n  admin: { listen: 127.0.0.1:0 }\nupstreams:\n  llm: { protocol: openai, url: "${llm.url}" }\nmodels:\n  - { name: demo-llm, upstream: llm }\n`);
  const gw = await spawnGateway(file);
  try {
    const line = gw.logs.find((l) => l.msg === 'palisade listening')!;
    const port = new URL(gw.url).port;
    assert.equal(line.listen, `0.0.0.0:${port}`);
    assert.equal(gw.url, `http://127.0.0.1:${port}`);
    assert.equal(line.adminListen, new URL(gw.adminUrl).host);
    assert.equal((await fetch(`${gw.url}/v1/models`)).status, 200);
  } finally {
    await gw.stop();
  }
});
