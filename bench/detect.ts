/**
 * `npm run bench:detect`: the detector runtime on this machine, with the shipped package.
 *
 *   1. Throughput and latency under concurrency: micro-batched (one run for the rows of
 *      all callers waiting) against one run per request (batch size 1).
 *   2. Latency of one detector call by text length, 1 KB to 64 KB (linear?).
 *   3. The whole inspect stage on a 2 KB chat request.
 *
 * Writes bench/results/detect.md (and prints it). Not a test: numbers vary by machine.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { loadConfigText } from '../src/config/load.js';
import { builtinFeaturizers } from '../src/detect/featurizers/registry.js';
import { createInspectStage } from '../src/detect/inspect-stage.js';
import { loadPackage } from '../src/detect/package.js';
import { DetectorSessions } from '../src/detect/sessions.js';
import { readTrustedKey } from '../src/detect/signing.js';
import { scoreTexts } from '../src/detect/text-scorer.js';
import { silentLogger } from '../src/services.js';
import { MemoryStore } from '../src/state/memory.js';
import type { RequestContext } from '../src/pipeline/context.js';
import type { ModelRuntime } from '../src/runtime.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PKG = join(ROOT, 'models/prompt-injection');
const KEY = join(ROOT, 'models/keys/palisade-models.pub.jwk');
const SENTENCE = 'Our service processes about two million events per day with a median latency of 40 ms; please review the design. ';
const text = (bytes: number, salt = 0) => `${salt} ${SENTENCE.repeat(Math.ceil(bytes / SENTENCE.length))}`.slice(0, bytes);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}
const f3 = (x: number) => x.toFixed(3);

async function main(): Promise<void> {
  const pkg = await loadPackage(PKG, { trustedKeys: [await readTrustedKey(KEY)], featurizers: builtinFeaturizers() });
  const out: string[] = [];
  const say = (s = '') => {
    out.push(s);
    process.stdout.write(`${s}\n`);
  };
  say('# Detector runtime benchmark');
  say();
  say(`Command: \`npm run bench:detect\` (bench/detect.ts). Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}. Package: ${pkg.manifest.name} ${pkg.manifest.version}. Times in ms. Load average at start: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}.`);
  say();

  // 1. Concurrency.
  say('## Micro-batched vs one run per request');
  say();
  say('Each caller scores a 300-character prompt (one window); `C` callers keep one request in flight each, 3000 requests in all.');
  say();
  say('| C | mode | req/s | p50 | p99 | runs | rows/run |');
  say('|---|---|---|---|---|---|---|');
  for (const c of [1, 8, 32, 64]) {
    for (const mode of ['batched', 'one-per-request'] as const) {
      const sessions = new DetectorSessions();
      const lease = await sessions.acquire(pkg, { maxSize: mode === 'batched' ? 64 : 1, maxWaitMs: 0 });
      const total = 3000;
      let next = 0;
      const lat: number[] = [];
      const worker = async () => {
        while (next < total) {
          const i = next++;
          const t = performance.now();
          await scoreTexts(lease.engine, [text(300, i)], { threshold: 0.5, earlyExit: true });
          lat.push(performance.now() - t);
        }
      };
      for (let i = 0; i < 200; i++) await scoreTexts(lease.engine, [text(300, i)], { threshold: 0.5, earlyExit: true });
      const s0 = { ...lease.engine.batcher.stats };
      const t0 = performance.now();
      await Promise.all(Array.from({ length: c }, worker));
      const secs = (performance.now() - t0) / 1000;
      const runs = lease.engine.batcher.stats.runs - s0.runs;
      const rows = lease.engine.batcher.stats.rows - s0.rows;
      say(`| ${c} | ${mode} | ${Math.round(total / secs)} | ${f3(pct(lat, 0.5))} | ${f3(pct(lat, 0.99))} | ${runs} | ${(rows / runs).toFixed(1)} |`);
      lease.release();
      await sessions.close();
    }
  }
  say();

  // 2. Length.
  say('## Latency by text length (one caller, benign text: every window scored)');
  say();
  say('32 B is the full-chain bench\'s prompt (one short window).');
  say();
  say('| length | windows | p50 | p99 | p50 per KB |');
  say('|---|---|---|---|---|');
  const sessions = new DetectorSessions();
  const lease = await sessions.acquire(pkg, { maxSize: 64, maxWaitMs: 0 });
  const byLength: Record<string, { windows: number; p50: number; p99: number }> = {};
  for (const kb of [1 / 32, 1, 2, 4, 8, 16, 32, 64]) {
    const t = text(kb * 1024);
    const n = kb >= 32 ? 200 : kb >= 8 ? 500 : kb < 1 ? 5000 : 2000;
    let windows = 0;
    for (let i = 0; i < 30; i++) windows = (await scoreTexts(lease.engine, [t], { threshold: 0.5, earlyExit: true })).windows;
    const lat: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = performance.now();
      await scoreTexts(lease.engine, [t], { threshold: 0.5, earlyExit: true });
      lat.push(performance.now() - s);
    }
    const label = kb < 1 ? `${kb * 1024} B` : `${kb} KB`;
    say(`| ${label} | ${windows} | ${f3(pct(lat, 0.5))} | ${f3(pct(lat, 0.99))} | ${f3(pct(lat, 0.5) / kb)} |`);
    // The manifest's latency table (set-latency.ts) keeps its KB rows.
    if (kb >= 1) byLength[`${kb}kb`] = { windows, p50: Number(f3(pct(lat, 0.5))), p99: Number(f3(pct(lat, 0.99))) };
  }
  lease.release();
  await sessions.close();
  say();

  // 3. The whole stage.
  say('## The inspect stage on a 2 KB chat request (one caller)');
  say();
  const yaml = `
upstreams: { llm: { protocol: openai, url: "http://127.0.0.1:9" } }
models: [{ name: m, upstream: llm, detectors: [prompt-injection] }]
detectors:
  trustedKeys: [${JSON.stringify(KEY)}]
  packages: { prompt-injection: { path: ${JSON.stringify(PKG)}, budget: 1s } }
`;
  const r = loadConfigText(yaml, join(ROOT, 'bench/bench.yaml'));
  if (!r.ok) throw new Error('bench config');
  const svc = { logger: silentLogger, observer: {}, state: new MemoryStore(), detectors: new DetectorSessions() };
  const stage = (await createInspectStage(r.loaded, svc))!;
  const t2 = text(2048);
  const ctx = (): RequestContext =>
    ({
      id: 'b',
      // The stage reads the client address (stream detectors key on it).
      http: { clientAddress: '127.0.0.1' },
      model: { name: 'm' } as ModelRuntime,
      request: { protocol: 'openai', model: 'm', operation: 'chat', texts: [{ role: 'user', text: t2, path: 'messages[0].content' }], tensors: [], params: { stream: false }, body: {} },
      notes: [],
      locals: {},
    }) as unknown as RequestContext;
  for (let i = 0; i < 300; i++) await stage.request!(ctx());
  const lat: number[] = [];
  const denied = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const s = performance.now();
    const d = await stage.request!(ctx());
    lat.push(performance.now() - s);
    if (!d.allow) denied.set(d.code ?? '?', (denied.get(d.code ?? '?') ?? 0) + 1);
  }
  const deniedText = denied.size ? [...denied].map(([c, n]) => `${n} denied ${c}`).join(', ') : '0 denied: every request passed';
  say(`p50 ${f3(pct(lat, 0.5))} ms, p99 ${f3(pct(lat, 0.99))} ms over 3000 requests (${deniedText}).`);
  await stage.close!();
  await svc.detectors.close();
  await svc.state.close();
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/detect.md'), `${out.join('\n')}\n`);
  // For the package's manifest (detectors/prompt-injection/set-latency.ts).
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  writeFileSync(
    join(ROOT, 'bench/results/detect.json'),
    `${JSON.stringify({ command: 'npm run bench:detect', package: pkg.manifest.version, node: process.version, loadAverageAtEnd: load, byLength, inspectStage2kb: { p50: Number(f3(pct(lat, 0.5))), p99: Number(f3(pct(lat, 0.99))) } }, null, 2)}\n`,
  );
}

await main();
