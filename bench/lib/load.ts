/**
 * One load run with autocannon. Latencies are recorded here from autocannon's
 * `response` events (float milliseconds) because its own histogram keeps whole
 * milliseconds, too coarse for sub-millisecond overheads.
 */
import autocannon from 'autocannon';
import { runPaced } from './paced.js';

export interface LoadSpec {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  /** Seconds. */
  duration: number;
  /** Stop after this many requests (warm-up by work done, not by time)... */
  amount?: number;
  /** ...or after this many seconds, whichever comes first. */
  maxSeconds?: number;
  /** Fixed total request rate (requests/s); unset = as fast as the target answers. */
  rate?: number;
}

export interface LoadResult {
  requests: number;
  durationS: number;
  rps: number;
  /** Response times of the 2xx responses, ms (unsorted). */
  latencies: Float64Array;
  /** Connection errors, timeouts, non-2xx responses. */
  errors: number;
}

/**
 * Runs one load: as fast as the target answers with autocannon, or, with a `rate`, an
 * evenly paced open loop (bench/lib/paced.ts says why not autocannon's overallRate).
 */
export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  if (spec.rate) return runPaced(spec);
  const lat: number[] = [];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const inst = autocannon(
      {
        url: spec.url,
        method: spec.method ?? 'GET',
        headers: spec.headers,
        body: spec.body,
        connections: spec.connections,
        duration: spec.duration,
        amount: spec.amount,
        timeout: 10,
        // Our own recorder below; autocannon's whole-ms histogram is not used.
        excludeErrorStats: true,
      },
      (err: Error | null, r: { errors: number; timeouts: number; non2xx: number }) => {
        if (err) return reject(err);
        const durationS = (performance.now() - started) / 1000;
        const ok = lat.length;
        resolve({
          requests: ok,
          durationS,
          rps: ok / durationS,
          latencies: Float64Array.from(lat),
          errors: r.errors + r.timeouts + r.non2xx,
        });
      },
    );
    if (spec.maxSeconds) {
      const t = setTimeout(() => inst.stop(), spec.maxSeconds * 1000);
      inst.once('done', () => clearTimeout(t));
    }
    inst.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) lat.push(ms);
    });
  });
}

/** The q-quantile (0..1) of latencies, sorted in place. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
