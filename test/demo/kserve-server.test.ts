import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseServerArgs, startKServeServer } from '../../src/demo/kserve-server.js';
import { loadMnist, selectRows } from '../../src/demo/mnist-data.js';
import { Mlp } from '../../src/ml/mlp.js';
import { mlpToOnnx } from '../../src/ml/onnx-builder.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Spawned {
  child: ChildProcess;
  url: string;
  stdoutLines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the server CLI as its own process and waits for its one "listening" line. */
async function spawnServer(args: string[]): Promise<Spawned> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/demo/kserve-server.ts', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const stdoutLines: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      stdoutLines.push(line);
      if (stdoutLines.length === 1) resolve(line);
    });
    exited.then(({ code }) => reject(new Error(`server exited (${code}) before listening: ${stderr}`)));
  });
  const { listening } = JSON.parse(first) as { listening: string };
  return { child, url: listening, stdoutLines, exited };
}

async function call(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(url, init);
  const text = await res.text();
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  return { status: res.status, body: JSON.parse(text) };
}

function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
  return call(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

function argmax(row: number[]): number {
  return row.indexOf(Math.max(...row));
}

describe('kserve-server as a process (default mnist model)', () => {
  let server: Spawned;
  const digits = selectRows(loadMnist().test, Array.from({ length: 20 }, (_, i) => i));
  const rows = Array.from({ length: digits.n }, (_, i) => Array.from(digits.x.subarray(i * 784, (i + 1) * 784)));

  before(async () => {
    server = await spawnServer(['--port', '0', '--host', '127.0.0.1']);
  });

  after(async () => {
    server.child.kill('SIGTERM');
    const { code } = await server.exited;
    assert.equal(code, 0, 'exits cleanly on SIGTERM');
    assert.equal(server.stdoutLines.length, 1, 'prints exactly one line');
  });

  it('announces its URL as one JSON line', () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers health and metadata', async () => {
    assert.deepEqual((await call(`${server.url}/v2/health/live`)).body, { live: true });
    assert.deepEqual((await call(`${server.url}/v2/health/ready`)).body, { ready: true });
    const meta = await call(`${server.url}/v2/models/mnist`);
    assert.equal(meta.status, 200);
    assert.deepEqual(meta.body, {
      name: 'mnist',
      versions: ['1'],
      platform: 'onnxruntime',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 784] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 10] },
        { name: 'logits', datatype: 'FP32', shape: [-1, 10] },
      ],
    });
    assert.equal((await call(`${server.url}/v2/models/mnist/versions/1/ready`)).body.ready, true);
  });

  it('classifies real held-out digits through /v2 infer (flat data, id echoed)', async () => {
    const { status, body } = await post(`${server.url}/v2/models/mnist/infer`, {
      id: 'req-1',
      inputs: [{ name: 'input', shape: [digits.n, 784], datatype: 'FP32', data: Array.from(digits.x) }],
    });
    assert.equal(status, 200);
    assert.equal(body.id, 'req-1');
    assert.equal(body.model_name, 'mnist');
    assert.deepEqual(body.outputs.map((o: any) => [o.name, o.datatype, o.shape]), [
      ['probabilities', 'FP32', [20, 10]],
      ['logits', 'FP32', [20, 10]],
    ]);
    const probs: number[] = body.outputs[0].data;
    assert.equal(probs.length, 200);
    let correct = 0;
    for (let i = 0; i < 20; i++) {
      const row = probs.slice(i * 10, i * 10 + 10);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-4);
      if (argmax(row) === digits.y[i]) correct++;
    }
    assert.ok(correct >= 18, `${correct}/20 digits right`);
  });

  it('accepts nested data and filters outputs by name', async () => {
    const { status, body } = await post(`${server.url}/v2/models/mnist/versions/1/infer`, {
      inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: [rows[0]] }],
      outputs: [{ name: 'logits' }],
    });
    assert.equal(status, 200);
    assert.deepEqual(body.outputs.map((o: any) => o.name), ['logits']);
    assert.equal(argmax(body.outputs[0].data), digits.y[0]);
    assert.equal(body.id, undefined);
  });

  it('serves TF Serving predict in row and columnar formats', async () => {
    const rowFormat = await post(`${server.url}/v1/models/mnist:predict`, { instances: rows.slice(0, 3) });
    assert.equal(rowFormat.status, 200);
    assert.equal(rowFormat.body.predictions.length, 3);
    for (let i = 0; i < 3; i++) {
      assert.equal(rowFormat.body.predictions[i].length, 10);
      assert.equal(argmax(rowFormat.body.predictions[i]), digits.y[i]);
    }
    const columnar = await post(`${server.url}/v1/models/mnist/versions/1:predict`, { inputs: rows.slice(0, 2) });
    assert.equal(columnar.status, 200);
    assert.deepEqual(columnar.body.outputs, rowFormat.body.predictions.slice(0, 2));
    const status = await call(`${server.url}/v1/models/mnist`);
    assert.deepEqual(status.body, { model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
  });

  it('answers 404 for an unknown model, version or route', async () => {
    const infer = { inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: rows[0] }] };
    for (const path of ['/v2/models/nope/infer', '/v2/models/mnist/versions/9/infer']) {
      const r = await post(`${server.url}${path}`, infer);
      assert.equal(r.status, 404, path);
      assert.equal(typeof r.body.error, 'string');
    }
    assert.equal((await post(`${server.url}/v1/models/nope:predict`, { instances: [rows[0]] })).status, 404);
    assert.equal((await call(`${server.url}/v2/models/nope`)).status, 404);
    assert.equal((await call(`${server.url}/nothing/here`)).status, 404);
  });

  it('answers 400 for malformed or mismatched bodies', async () => {
    const bad: [string, unknown][] = [
      ['/v2/models/mnist/infer', '{"inputs": ['],
      ['/v2/models/mnist/infer', ''],
      ['/v2/models/mnist/infer', { inputs: [] }],
      ['/v2/models/mnist/infer', { inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: [1, 2, 3] }] }],
      ['/v2/models/mnist/infer', { inputs: [{ name: 'input', shape: [1, 783], datatype: 'FP32', data: rows[0].slice(1) }] }],
      ['/v2/models/mnist/infer', { inputs: [{ name: 'input', shape: [1, 784], datatype: 'INT32', data: rows[0] }] }],
      ['/v2/models/mnist/infer', { inputs: [{ name: 'other', shape: [1, 784], datatype: 'FP32', data: rows[0] }] }],
      ['/v2/models/mnist/infer', { inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: ['x'] }] }],
      ['/v2/models/mnist/infer', { inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: rows[0] }], outputs: [{ name: 'nope' }] }],
      ['/v1/models/mnist:predict', { instances: [rows[0], rows[1].slice(1)] }],
      ['/v1/models/mnist:predict', { instances: [rows[0]], inputs: [rows[0]] }],
      ['/v1/models/mnist:predict', '[1,2,3]'],
    ];
    for (const [path, body] of bad) {
      const r = await post(`${server.url}${path}`, body);
      assert.equal(r.status, 400, `${path} ${String(JSON.stringify(body)).slice(0, 80)} -> ${JSON.stringify(r.body)}`);
      assert.equal(typeof r.body.error, 'string');
    }
    assert.equal((await call(`${server.url}/v2/models/mnist/infer`)).status, 405);
  });

  it('counts every request by path, and resets', async () => {
    assert.deepEqual((await post(`${server.url}/__stats/reset`, '')).body, { requests: 0, byPath: {} });
    await call(`${server.url}/v2/health/live`);
    await call(`${server.url}/v2/health/live?probe=1`);
    await post(`${server.url}/v2/models/nope/infer`, '{}');
    const stats = (await call(`${server.url}/__stats`)).body;
    assert.deepEqual(stats, { requests: 3, byPath: { '/v2/health/live': 2, '/v2/models/nope/infer': 1 } });
  });
});

describe('startKServeServer in process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-kserve-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('serves several versions, picks the latest by default, and closes', async () => {
    const paths = [1, 2, 10].map((v) => {
      const mlp = Mlp.create({ sizes: [3, 2], seed: v });
      const path = join(dir, `m${v}.onnx`);
      writeFileSync(path, mlpToOnnx(mlp, { inputName: 'x', outputs: 'logits' }));
      return { version: String(v), path, mlp };
    });
    const server = await startKServeServer({ models: paths.map((p) => ({ name: 'tiny', path: p.path, version: p.version })) });
    try {
      const meta = await call(`${server.url}/v2/models/tiny`);
      assert.deepEqual(meta.body.versions, ['1', '2', '10']);
      const x = [0.5, -1, 2];
      const infer = { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: x }] };
      const latest = await post(`${server.url}/v2/models/tiny/infer`, infer);
      assert.equal(latest.body.model_version, '10');
      const v2 = await post(`${server.url}/v2/models/tiny/versions/2/infer`, infer);
      const expected = paths[1].mlp.forward(Float32Array.from(x), 1);
      v2.body.outputs[0].data.forEach((v: number, i: number) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
      const tf = await post(`${server.url}/v1/models/tiny/versions/2:predict`, { instances: [{ x }] });
      assert.deepEqual(tf.body.predictions, [v2.body.outputs[0].data]);
      assert.equal(server.stats().requests, 4);
    } finally {
      await server.close();
    }
    await assert.rejects(fetch(`${server.url}/v2/health/live`));
  });

  it('refuses to start on a model file that does not exist', async () => {
    await assert.rejects(startKServeServer({ models: [{ name: 'm', path: join(dir, 'missing.onnx') }] }), /cannot load model m/);
  });

  it('parses its command line', () => {
    assert.deepEqual(parseServerArgs(['--port', '0', '--host', '::1', '--model', 'a@3=/x/a.onnx']), {
      port: 0,
      host: '::1',
      models: [{ name: 'a', version: '3', path: '/x/a.onnx' }],
    });
    assert.throws(() => parseServerArgs(['--port', 'abc']), /not a port/);
    assert.throws(() => parseServerArgs(['--bogus']), /unknown argument/);
  });
});
