/**
 * Leak checks for end-to-end tests: counts of the process's active handles (sockets,
 * timers) against a baseline, allowing for the upstream connections a pool keeps
 * alive on purpose. `settled` waits (bounded) for asynchronous closes to land, then
 * reports what is still over the baseline.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export type ResourceCounts = Record<string, number>;

/** Active resources of this process, by type (`TCPSocketWrap`, `Timeout`, ...). */
export function resources(): ResourceCounts {
  const out: ResourceCounts = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

/**
 * Polls until every count is at most `baseline + allowance` (per type), for at most
 * `timeoutMs`; returns the types still over (empty when none).
 */
export async function settled(
  baseline: ResourceCounts,
  allowance: () => ResourceCounts = () => ({}),
  extra: () => string | undefined = () => undefined,
  timeoutMs = 3000,
): Promise<string[]> {
  let over: string[] = [];
  for (const started = Date.now(); ; ) {
    const now = resources();
    const allow = allowance();
    over = Object.keys(now)
      .filter((k) => now[k] > (baseline[k] ?? 0) + (allow[k] ?? 0))
      .map((k) => `${k}: ${now[k]} > ${baseline[k] ?? 0} + ${allow[k] ?? 0}`);
    const e = extra();
    if (e) over.push(e);
    if (over.length === 0 || Date.now() - started > timeoutMs) return over;
    await sleep(25);
  }
}
