// Soak: 100,000 requests of mixed good, bad and faulty traffic (test/helpers/soak.ts)
// through a gateway in this process to the demo LLM server in another. Heap (after a
// full GC) and open handles are measured after a warm-up and at the end; the run
// fails when the heap grew past --heap-mb, a handle is left open, a request is still
// admitted or running upstream, or any answer was one its kind does not allow.
//
// Usage: npm run soak [-- --requests 100000 --concurrency 32 --heap-mb 8]
import { parseArgs } from 'node:util';
import { startGateway } from '../test/helpers/gateway.js';
import { resources, settled, type ResourceCounts } from '../test/helpers/leaks.js';
import { runSoak, soakConfig } from '../test/helpers/soak.js';
import { spawnServer } from '../test/helpers/spawn.js';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '32' },
    'heap-mb': { type: 'string', default: '8' },
    seed: { type: 'string', default: '1' },
  },
});
const REQUESTS = Number(args.requests);
const CONCURRENCY = Number(args.concurrency);
const HEAP_MB = Number(args['heap-mb']);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc (npm run soak does)');
  process.exit(2);
}

function heapMb(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed / 2 ** 20;
}
const rssMb = () => process.memoryUsage().rss / 2 ** 20;

const llm = await spawnServer('src/demo/llm-server.ts');
const gw = await startGateway(soakConfig(llm.url));
const pooled = (): ResourceCounts => {
  let n = 0;
  for (const up of gw.gw.current.upstreams.values()) n += up.pool.stats.connected;
  return { TCPSocketWrap: n };
};
const busy = (): string | undefined => {
  if (gw.gw.admission.inFlight) return `admitted: ${gw.gw.admission.inFlight}`;
  for (const up of gw.gw.current.upstreams.values()) if (up.pool.stats.running || up.pool.stats.pending) return `upstream ${up.name} busy`;
  return undefined;
};
let failed = false;
try {
  const warm = await runSoak(gw.url, { requests: 2000, concurrency: CONCURRENCY, seed: 99 });
  await settled({}, () => ({ TCPSocketWrap: 1e9, Timeout: 1e9 }), busy, 5000);
  const startHeap = heapMb();
  const startRss = rssMb();
  const startRes = resources();
  console.log(`node ${process.version}; ${REQUESTS} requests, ${CONCURRENCY} at a time, after ${warm.requests} warm-up requests`);
  console.log('| requests | heap after GC (MB) | RSS (MB) | req/s (last stretch) |');
  console.log('|---|---|---|---|');
  console.log(`| 0 | ${startHeap.toFixed(1)} | ${startRss.toFixed(0)} | - |`);
  let t = performance.now();
  let last = 0;
  const started = performance.now();
  const stats = await runSoak(gw.url, {
    requests: REQUESTS,
    concurrency: CONCURRENCY,
    seed: Number(args.seed),
    every: Math.max(1000, Math.round(REQUESTS / 10)),
    onProgress: (done) => {
      const now = performance.now();
      console.log(`| ${done} | ${heapMb().toFixed(1)} | ${rssMb().toFixed(0)} | ${(((done - last) * 1000) / (now - t)).toFixed(0)} |`);
      t = now;
      last = done;
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const leftOver = await settled(startRes, pooled, busy, 10_000);
  const endHeap = heapMb();
  const endRes = resources();
  console.log(`| end | ${endHeap.toFixed(1)} | ${rssMb().toFixed(0)} | ${(stats.requests / seconds).toFixed(0)} overall |`);
  console.log('');
  console.log(`${stats.requests} requests in ${seconds.toFixed(0)} s. Outcomes by kind:`);
  for (const [kind, outcomes] of Object.entries(stats.byKind).sort()) {
    console.log(`- ${kind}: ${Object.entries(outcomes).map(([o, n]) => `${o} x${n}`).join(', ')}`);
  }
  console.log('');
  console.log(`heap: ${startHeap.toFixed(1)} MB -> ${endHeap.toFixed(1)} MB (bound: +${HEAP_MB} MB)`);
  console.log(`open handles at start: ${JSON.stringify(startRes)}; at end: ${JSON.stringify(endRes)} (upstream keep-alive sockets allowed: ${pooled().TCPSocketWrap})`);
  const fails: string[] = [];
  if (endHeap - startHeap > HEAP_MB) fails.push(`heap grew ${(endHeap - startHeap).toFixed(1)} MB`);
  if (leftOver.length) fails.push(`left over: ${leftOver.join('; ')}`);
  if (stats.unexpected.length) fails.push(`unexpected outcomes: ${stats.unexpected.join('; ')}`);
  if (stats.requests !== REQUESTS) fails.push(`${stats.requests} of ${REQUESTS} requests done`);
  console.log(fails.length ? `FAIL: ${fails.join(' | ')}` : 'PASS: heap within bound, no handle left open, nothing admitted or running, every answer allowed');
  failed = fails.length > 0;
} finally {
  await gw.stop();
  await llm.stop();
}
process.exitCode = failed ? 1 : 0;
