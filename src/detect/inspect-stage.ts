/**
 * The inspect stage: the detectors bound to the request's model score it, each within
 * its latency budget, all at once. Per detector and mode:
 *
 *   enforce, score ≥ threshold → block: 403 PALISADE_INPUT_REJECTED (names the detector,
 *                                 never the score); flag: note `detector-flag`; log: note `detector-log`
 *   shadow                      → note `detector-shadow` with what would have happened; never blocks
 *   error or budget exceeded    → 503 PALISADE_DETECTOR_UNAVAILABLE, or with failOpen a note and allow
 *   client gone                 → scoring stops at the next chunk (note error `aborted`)
 *
 * Notes carry the score (they go to the audit record and the principal's risk).
 */
import type { LoadedConfig } from '../config/load.js';
import { resolveConfigPath } from '../config/load.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Stage } from '../pipeline/stage.js';
import { ALLOW, type Decision, type Note } from '../pipeline/types.js';
import type { Services } from '../services.js';
import { bindingOf } from './config.js';
import { buildDetectors, type Detector, type DetectorSet, type ScoreSignal } from './detectors.js';
import type { FeaturizerRegistry } from './featurizers/registry.js';
import { DetectorSessions } from './sessions.js';

const STAGE = 'inspect';

interface Binding {
  detector: Detector;
  roles?: ReadonlySet<string>;
  /** The runs in flight with this binding's budget (deadline order). */
  queue: RunQueue;
}

type Result =
  | { detector: Detector; skipped: true }
  | { detector: Detector; skipped?: false; score?: number; error?: 'timeout' | 'failed' | 'aborted'; latencyMs: number };

class BudgetExceeded extends Error {
  constructor(budget: number) {
    super(`detector budget of ${budget} ms exceeded`);
  }
}

/**
 * One detector scoring one request, and the signal it checks between chunks: aborted
 * once its deadline has passed (read from the clock when asked: no timer of its own) or
 * the client is gone. No AbortController, no timer per run: the stage's {@link Watchdog}
 * answers for a run still going at its deadline.
 */
class Run implements ScoreSignal {
  prev?: Run;
  next?: Run;
  /** The watchdog answered for it (over budget); a late result is dropped. */
  timedOut = false;
  settled = false;
  resolve!: (r: Result) => void;

  constructor(
    readonly detector: Detector,
    readonly started: number,
    readonly deadline: number,
    readonly ctx: RequestContext,
  ) {}

  /** Polled between chunks: `clientGone` where the context has it (no AbortController made). */
  private clientAborted(): boolean {
    const c = this.ctx;
    return c.clientGone ?? c.signal?.aborted === true;
  }

  get aborted(): boolean {
    return this.timedOut || performance.now() >= this.deadline || this.clientAborted();
  }

  get reason(): unknown {
    if (!this.timedOut && this.clientAborted()) return this.ctx.signal.reason;
    return this.aborted ? new BudgetExceeded(this.detector.settings.budget) : undefined;
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }
}

/** Runs of one budget in flight, oldest first: with a fixed budget, also earliest deadline first. */
interface RunQueue {
  head?: Run;
  tail?: Run;
}

/**
 * One timer for all runs of a stage, armed at the earliest deadline in flight. A run that
 * ends leaves its queue (no timer to clear); when the timer fires it answers for the runs
 * past their deadline (over budget) and re-arms for the earliest left, so under steady
 * traffic it fires about once per budget instead of being set and cleared per request.
 * It keeps the process alive only while a run is in flight (ref'd then, unref'd when the
 * last ends: a flag, not a new timer).
 */
class Watchdog {
  private readonly queues = new Map<number, RunQueue>();
  private timer?: NodeJS.Timeout;
  private armedAt = Infinity;
  private inFlight = 0;

  queue(budget: number): RunQueue {
    let q = this.queues.get(budget);
    if (!q) this.queues.set(budget, (q = {}));
    return q;
  }

  add(q: RunQueue, r: Run): void {
    r.prev = q.tail;
    if (q.tail) q.tail.next = r;
    else q.head = r;
    q.tail = r;
    if (++this.inFlight === 1) this.timer?.ref();
    if (r.deadline < this.armedAt) this.arm(r.deadline);
  }

  remove(q: RunQueue, r: Run): void {
    if (r.prev) r.prev.next = r.next;
    else if (q.head === r) q.head = r.next;
    if (r.next) r.next.prev = r.prev;
    else if (q.tail === r) q.tail = r.prev;
    r.prev = r.next = undefined;
    if (--this.inFlight === 0) this.timer?.unref();
  }

  /** Stops the timer; runs still in flight (past a reload's drain deadline) fail now. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = -Infinity; // never armed again
    const now = performance.now();
    for (const q of this.queues.values()) {
      while (q.head) {
        const r = q.head;
        this.remove(q, r);
        r.timedOut = true;
        settle(r, { detector: r.detector, error: 'failed', latencyMs: now - r.started });
      }
    }
  }

  private arm(at: number): void {
    if (this.armedAt === -Infinity) return;
    clearTimeout(this.timer);
    this.armedAt = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, Math.ceil(at - performance.now())));
    if (this.inFlight === 0) this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const q of this.queues.values()) {
      while (q.head && q.head.deadline <= now) {
        const r = q.head;
        this.remove(q, r);
        r.timedOut = true;
        settle(r, { detector: r.detector, error: 'timeout', latencyMs: now - r.started });
      }
      if (q.head && q.head.deadline < next) next = q.head.deadline;
    }
    if (next < Infinity) this.arm(next);
  }
}

function settle(r: Run, result: Result): void {
  if (r.settled) return;
  r.settled = true;
  r.resolve(result);
}

export interface InspectStageOptions {
  featurizers?: FeaturizerRegistry;
  /** Random source of shadow sampling (tests pin it). */
  random?: () => number;
}

/**
 * Builds the inspect stage of a config: loads and verifies every detector package (a
 * refused package fails the build: at start the gateway does not start, on reload the
 * old config keeps serving). Returns undefined when no detector is configured.
 */
export async function createInspectStage(loaded: LoadedConfig, services: Services, opts: InspectStageOptions = {}): Promise<Stage | undefined> {
  const cfg = loaded.config.detectors;
  if (Object.keys(cfg.packages).length === 0) return undefined;
  // Without the shared service (a test that builds stages alone) the stage owns its sessions.
  const own = services.detectors ? undefined : new DetectorSessions();
  const sessions = services.detectors ?? own!;
  let set: DetectorSet;
  try {
    set = await buildDetectors(cfg, {
      sessions,
      resolvePath: (p) => resolveConfigPath(loaded, p),
      featurizers: opts.featurizers,
      warn: (msg) => services.logger.warn(msg),
      state: services.state,
    });
  } catch (err) {
    await own?.close();
    throw err;
  }
  const watchdog = new Watchdog();
  const byModel = new Map<string, Binding[]>();
  for (const m of loaded.config.models) {
    const list: Binding[] = [];
    for (const e of m.detectors) {
      const b = bindingOf(e);
      const detector = set.detectors.get(b.name)!;
      if (detector.settings.mode === 'off') continue;
      list.push({ detector, roles: b.roles ? new Set(b.roles) : undefined, queue: watchdog.queue(detector.settings.budget) });
    }
    if (list.length) byModel.set(m.name, list);
  }
  for (const d of set.detectors.values()) {
    services.logger.info(
      d.engine
        ? { detector: d.name, package: d.engine.manifest.name, version: d.engine.manifest.version, signedBy: d.signedBy ?? 'unsigned', mode: d.settings.mode }
        : { detector: d.name, kind: d.kind, mode: d.settings.mode },
      'detector loaded',
    );
  }
  const random = opts.random ?? Math.random;
  const logger = services.logger;

  function run(b: Binding, ctx: RequestContext): Promise<Result> | Result {
    const d = b.detector;
    const s = d.settings;
    if (s.mode === 'shadow' && s.sampleRate < 1 && random() >= s.sampleRate) return { detector: d, skipped: true };
    const started = performance.now();
    const r = new Run(d, started, started + s.budget, ctx);
    return new Promise<Result>((resolve) => {
      r.resolve = resolve;
      watchdog.add(b.queue, r);
      let scoring: Promise<number | undefined>;
      try {
        scoring = d.score({ request: ctx.request!, principal: ctx.principal, roles: b.roles, clientAddress: ctx.http.clientAddress, signal: r });
      } catch (err) {
        scoring = Promise.reject(err);
      }
      scoring.then(
        (score) => {
          if (r.settled) return;
          watchdog.remove(b.queue, r);
          // A result that came back late (the event loop was busy) is over budget all the same.
          const latencyMs = performance.now() - started;
          settle(r, latencyMs > s.budget ? { detector: d, error: 'timeout', latencyMs } : { detector: d, score, latencyMs });
        },
        (err: unknown) => {
          if (r.settled) return;
          watchdog.remove(b.queue, r);
          const error = err instanceof BudgetExceeded ? 'timeout' : (ctx.clientGone ?? ctx.signal?.aborted) ? 'aborted' : 'failed';
          if (error === 'failed') logger.warn({ err, requestId: ctx.id, detector: d.name }, 'detector failed');
          settle(r, { detector: d, error, latencyMs: performance.now() - started });
        },
      );
    });
  }

  return {
    name: STAGE,
    async request(ctx: RequestContext): Promise<Decision> {
      const bindings = byModel.get(ctx.model.name);
      if (!bindings || !ctx.request) return ALLOW;
      const results = bindings.length === 1 ? [await run(bindings[0], ctx)] : await Promise.all(bindings.map((b) => run(b, ctx)));
      const notes: Note[] = [];
      let block: Detector | undefined;
      let unavailable: Detector | undefined;
      for (const r of results) {
        if (r.skipped) continue;
        const d = r.detector;
        const s = d.settings;
        if (r.error) {
          notes.push({ stage: STAGE, kind: 'detector-error', name: d.name, detail: { error: r.error, mode: s.mode, failOpen: s.failOpen, latencyMs: r.latencyMs } });
          if (s.mode === 'enforce' && !s.failOpen) unavailable ??= d;
          continue;
        }
        if (r.score === undefined) continue;
        const fired = r.score >= d.threshold;
        if (s.mode === 'shadow') {
          notes.push({
            stage: STAGE,
            kind: 'detector-shadow',
            name: d.name,
            score: r.score,
            detail: { wouldAction: fired ? s.action : 'allow', threshold: d.threshold, latencyMs: r.latencyMs },
          });
        } else if (fired) {
          notes.push({ stage: STAGE, kind: `detector-${s.action}`, name: d.name, score: r.score, detail: { latencyMs: r.latencyMs } });
          if (s.action === 'block') block ??= d;
        } else {
          // Scores that did not fire too: telemetry's score histograms and the audit
          // record need every score (a kind without a risk weight counts 0).
          notes.push({ stage: STAGE, kind: 'detector-pass', name: d.name, score: r.score, detail: { latencyMs: r.latencyMs } });
        }
      }
      if (block) {
        return { allow: false, code: 'PALISADE_INPUT_REJECTED', message: `The input was rejected by detector "${block.name}".`, notes };
      }
      if (unavailable) {
        return {
          allow: false,
          code: 'PALISADE_DETECTOR_UNAVAILABLE',
          message: `Detector "${unavailable.name}" could not inspect the input; try again later.`,
          notes,
        };
      }
      return notes.length ? { allow: true, notes } : ALLOW;
    },
    async close() {
      watchdog.close();
      set.close();
      await own?.close();
    },
  };
}
