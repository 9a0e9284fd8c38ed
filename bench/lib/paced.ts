/**
 * An open-loop load at a fixed rate, evenly paced, for latency at a given throughput.
 *
 * Why not autocannon's `overallRate`: it meters each connection per second, so a rate
 * arrives as one burst at the start of every second (500 req/s over 16 connections is
 * 16 clients each sending ~31 requests back to back, then idling); the p99 it reports is
 * the queueing of that burst, the same for any proxy, and not the latency a proxy adds at
 * that rate. Here request i is due at `start + i / rate`; it is sent when due (timer
 * granularity, ~1 ms, is caught up by sending every request that is due), over a pool of
 * `connections` keep-alive connections, and its latency is counted from when it was due,
 * not from when it was sent: a stall in the target or the pool shows in full (no
 * coordinated omission).
 */
import { Pool } from 'undici';
import type { LoadResult, LoadSpec } from './load.js';

export async function runPaced(spec: LoadSpec): Promise<LoadResult> {
  if (!spec.rate || spec.rate <= 0) throw new Error('runPaced needs a rate');
  const url = new URL(spec.url);
  const pool = new Pool(url.origin, { connections: spec.connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const method = spec.method ?? 'GET';
  const path = url.pathname + url.search;
  const headers = spec.headers ?? {};
  const body = spec.body;
  const total = spec.amount ?? Math.max(1, Math.round(spec.rate * spec.duration));
  const deadline = (spec.maxSeconds ?? spec.duration * 2 + 10) * 1000;
  const periodMs = 1000 / spec.rate;
  const lat: number[] = [];
  let errors = 0;
  let sent = 0;
  let done = 0;

  const started = performance.now();
  await new Promise<void>((resolve) => {
    const finishOne = (): void => {
      done++;
      if (done === total) resolve();
    };
    const send = (due: number): void => {
      pool
        .request({ method, path, headers, body })
        .then(async (res) => {
          await res.body.dump();
          const ms = performance.now() - due;
          if (res.statusCode >= 200 && res.statusCode < 300) lat.push(ms);
          else errors++;
        })
        .catch(() => {
          errors++;
        })
        .finally(finishOne);
    };
    const tick = (): void => {
      const now = performance.now();
      if (now - started > deadline) {
        // Whatever was not sent by the deadline counts as an error, and so does what has
        // not come back: the run ends.
        errors += total - done;
        done = total;
        resolve();
        return;
      }
      const due = Math.min(total, Math.floor((now - started) / periodMs) + 1);
      while (sent < due) {
        send(started + sent * periodMs);
        sent++;
      }
      if (sent < total) setTimeout(tick, Math.max(0, started + sent * periodMs - performance.now()));
    };
    tick();
  });
  const durationS = (performance.now() - started) / 1000;
  await pool.destroy();
  return { requests: lat.length, durationS, rps: lat.length / durationS, latencies: Float64Array.from(lat), errors };
}
