/**
 * The inspect stage: the detectors bound to the request's model score it, each within
 * its latency budget, all at once. Per detector and mode:
 *
 *   enforce, score ≥ threshold → block: 403 PALISADE_INPUT_REJECTED (names the detector,
 *                                 never the score); flag: note `detector-flag`; log: note `detector-log`
 *   shadow                      → note `detector-shadow` with what would have happened; never blocks
 *   error or budget exceeded    → 503 PALISADE_DETECTOR_UNAVAILABLE, or with failOpen a note and allow
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
import { buildDetectors, type Detector, type DetectorSet } from './detectors.js';
import type { FeaturizerRegistry } from './featurizers/registry.js';
import { DetectorSessions } from './sessions.js';

const STAGE = 'inspect';

interface Binding {
  detector: Detector;
  roles?: ReadonlySet<string>;
}

type Result =
  | { detector: Detector; skipped: true }
  | { detector: Detector; skipped?: false; score?: number; error?: 'timeout' | 'failed'; latencyMs: number };

class BudgetExceeded extends Error {
  constructor(budget: number) {
    super(`detector budget of ${budget} ms exceeded`);
  }
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
  const byModel = new Map<string, Binding[]>();
  for (const m of loaded.config.models) {
    const list: Binding[] = [];
    for (const e of m.detectors) {
      const b = bindingOf(e);
      const detector = set.detectors.get(b.name)!;
      if (detector.settings.mode === 'off') continue;
      list.push({ detector, roles: b.roles ? new Set(b.roles) : undefined });
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

  async function run(b: Binding, ctx: RequestContext): Promise<Result> {
    const d = b.detector;
    const s = d.settings;
    if (s.mode === 'shadow' && s.sampleRate < 1 && random() >= s.sampleRate) return { detector: d, skipped: true };
    const ac = new AbortController();
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const budget = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const e = new BudgetExceeded(s.budget);
          ac.abort(e);
          reject(e);
        }, s.budget);
      });
      const score = await Promise.race([d.score({ request: ctx.request!, principal: ctx.principal, roles: b.roles, clientAddress: ctx.http.clientAddress, signal: ac.signal }), budget]);
      // A result that came back late (the event loop was busy) is over budget all the same.
      const latencyMs = performance.now() - started;
      if (latencyMs > s.budget) throw new BudgetExceeded(s.budget);
      return { detector: d, score, latencyMs };
    } catch (err) {
      const timeout = err instanceof BudgetExceeded;
      if (!timeout) logger.warn({ err, requestId: ctx.id, detector: d.name }, 'detector failed');
      return { detector: d, error: timeout ? 'timeout' : 'failed', latencyMs: performance.now() - started };
    } finally {
      clearTimeout(timer);
    }
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
      set.close();
      await own?.close();
    },
  };
}
