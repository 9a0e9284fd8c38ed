/**
 * Stage `limit`: requests per window (with burst), LLM tokens per window by
 * reservation and settlement, requests in flight, and a daily query budget, per rule
 * and key, in memory or in Redis (rate-limiter-flexible does the counting). A refusal is
 * a 429 with Retry-After and the IETF RateLimit headers, and a `rate-limited` note that
 * identity turns into risk; risk in turn shrinks the principal's limits.
 *
 * Counting is in milli-units: a limiter of `limit` units holds `limit * SCALE` points and
 * a unit costs `SCALE / factor` points, so a principal whose risk factor is 0.5 gets half
 * of every limit on the very same counter (a riskier principal does not get a fresh one).
 */
import { BurstyRateLimiter, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { LoadedConfig } from '../config/load.js';
import type { RequestContext } from '../pipeline/context.js';
import type { ErrorCode } from '../pipeline/errors.js';
import type { Stage } from '../pipeline/stage.js';
import { ALLOW, type Decision, type InferenceResponse, type Note, type Outcome } from '../pipeline/types.js';
import type { Services } from '../services.js';
import { INFERENCE_OPERATIONS, type KeyPart, type LimitsConfig, type ModelLimits } from './config.js';
import { quotaHeaders, refusalHeaders, type PolicyView, type QuotaUnit, type RefusalView } from './headers.js';
import { counterKey, utcDay } from './keys.js';
import { isUnreachable } from '../state/redis.js';
import { BoundedRateLimiterMemory } from './bounded-memory.js';
import { createLimiterRegistry, type BatchOp, type BatchResult, type CountingRoute, type LimiterRegistry, type RiskCost } from './limiters.js';
import { RiskShrink, riskKey } from './risk.js';
import { estimateTokens, hasUsage } from './tokens.js';

/** Points per unit at factor 1. */
export const SCALE = 1000;
const DAY_SEC = 86_400;
/** A reward this close to the end of the counter's window could land in the next one. */
const WINDOW_MARGIN_MS = 250;

type Kind = 'requests' | 'concurrency' | 'tokens' | 'queries';
const KIND_ORDER: Kind[] = ['requests', 'concurrency', 'tokens', 'queries'];
const CODES: Record<Kind, ErrorCode> = {
  requests: 'PALISADE_RATE_LIMITED',
  concurrency: 'PALISADE_CONCURRENCY',
  tokens: 'PALISADE_TOKEN_BUDGET',
  queries: 'PALISADE_QUERY_BUDGET',
};
const UNITS: Record<Kind, QuotaUnit> = { requests: 'requests', concurrency: 'concurrent-requests', tokens: 'tokens', queries: 'requests' };

interface Counter {
  kind: Kind;
  rule: string;
  /** Policy id in the headers: `<rule>.<kind>`. */
  id: string;
  /** Configured limit, in units. */
  limit: number;
  windowSec?: number;
  by: readonly KeyPart[];
  limiter: RateLimiterAbstract;
  burst?: { id: string; limit: number; windowSec: number; limiter: RateLimiterAbstract; bursty: BurstyRateLimiter };
}

interface Rule {
  name: string;
  models?: ReadonlySet<string>;
  operations: ReadonlySet<string>;
  counters: Counter[];
}

/** What a request holds until it is done: concurrency slots, token reservations, queries. */
interface Held {
  counter: Counter;
  /** The limiter that took the points: the counter's, or its local insurance while Redis failed. */
  limiter: RateLimiterAbstract;
  key: string;
  /** Points consumed (and to give back on release or rollback). */
  points: number;
  /** Date.now() at which the counter's window ends: no reward after it. */
  windowEnd: number;
  /** Tokens reserved (token counters). */
  tokens?: number;
}

/** ctx.locals.limit */
interface LimitLocals {
  held: Held[];
  unitCost: number;
  prompt: number;
  completion: number;
  /** SSE events seen (the fallback estimate of completion tokens). */
  events: number;
  /** The request set max_tokens: the upstream cannot run past the reservation's completion. */
  capped: boolean;
  usage?: { inputTokens?: number; outputTokens?: number };
}

type Check = { ok: true } | { ok: false; decision: Decision };

/** One counter of a request: its key, the points it costs, and what it reserves. */
interface Step {
  c: Counter;
  key: string;
  /** 1 request, or the tokens reserved. */
  units: number;
  tokens?: number;
  day?: ReturnType<typeof utcDay>;
  durationSec?: number;
}

/** One request being counted. */
interface Counting {
  ctx: RequestContext;
  counters: Counter[];
  est: ReturnType<typeof estimateTokens> | undefined;
  lc: LimitLocals;
  notes: Note[];
  views: RefusalView[];
  route: CountingRoute;
  /** Its counters as steps (every route but `each` and `down`). */
  plan: Step[] | undefined;
}

/** What counting all of a request's counters found: a refusal, and the risk it was counted at. */
interface Counted {
  d?: Decision;
  score: number;
  factor: number;
}

/** A settlement of a held counter when the request is done: + charges, - gives back. */
interface Change {
  h: Held;
  delta: number;
}

/**
 * Builds the limit stage for a config, or undefined when no limit is configured (or
 * `limits.mode` is off): then it is not in the pipeline and costs nothing. Limiters come
 * from `services.limiters` (shared across reloads, so counts survive a reload) or, when
 * absent, from a registry of its own.
 *
 * @example
 * const limit = createLimitStage(loaded, services); // placed after parse in order.ts
 * if (limit) stages.push(limit);
 */
export function createLimitStage(loaded: LoadedConfig, services: Services): Stage | undefined {
  const config: LimitsConfig = loaded.config.limits;
  if (config.mode === 'off' || (config.rules.length === 0 && !loaded.config.models.some((m) => m.limits))) return undefined;
  const replicas = loaded.config.state.replicas;
  const registry: LimiterRegistry = services.limiters ?? createLimiterRegistry(services.state);
  const acquired: RateLimiterAbstract[] = [];
  // One half-life for the risk score: the one its writer (identity, auth.risk) decays it with.
  const riskHalfLife = loaded.config.auth?.risk.halfLife ?? 600_000;
  const risk = new RiskShrink(config.risk.shrink, riskHalfLife);
  const shadow = config.mode === 'shadow';

  const limiter = (id: string, limit: number, durationSec: number): RateLimiterAbstract => {
    const l = registry.acquire({
      id,
      points: limit * SCALE,
      localPoints: Math.ceil(limit / replicas) * SCALE,
      durationSec,
      maxKeys: config.maxKeys,
    });
    acquired.push(l);
    return l;
  };

  const compile = (name: string, models: string[] | undefined, operations: readonly string[] | undefined, set: ModelLimits): Rule => {
    const counters: Counter[] = [];
    const base = { rule: name };
    if (set.requests) {
      const r = set.requests;
      const windowSec = r.rate.windowMs / 1000;
      const c: Counter = { ...base, kind: 'requests', id: `${name}.requests`, limit: r.rate.points, windowSec, by: r.by, limiter: limiter(`${name}:requests`, r.rate.points, windowSec) };
      if (r.burst) {
        const bw = r.burst.windowMs / 1000;
        const bl = limiter(`${name}:burst`, r.burst.points, bw);
        c.burst = { id: `${name}.burst`, limit: r.burst.points, windowSec: bw, limiter: bl, bursty: new BurstyRateLimiter(c.limiter, bl) };
      }
      counters.push(c);
    }
    if (set.concurrency) {
      const lease = config.concurrencyLease / 1000;
      counters.push({ ...base, kind: 'concurrency', id: `${name}.concurrency`, limit: set.concurrency.max, by: set.concurrency.by, limiter: limiter(`${name}:concurrency`, set.concurrency.max, lease) });
    }
    if (set.tokens) {
      const t = set.tokens;
      const windowSec = t.rate.windowMs / 1000;
      counters.push({ ...base, kind: 'tokens', id: `${name}.tokens`, limit: t.rate.points, windowSec, by: t.by, limiter: limiter(`${name}:tokens`, t.rate.points, windowSec) });
    }
    if (set.queries) {
      // One key per UTC day; the TTL (set per key) runs to the end of that day.
      counters.push({ ...base, kind: 'queries', id: `${name}.queries`, limit: set.queries.perDay, windowSec: DAY_SEC, by: set.queries.by, limiter: limiter(`${name}:queries`, set.queries.perDay, DAY_SEC + 60) });
    }
    return { name, models: models ? new Set(models) : undefined, operations: new Set(operations ?? INFERENCE_OPERATIONS), counters };
  };

  const rules: Rule[] = [];
  for (const m of loaded.config.models) if (m.limits) rules.push(compile(`model.${m.name}`, [m.name], m.limits.operations, m.limits));
  for (const r of config.rules) rules.push(compile(r.name, r.models, r.operations, r));

  // The counters of a (model, operation), in kind order: built on first use.
  const byRoute = new Map<string, Counter[]>();
  const countersFor = (model: string, operation: string): Counter[] => {
    const k = `${model}\u0000${operation}`;
    let cs = byRoute.get(k);
    if (!cs) {
      const all = rules.filter((r) => (!r.models || r.models.has(model)) && r.operations.has(operation)).flatMap((r) => r.counters);
      cs = KIND_ORDER.flatMap((kind) => all.filter((c) => c.kind === kind));
      byRoute.set(k, cs);
    }
    return cs;
  };

  const note = (c: Counter, extra: Record<string, unknown> = {}): Note => ({
    stage: 'limit',
    kind: 'rate-limited',
    name: c.id,
    detail: { limit: c.kind, rule: c.rule, code: CODES[c.kind], ...(shadow ? { shadow: true } : {}), ...extra },
  });

  const effective = (limit: number, unitCost: number) => Math.floor((limit * SCALE) / unitCost);

  const refusal = (c: Counter, views: RefusalView[], retryAfterSec?: number, extra?: Record<string, unknown>): Decision => ({
    allow: false,
    code: CODES[c.kind],
    headers: refusalHeaders(views, retryAfterSec),
    notes: [note(c, extra)],
  });

  // The policy of a counter at factor 1 is the same on every request: built once.
  const fullPolicy = new Map<Counter, PolicyView>();
  const policy = (c: Counter, unitCost: number): PolicyView => {
    let p = unitCost === SCALE ? fullPolicy.get(c) : undefined;
    if (p) return p;
    p = { id: c.id, quota: effective(c.limit, unitCost), windowSec: c.windowSec, unit: UNITS[c.kind] };
    if (unitCost === SCALE) fullPolicy.set(c, p);
    return p;
  };

  /** Consumes `points`; a RateLimiterRes rejection is a refusal, anything else a store failure. */
  const consume = async (l: RateLimiterAbstract | BurstyRateLimiter, key: string, points: number, opts?: Record<string, unknown>) => {
    try {
      return { res: await l.consume(key, points, opts as never), refused: false as const };
    } catch (err) {
      if (err instanceof RateLimiterRes) return { res: err, refused: true as const };
      return { error: err };
    }
  };

  /**
   * Adds `delta` points (negative: gives back) to a held counter, as the library's penalty
   * and reward do: on a memory counter at once, else a promise of the store's answer.
   */
  const settle = (h: Held, delta: number): Promise<unknown> | undefined => {
    const l = h.limiter;
    if (l instanceof BoundedRateLimiterMemory) {
      l.storage.add(l.getKey(h.key), delta, l.duration);
      return undefined;
    }
    return delta > 0 ? l.penalty(h.key, delta) : l.reward(h.key, -delta);
  };

  /** Points go back only into the window they were taken from. */
  const canGiveBack = (h: Held, points: number): boolean => points > 0 && Date.now() < h.windowEnd - WINDOW_MARGIN_MS;

  const giveBack = (h: Held, points = h.points): void => {
    if (!canGiveBack(h, points)) return;
    settle(h, -points)?.catch((err: unknown) => services.logger.warn({ err, counter: h.counter.id }, 'limit: giving back failed'));
  };

  const storeFailure = (c: Counter, err: unknown): Check => {
    services.logger.warn({ err, counter: c.id }, 'limit: counter store failed');
    if (registry.onStoreFailure === 'allow') return { ok: true };
    return { ok: false, decision: { allow: false, code: 'PALISADE_STATE_UNAVAILABLE', cause: err } };
  };

  /** The refusal of a request counter; `msBeforeNext` is the earlier reset of counter and burst. */
  const requestsRefusal = (c: Counter, unitCost: number, msBeforeNext: number, burstMs: number | undefined): Decision => {
    const views: RefusalView[] = [{ policy: policy(c, unitCost), remaining: 0, resetSec: msBeforeNext / 1000 }];
    if (c.burst) {
      views.push({
        policy: { id: c.burst.id, quota: effective(c.burst.limit, unitCost), windowSec: c.burst.windowSec, unit: 'requests' },
        remaining: 0,
        resetSec: (burstMs ?? msBeforeNext) / 1000,
      });
    }
    return refusal(c, views, msBeforeNext / 1000);
  };

  /** The refusal of a take (`consumed` includes the refused points, which were not kept). */
  const takeRefusal = (c: Counter, unitCost: number, points: number, consumed: number, msBeforeNext: number, day: ReturnType<typeof utcDay> | undefined, tokens?: number): Decision => {
    const before = Math.max(0, consumed - points);
    const remaining = Math.floor(Math.max(0, c.limit * SCALE - before) / unitCost);
    const resetSec = c.kind === 'concurrency' ? undefined : c.kind === 'queries' ? day!.secondsLeft : msBeforeNext / 1000;
    const extra = c.kind === 'tokens' ? { requested: tokens, remaining } : undefined;
    return refusal(c, [{ policy: policy(c, unitCost), remaining, resetSec }], c.kind === 'concurrency' ? 1 : resetSec, extra);
  };

  /** What an admitted request left of a counter (`consumed` includes it), for the RateLimit fields. */
  const admittedView = (c: Counter, unitCost: number, consumed: number, msBeforeNext: number, day: ReturnType<typeof utcDay> | undefined): RefusalView => ({
    policy: policy(c, unitCost),
    remaining: Math.floor(Math.max(0, c.limit * SCALE - consumed) / unitCost),
    resetSec: c.kind === 'concurrency' ? undefined : c.kind === 'queries' ? day!.secondsLeft : Math.max(0, msBeforeNext) / 1000,
  });

  const checkRequests = async (c: Counter, key: string, unitCost: number, views: RefusalView[]): Promise<Check> => {
    const l = c.burst ? c.burst.bursty : c.limiter;
    const r = await consume(l, key, unitCost);
    if ('error' in r) return storeFailure(c, r.error);
    if (!r.refused) {
      views.push(admittedView(c, unitCost, r.res.consumedPoints, r.res.msBeforeNext, undefined));
      return { ok: true };
    }
    // Refused attempts stay counted: the limit is on the rate of attempts.
    const b = c.burst ? await c.burst.limiter.get(key).catch(() => null) : null;
    return { ok: false, decision: requestsRefusal(c, unitCost, r.res.msBeforeNext, b?.msBeforeNext) };
  };

  /** A query budget counts per UTC day: its key and window. */
  const dayOf = (key: string) => {
    const day = utcDay(Date.now());
    return { key: `${key}|d:${day.day}`, day, durationSec: Math.ceil(day.secondsLeft) + 60 };
  };

  /** Concurrency slots, token reservations and query budgets: held, and given back on refusal. */
  const take = async (c: Counter, key: string, points: number, unitCost: number, lc: LimitLocals, views: RefusalView[], tokens?: number): Promise<Check> => {
    let opts: Record<string, unknown> | undefined;
    let day: ReturnType<typeof utcDay> | undefined;
    if (c.kind === 'queries') {
      const d = dayOf(key);
      key = d.key;
      day = d.day;
      opts = { customDuration: d.durationSec };
    }
    const now = Date.now();
    const limiter = c.limiter;
    const r = await consume(limiter, key, points, opts);
    if ('error' in r) return storeFailure(c, r.error);
    const held: Held = { counter: c, limiter, key, points, windowEnd: now + Math.max(0, r.res.msBeforeNext), tokens };
    if (r.refused && !shadow) {
      // Nothing was admitted: undo the increment the rejection left behind.
      giveBack(held);
      return { ok: false, decision: takeRefusal(c, unitCost, points, r.res.consumedPoints, r.res.msBeforeNext, day, tokens) };
    }
    lc.held.push(held);
    if (r.refused) return { ok: false, decision: { allow: true, notes: [note(c)] } };
    views.push(admittedView(c, unitCost, r.res.consumedPoints, r.res.msBeforeNext, day));
    return { ok: true };
  };

  const rollback = (lc: LimitLocals): void => {
    for (const h of lc.held) giveBack(h);
    lc.held.length = 0;
  };

  const steps = (counters: Counter[], ctx: RequestContext, est: ReturnType<typeof estimateTokens> | undefined): Step[] => {
    const out: Step[] = [];
    for (const c of counters) {
      const key = counterKey(c.by, ctx);
      if (c.kind === 'tokens') {
        if (!est) continue; // token budgets apply to LLM calls only
        const tokens = est.prompt + est.completion;
        out.push({ c, key, units: tokens, tokens });
      } else if (c.kind === 'queries') {
        const d = dayOf(key);
        out.push({ c, key: d.key, units: 1, day: d.day, durationSec: d.durationSec });
      } else out.push({ c, key, units: 1 });
    }
    return out;
  };

  /** One limiter call per counter (Redis with batching off: the A/B baseline of the script). */
  const sequential = async (counters: Counter[], ctx: RequestContext, unitCost: number, est: ReturnType<typeof estimateTokens> | undefined, lc: LimitLocals, notes: Note[], views: RefusalView[]): Promise<Decision | undefined> => {
    for (const c of counters) {
      const key = counterKey(c.by, ctx);
      let check: Check;
      if (c.kind === 'requests') check = await checkRequests(c, key, unitCost, views);
      else if (c.kind === 'tokens') {
        if (!est) continue; // token budgets apply to LLM calls only
        const tokens = est.prompt + est.completion;
        check = await take(c, key, tokens * unitCost, unitCost, lc, views, tokens);
      } else check = await take(c, key, unitCost, unitCost, lc, views);
      if (check.ok) continue;
      const d = check.decision;
      if (d.allow || shadow) {
        notes.push(...(d.notes ?? []));
        continue;
      }
      rollback(lc);
      return d;
    }
    return undefined;
  };

  /**
   * Every counter in one Redis round trip (LimiterRegistry.consumeAll): atomic, so a
   * refusal leaves nothing taken, and replicas never interleave between two counters.
   * With `cost` a RiskCost the principal's risk is read in the same step and sets the
   * unit cost. Sets lc.unitCost; a decision when refused; throws when Redis failed.
   */
  const batched = (first: Counter, plan: Step[], cost: number | RiskCost, lc: LimitLocals, notes: Note[], views: RefusalView[]): Promise<Counted> => {
    const ops = opsOf(plan);
    const now = Date.now();
    return registry.consumeAll(ops, cost, shadow).then((r) => counted(r, first, plan, lc, notes, views, now, false));
  };

  /** The ops of a plan, for consumeAll or consumeAllLocal. */
  const opsOf = (plan: Step[]): BatchOp[] =>
    plan.map((s) =>
      s.c.kind === 'requests'
        ? { mode: 'count', limiter: s.c.limiter, burst: s.c.burst?.limiter, key: s.key, units: s.units }
        : { mode: 'take', limiter: s.c.limiter, key: s.key, units: s.units, durationSec: s.durationSec },
    );

  /**
   * Every counter at once in this process (memory counters; with `insurance`, the memory
   * insurance of Redis counters while Redis is away): the Redis script's rules, no round trip.
   */
  const inMemory = (first: Counter, plan: Step[], unitCost: number, lc: LimitLocals, notes: Note[], views: RefusalView[], insurance: boolean): Counted => {
    const r = registry.consumeAllLocal(opsOf(plan), unitCost, shadow, insurance);
    return counted(r, first, plan, lc, notes, views, Date.now(), insurance);
  };

  /** Reads a batch result: the refusal, what is held, and the RateLimit views of what was admitted. */
  const counted = (r: BatchResult, first: Counter, plan: Step[], lc: LimitLocals, notes: Note[], views: RefusalView[], now: number, insurance: boolean): Counted => {
    const { score, factor } = r;
    if (r.refused === -2) return { d: noAccess(first, score, factor), score, factor };
    const unitCost = r.unitCost;
    lc.unitCost = unitCost;
    for (let i = 0; i < r.results.length; i++) {
      const s = plan[i];
      const res = r.results[i];
      const points = s.units * unitCost;
      if (i === r.refused) {
        // The script gave back what this request took: nothing is held.
        lc.held.length = 0;
        if (s.c.kind === 'requests') {
          const ms = res.burst ? Math.min(res.msBeforeNext, res.burst.msBeforeNext) : res.msBeforeNext;
          return { d: requestsRefusal(s.c, unitCost, ms, res.burst?.msBeforeNext), score, factor };
        }
        return { d: takeRefusal(s.c, unitCost, points, res.consumed, res.msBeforeNext, s.day, s.tokens), score, factor };
      }
      if (s.c.kind !== 'requests') {
        const limiter = insurance ? (registry.insuranceOf(s.c.limiter) ?? s.c.limiter) : s.c.limiter;
        lc.held.push({ counter: s.c, limiter, key: s.key, points, windowEnd: now + Math.max(0, res.msBeforeNext), tokens: s.tokens });
      }
      if (res.over) notes.push(note(s.c)); // shadow: counted, noted, admitted
      else views.push(admittedView(s.c, unitCost, res.consumed, res.msBeforeNext, s.day));
    }
    return { score, factor };
  };

  /** The risk table says: no access at this risk. Retry once the score has decayed. */
  const noAccess = (c: Counter, score: number, factor: number): Decision => {
    const d = refusal(c, [{ policy: policy(c, Infinity), remaining: 0, resetSec: c.windowSec }], riskHalfLife / 1000, { risk: score, factor });
    return shadow ? { allow: true, notes: d.notes } : d;
  };

  /** Redis failed the batch: the memory insurance (policy local), else the failure policy. */
  const afterBatchFailure = (err: unknown, counters: Counter[], ctx: RequestContext, unitCost: number, est: ReturnType<typeof estimateTokens> | undefined, lc: LimitLocals, notes: Note[], views: RefusalView[]): Decision | undefined => {
    if (isUnreachable(err)) registry.noteFailure();
    if (registry.onStoreFailure !== 'local') return down(counters[0], err);
    services.logger.warn({ err }, 'limit: counter store failed; counting locally');
    const plan = steps(counters, ctx, est);
    return plan.length ? inMemory(counters[0], plan, unitCost, lc, notes, views, true).d : undefined;
  };

  /** No counter can be taken (Redis away, no insurance): the failure policy decides. */
  const down = (c: Counter, err: unknown): Decision | undefined => {
    const f = storeFailure(c, err);
    return f.ok ? undefined : f.decision;
  };

  /** Memory counters (or their insurance while Redis is away), at the risk read before. */
  const countLocally = (r: Counting, { score, factor }: { score: number; factor: number }): Decision => {
    if (factor <= 0) return noAccess(r.counters[0], score, factor);
    r.lc.unitCost = factor >= 1 ? SCALE : Math.round(SCALE / factor);
    const d = r.plan!.length ? inMemory(r.counters[0], r.plan!, r.lc.unitCost, r.lc, r.notes, r.views, r.route === 'local').d : undefined;
    return finish(r, d, score, factor);
  };

  /** Redis counters: one script (with the risk read in it), or one call per counter. */
  const countShared = async (r: Counting): Promise<Decision> => {
    const { ctx, counters, est, lc, notes, views, route, plan } = r;
    let score = 0;
    let factor = 1;
    let d: Decision | undefined;
    // With Redis, the risk score is read by the script that takes the counters.
    const principal = ctx.principal;
    const riskInScript = route === 'batch' && plan!.length > 0 && risk.enabled && principal !== undefined;
    if (!riskInScript) {
      ({ score, factor } = await risk.read(ctx, services.state));
      if (factor <= 0) return noAccess(counters[0], score, factor);
      lc.unitCost = factor >= 1 ? SCALE : Math.round(SCALE / factor);
    }
    if (plan && plan.length === 0) {
      // No counter applies (e.g. only token budgets, on a call that is not an LLM's).
    } else if (plan) {
      const cost: number | RiskCost = riskInScript
        ? { key: riskKey(principal.id), halfLifeMs: risk.halfLifeMs, now: Date.now(), scale: SCALE, steps: risk.steps }
        : lc.unitCost;
      try {
        ({ d, score, factor } = await batched(counters[0], plan, cost, lc, notes, views));
        if (d && factor <= 0) return d;
      } catch (err) {
        views.length = 0;
        if (riskInScript) {
          ({ score, factor } = await risk.read(ctx, services.state));
          if (factor <= 0) return noAccess(counters[0], score, factor);
          lc.unitCost = factor >= 1 ? SCALE : Math.round(SCALE / factor);
        }
        d = afterBatchFailure(err, counters, ctx, lc.unitCost, est, lc, notes, views);
      }
    } else if (route === 'down') d = down(counters[0], new Error('Redis is unreachable'));
    else d = await sequential(counters, ctx, lc.unitCost, est, lc, notes, views);
    return finish(r, d, score, factor);
  };

  /** The decision on a counted request: its refusal, or admitted with what is left of each limit. */
  const finish = (r: Counting, d: Decision | undefined, score: number, factor: number): Decision => {
    if (d) return factor < 1 && d.notes ? { ...d, notes: d.notes.map((n) => ({ ...n, detail: { ...n.detail, risk: score, factor } })) } : d;
    const { ctx, lc, notes, views } = r;
    const req = ctx.request;
    // Admitted: what is left of each limit it counted against (not in shadow mode, whose
    // limits the client is not held to).
    const headers = views.length && !shadow ? quotaHeaders(views) : undefined;
    if (lc.held.length) ctx.locals.limit = lc;
    if (config.tokens.injectStreamUsage && req && lc.held.some((h) => h.tokens !== undefined)) ctx.model.adapter.requestStreamUsage?.(req);
    if (!notes.length && !headers) return ALLOW;
    return notes.length ? { allow: true, notes, headers } : { allow: true, headers };
  };

  /** Extends the token reservations a stream has run past; a refusal ends the stream. */
  const extend = async (lc: LimitLocals, used: number): Promise<Decision | void> => {
    for (const h of lc.held) {
      if (h.tokens === undefined || used <= h.tokens) continue;
      const extra = (used - h.tokens) * lc.unitCost;
      const r = await consume(h.limiter, h.key, extra);
      if ('error' in r) continue; // the store failed: settle later, do not cut the stream
      if (r.refused && !shadow) {
        giveBack({ ...h, points: extra });
        return { allow: false, code: 'PALISADE_TOKEN_BUDGET', notes: [note(h.counter, { streamed: used, reserved: h.tokens })] };
      }
      h.points += extra;
      h.tokens = used;
    }
  };

  const stage: Stage = {
    name: 'limit',

    request(ctx: RequestContext): Decision | Promise<Decision> {
      const counters = countersFor(ctx.model.name, ctx.route.operation);
      if (counters.length === 0) return ALLOW;
      const req = ctx.request;
      const est = req && req.protocol === 'openai' ? estimateTokens(req, config.tokens.charsPerToken, config.tokens.defaultMaxTokens) : undefined;
      const lc: LimitLocals = { held: [], unitCost: SCALE, prompt: est?.prompt ?? 0, completion: est?.completion ?? 0, events: 0, capped: req?.params.maxTokens !== undefined };
      const route = registry.route;
      const r: Counting = { ctx, counters, est, lc, notes: [], views: [], route, plan: route === 'down' || route === 'each' ? undefined : steps(counters, ctx, est) };
      if (route === 'memory' || route === 'local') {
        // Counted in this process: no promise unless the risk read needs one.
        const read = risk.read(ctx, services.state);
        return read instanceof Promise ? read.then((x) => countLocally(r, x)) : countLocally(r, read);
      }
      return countShared(r);
    },

    wantsResponse(ctx: RequestContext): boolean {
      const lc = ctx.locals.limit as LimitLocals | undefined;
      return lc !== undefined && lc.held.some((h) => h.tokens !== undefined);
    },

    response(ctx: RequestContext, res: InferenceResponse): Decision | void | Promise<Decision | void> {
      const lc = ctx.locals.limit as LimitLocals | undefined;
      if (!lc) return;
      if (hasUsage(res.usage)) lc.usage = { ...lc.usage, ...res.usage };
      if (!res.stream) return;
      lc.events++;
      // A stream without max_tokens may run past its reservation: extend it event by
      // event, and end the stream when the budget cannot cover what was streamed. With
      // max_tokens the upstream stops in time (the event count, which also counts the
      // role and finish events, would cut it short), unless its own usage says otherwise.
      if (lc.capped && !lc.usage) return;
      const used = usedTokens(lc);
      // Within every reservation (most events): nothing to wait for.
      if (!lc.held.some((h) => h.tokens !== undefined && used > h.tokens)) return;
      return extend(lc, used);
    },

    done(ctx: RequestContext, outcome: Outcome): void {
      const lc = ctx.locals.limit as LimitLocals | undefined;
      if (!lc) return;
      ctx.locals.limit = undefined;
      if (hasUsage(outcome.usage)) lc.usage = { ...lc.usage, ...outcome.usage };
      // What goes back (negative) or is charged (positive) on each held counter.
      const changes: Change[] = [];
      for (const h of lc.held) {
        if (h.counter.kind === 'concurrency') {
          if (canGiveBack(h, h.points)) changes.push({ h, delta: -h.points });
        } else if (h.tokens !== undefined) {
          const diff = (actualTokens(lc, h.tokens, outcome) - h.tokens) * lc.unitCost;
          if (diff > 0 || (diff < 0 && canGiveBack(h, -diff))) changes.push({ h, delta: diff });
        }
      }
      if (changes.length > 1 && registry.route === 'batch' && changes.every((c) => c.h.limiter === c.h.counter.limiter)) {
        // Slot and token settlement in one round trip. On failure the local insurance gets
        // them, as the library does for a failed call: not Redis again, where a script
        // that timed out may still have run.
        registry.adjustAll(changes.map((c) => ({ limiter: c.h.limiter, key: c.h.key, points: c.delta }))).catch((err: unknown) => {
          services.logger.warn({ err }, 'limit: settling failed');
          if (isUnreachable(err)) registry.noteFailure();
          for (const c of changes) {
            const local = registry.insuranceOf(c.h.limiter);
            if (local) adjust({ h: { ...c.h, limiter: local }, delta: c.delta });
          }
        });
      } else changes.forEach(adjust);
    },

    close(): void {
      for (const l of acquired) registry.release(l);
      acquired.length = 0;
    },
  };

  /** One settlement on its own: a penalty charges more, a reward gives back. */
  const adjust = ({ h, delta }: Change): void => {
    settle(h, delta)?.catch((err: unknown) => services.logger.warn({ err, counter: h.counter.id }, 'limit: settling failed'));
  };

  return stage;
}

/** Tokens used so far by a streamed response: reported usage, else prompt estimate + events. */
function usedTokens(lc: LimitLocals): number {
  const u = lc.usage;
  if (u && (u.inputTokens !== undefined || u.outputTokens !== undefined)) {
    return (u.inputTokens ?? lc.prompt) + (u.outputTokens ?? lc.events);
  }
  return lc.prompt + lc.events;
}

/** What a finished request really cost, in tokens. */
function actualTokens(lc: LimitLocals, reserved: number, outcome: Outcome): number {
  if (lc.usage) return usedTokens(lc);
  if (lc.events > 0) return lc.prompt + lc.events;
  // The upstream answered without usage: keep the reservation (never undercount).
  if (outcome.upstreamStatus !== undefined && outcome.upstreamStatus < 400) return reserved;
  // Refused later, or the upstream failed: nothing was generated.
  return 0;
}
