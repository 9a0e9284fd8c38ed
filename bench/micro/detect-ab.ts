/**
 * Interleaved A/B of one text-detector call: this checkout's src/detect against another
 * checkout's (BASE), in one process, blocks of calls alternating so that a busy machine
 * slows both alike. Per prompt size: wall p50/p99 of a call, CPU µs per call
 * (process.cpuUsage), and GCs (and their ms) that happened during each side's blocks.
 *
 * Usage: git worktree add --detach /tmp/base <rev> && ln -s $PWD/node_modules /tmp/base/
 *        BASE=/tmp/base node --import tsx bench/micro/detect-ab.ts
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';

const HERE = fileURLToPath(new URL('../..', import.meta.url));
const BASE = process.env.BASE;
if (!BASE) throw new Error('set BASE to the checkout to compare with');
const KEY = join(HERE, 'models/keys/palisade-models.pub.jwk');
const PKG = join(HERE, 'models/prompt-injection');
const SENTENCE = 'Our service processes about two million events per day with a median latency of 40 ms; please review the design. ';
const text = (bytes: number) => `0 ${SENTENCE.repeat(Math.ceil(bytes / SENTENCE.length))}`.slice(0, bytes);

type Call = (t: string) => Promise<unknown>;
async function side(root: string): Promise<{ call: Call; close(): Promise<void> }> {
  const { builtinFeaturizers } = await import(join(root, 'src/detect/featurizers/registry.ts'));
  const { loadPackage } = await import(join(root, 'src/detect/package.ts'));
  const { DetectorSessions } = await import(join(root, 'src/detect/sessions.ts'));
  const { readTrustedKey } = await import(join(root, 'src/detect/signing.ts'));
  const { scoreTexts } = await import(join(root, 'src/detect/text-scorer.ts'));
  const pkg = await loadPackage(PKG, { trustedKeys: [await readTrustedKey(KEY)], featurizers: builtinFeaturizers() });
  const sessions = new DetectorSessions();
  const lease = await sessions.acquire(pkg, { maxSize: 64, maxWaitMs: 0 });
  return {
    call: (t) => scoreTexts(lease.engine, [t], { threshold: 0.5, earlyExit: true }),
    close: async () => {
      lease.release();
      await sessions.close();
    },
  };
}

const sides = { base: await side(BASE), new: await side(HERE) };
let current: keyof typeof sides | undefined;
const gc = { base: { n: 0, ms: 0 }, new: { n: 0, ms: 0 } };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (current) {
    gc[current].n++;
    gc[current].ms += e.duration;
  }
}).observe({ entryTypes: ['gc'] });

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const rounds = Number(process.env.ROUNDS ?? 10);
console.log(`Load average at start: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; base ${BASE}; ${rounds} rounds per size, sides alternating.`);
console.log();
console.log('| prompt | side | calls | p50 ms | p99 ms | CPU µs/call | GCs per 1000 calls | GC ms per 1000 calls |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|');
for (const [label, bytes, block] of [['32 B', 32, 2000], ['2 KB', 2048, 500], ['64 KB', 65536, 30]] as const) {
  const t = text(bytes);
  const lat = { base: [] as number[], new: [] as number[] };
  const cpu = { base: 0, new: 0 };
  gc.base = { n: 0, ms: 0 };
  gc.new = { n: 0, ms: 0 };
  for (const s of ['base', 'new'] as const) for (let i = 0; i < block; i++) await sides[s].call(t); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const s of r % 2 ? (['new', 'base'] as const) : (['base', 'new'] as const)) {
      current = s;
      const c0 = process.cpuUsage();
      for (let i = 0; i < block; i++) {
        const t0 = performance.now();
        await sides[s].call(t);
        lat[s].push(performance.now() - t0);
      }
      const c = process.cpuUsage(c0);
      cpu[s] += c.user + c.system;
      // Let a GC that the block's garbage set off land in its own block.
      await new Promise((res) => setImmediate(res));
      current = undefined;
    }
  }
  for (const s of ['base', 'new'] as const) {
    const n = lat[s].length;
    console.log(`| ${label} | ${s} | ${n} | ${pct(lat[s], 0.5).toFixed(3)} | ${pct(lat[s], 0.99).toFixed(3)} | ${(cpu[s] / n).toFixed(1)} | ${((gc[s].n * 1000) / n).toFixed(1)} | ${((gc[s].ms * 1000) / n).toFixed(2)} |`);
  }
}
console.log();
console.log(`Load average at end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}.`);
await sides.base.close();
await sides.new.close();
