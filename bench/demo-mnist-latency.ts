// Latency of the demo MNIST model: onnxruntime session.run in process, and one HTTP
// round trip through the demo model server (KServe v2 infer). Bounded loops, loopback only.
// Usage: node --import tsx bench/demo-mnist-latency.ts [iterations]
import * as ort from '../src/detect/ort.js';
import { DEMO_MNIST_ONNX } from '../src/demo/demo-mnist-model.js';
import { startKServeServer } from '../src/demo/kserve-server.js';
import { loadMnist } from '../src/demo/mnist-data.js';

const iterations = Number(process.argv[2] ?? 2000);
const { test } = loadMnist();

function summary(samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return `p50 ${q(0.5).toFixed(3)} ms  p99 ${q(0.99).toFixed(3)} ms  mean ${(s.reduce((a, b) => a + b, 0) / s.length).toFixed(3)} ms`;
}

async function time(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < Math.min(50, n); i++) await fn(i); // warm-up
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

const session = await ort.InferenceSession.create(DEMO_MNIST_ONNX);
for (const batch of [1, 64]) {
  const n = batch === 1 ? iterations : Math.ceil(iterations / 10);
  const samples = await time(n, (i) => {
    const start = (i * batch) % (test.n - batch);
    return session.run({ input: new ort.Tensor('float32', test.x.slice(start * 784, (start + batch) * 784), [batch, 784]) });
  });
  console.log(`onnxruntime session.run batch ${batch}: ${summary(samples)}`);
}
await session.release();

const server = await startKServeServer({ port: 0 });
try {
  const bodies = Array.from({ length: 100 }, (_, i) =>
    JSON.stringify({ inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: Array.from(test.x.subarray(i * 784, (i + 1) * 784)) }] }),
  );
  const samples = await time(Math.ceil(iterations / 4), async (i) => {
    const res = await fetch(`${server.url}/v2/models/mnist/infer`, { method: 'POST', body: bodies[i % bodies.length] });
    await res.arrayBuffer();
  });
  console.log(`HTTP /v2/models/mnist/infer batch 1 (fetch, keep-alive): ${summary(samples)}`);
} finally {
  await server.close();
}
