/**
 * Time to first byte and to the last byte of streamed (SSE) responses, which
 * autocannon does not see: a fixed number of requests at a small, fixed concurrency,
 * so that what is measured is the latency a client feels, not a queue.
 */
import { Pool } from 'undici';

export interface ProbeSpec {
  url: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  requests: number;
  concurrency: number;
}

export interface ProbeResult {
  /** Sorted, ms. */
  ttfb: Float64Array;
  total: Float64Array;
  errors: number;
}

/** Sends `requests` streamed requests and times the first and the last body byte of each. */
export async function probeStream(spec: ProbeSpec): Promise<ProbeResult> {
  const pool = new Pool(spec.url, { connections: spec.concurrency });
  const ttfb: number[] = [];
  const total: number[] = [];
  let errors = 0;
  let next = 0;
  const one = async (): Promise<void> => {
    const t0 = performance.now();
    let first = -1;
    try {
      const res = await pool.request({ method: 'POST', path: spec.path, headers: spec.headers, body: spec.body });
      for await (const chunk of res.body) {
        if (first < 0 && (chunk as Buffer).length > 0) first = performance.now() - t0;
      }
      if (res.statusCode !== 200 || first < 0) errors++;
      else {
        ttfb.push(first);
        total.push(performance.now() - t0);
      }
    } catch {
      errors++;
    }
  };
  const worker = async (): Promise<void> => {
    while (next++ < spec.requests) await one();
  };
  try {
    await Promise.all(Array.from({ length: spec.concurrency }, worker));
  } finally {
    await pool.close();
  }
  return { ttfb: Float64Array.from(ttfb).sort(), total: Float64Array.from(total).sort(), errors };
}
