/**
 * /readyz: ready when a runtime is built and every upstream answers its health path.
 * Probes are cached briefly so that a probe storm does not become an upstream storm.
 */
import type { Runtime } from '../runtime.js';

const DEFAULT_HEALTH: Record<string, string> = {
  openai: '/v1/models',
  'kserve-v2': '/v2/health/ready',
  tfserving: '/v1/models',
  raw: '/',
};

export interface Readiness {
  ready: boolean;
  upstreams: Record<string, { reachable: boolean; status?: number; error?: string }>;
}

export class ReadinessProbe {
  private cache?: { at: number; runtime: Runtime; result: Readiness };
  constructor(private readonly ttlMs = 1000, private readonly timeoutMs = 1000) {}

  async check(rt: Runtime | undefined, draining: boolean): Promise<Readiness> {
    if (!rt || draining) return { ready: false, upstreams: {} };
    const now = Date.now();
    if (this.cache && this.cache.runtime === rt && now - this.cache.at < this.ttlMs) return this.cache.result;
    const entries = await Promise.all(
      [...rt.upstreams.values()].map(async (u) => {
        let path = u.config.healthPath ?? DEFAULT_HEALTH[u.config.protocol];
        if (u.config.protocol === 'tfserving' && !u.config.healthPath) {
          const m = [...rt.models.values()].find((x) => x.upstream === u);
          if (m) path = `/v1/models/${encodeURIComponent(m.upstreamModel)}`;
        }
        try {
          const res = await u.pool.request({
            method: 'GET',
            path,
            headersTimeout: this.timeoutMs,
            bodyTimeout: this.timeoutMs,
            signal: AbortSignal.timeout(this.timeoutMs),
          });
          await res.body.dump();
          return [u.name, { reachable: res.statusCode < 500, status: res.statusCode }] as const;
        } catch (err) {
          return [u.name, { reachable: false, error: (err as { code?: string }).code ?? (err as Error).message }] as const;
        }
      }),
    );
    const upstreams = Object.fromEntries(entries);
    const result = { ready: entries.every(([, r]) => r.reachable), upstreams };
    this.cache = { at: now, runtime: rt, result };
    return result;
  }
}
