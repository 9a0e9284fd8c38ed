/**
 * Detectors built from the `detectors:` config section: each is a loaded, verified
 * package, its leased ONNX engine, and its settings; or, for `kind: stream`, a stateful
 * query-stream detector over the StateStore (no package). The kind of a package
 * (manifest `kind`) picks how the detector reads a request: `text` detectors read the
 * request's texts, `tensor` detectors its numeric tensors.
 */
import type { JWK } from 'jose';
import type { InferenceRequest, Principal } from '../pipeline/types.js';
import type { StateStore } from '../state/store.js';
import type { DetectorsConfig, DetectorSettings } from './config.js';
import type { DetectorKind } from './featurizer.js';
import { builtinFeaturizers, type FeaturizerRegistry } from './featurizers/registry.js';
import { loadPackage, PackageError } from './package.js';
import type { DetectorSessions, ScoringEngine, SessionLease } from './sessions.js';
import { readTrustedKey, trustedKeyFromJwk, type TrustedKey } from './signing.js';
import { scoreTexts } from './text-scorer.js';
import { scoreTensors } from './tensor-scorer.js';
import { TensorShapeError } from './featurizers/tensor-rows.js';
import { QueryStreamDetector } from './stream/stream-detector.js';

/** Threshold of a stream detector without one in its config: each stream test is at its limit at 0.5. */
export const STREAM_THRESHOLD = 0.5;

/** What a detector reads of one request. */
export interface DetectorInput {
  request: InferenceRequest;
  principal?: Principal;
  /** Roles of the texts to read; undefined reads every text. */
  roles?: ReadonlySet<string>;
  /** The client's address: whose stream it is when there is no principal. */
  clientAddress?: string;
  /**
   * Aborted when the budget is spent or the client is gone: check it between steps. The
   * inspect stage passes a light deadline signal, not an EventTarget (no listeners).
   */
  signal: ScoreSignal;
}

/** The part of AbortSignal a detector may use (an AbortSignal is one). */
export type ScoreSignal = Pick<AbortSignal, 'aborted' | 'reason' | 'throwIfAborted'>;

export interface Detector {
  readonly name: string;
  readonly kind: DetectorKind;
  readonly settings: DetectorSettings;
  /** The effective threshold: the config's, else the manifest's. */
  readonly threshold: number;
  /** The package's engine; undefined for a stream detector (it has no package). */
  readonly engine?: ScoringEngine;
  /** kid of the key that signed the package (undefined: unsigned, allowed by config). */
  readonly signedBy?: string;
  /** Scores a request; undefined when it holds nothing this detector reads. */
  score(input: DetectorInput): Promise<number | undefined>;
}

type KindScorer = (engine: ScoringEngine, settings: DetectorSettings, threshold: number) => Detector['score'];

/** How each kind reads a request. Kinds without an entry are refused at load. */
const KIND_SCORERS: Partial<Record<DetectorKind, KindScorer>> = {
  text: (engine, settings, threshold) => async (input) => {
    const texts: string[] = [];
    for (const t of input.request.texts) if (!input.roles || input.roles.has(t.role)) texts.push(t.text);
    if (texts.length === 0) return undefined;
    // scoreTexts reads only `aborted` and `reason` of its signal.
    const r = await scoreTexts(engine, texts, { threshold, earlyExit: settings.earlyExit, signal: input.signal as AbortSignal });
    return r.score;
  },
  tensor: (engine) => async (input) => {
    try {
      return (await scoreTensors(engine, input.request.tensors, input.signal))?.score;
    } catch (err) {
      // A tensor that is not made of the model's rows is as far out of distribution as an
      // input gets: it scores 1 (blocked by a blocking detector) rather than failing the
      // detector, which would tell the client to retry the same input later.
      if (err instanceof TensorShapeError) return 1;
      throw err;
    }
  },
};

/** A stream detector as a Detector: each scored request is also recorded in the principal's stream. */
function streamDetector(name: string, settings: DetectorSettings, state: StateStore): Detector {
  const stream = new QueryStreamDetector(name, settings.stream!, state);
  return {
    name,
    kind: 'stream',
    settings,
    threshold: settings.threshold ?? STREAM_THRESHOLD,
    async score(input) {
      const p = input.principal;
      const owner = p && p.via !== 'anonymous' ? { principal: p.id } : { clientAddress: input.clientAddress ?? p?.id };
      return (await stream.observe(input.request, owner, input.roles, input.signal))?.score;
    },
  };
}

export interface BuildDetectorsOptions {
  sessions: DetectorSessions;
  /** Resolves a config path (relative to the config file). */
  resolvePath: (p: string) => string;
  featurizers?: FeaturizerRegistry;
  warn?: (msg: string) => void;
  /** Where stream detectors keep their state (Services.state); required when one is configured. */
  state?: StateStore;
}

/** The detectors of one runtime; `close` returns their session leases. */
export interface DetectorSet {
  readonly detectors: ReadonlyMap<string, Detector>;
  close(): void;
}

/** Reads the trusted keys of the config (files relative to the config, or inline JWKs). */
export async function readTrustedKeys(cfg: DetectorsConfig, resolvePath: (p: string) => string): Promise<TrustedKey[]> {
  const out: TrustedKey[] = [];
  for (const k of cfg.trustedKeys) {
    if (typeof k === 'string') out.push(await readTrustedKey(resolvePath(k)));
    else if ('file' in k) out.push(await readTrustedKey(resolvePath(k.file)));
    else out.push(await trustedKeyFromJwk(k.jwk as JWK));
  }
  return out;
}

/**
 * Loads every configured package (verifying it), creates or reuses its session, and
 * builds the detectors. Throws (PackageError) on the first package refused; nothing
 * stays leased then.
 */
export async function buildDetectors(cfg: DetectorsConfig, opts: BuildDetectorsOptions): Promise<DetectorSet> {
  const featurizers = opts.featurizers ?? builtinFeaturizers();
  const leases: SessionLease[] = [];
  const detectors = new Map<string, Detector>();
  const close = () => {
    for (const l of leases.splice(0)) l.release();
  };
  try {
    const entries = Object.entries(cfg.packages);
    const trustedKeys = entries.some(([, s]) => s.kind !== 'stream') ? await readTrustedKeys(cfg, opts.resolvePath) : [];
    for (const [name, settings] of entries) {
      if (settings.kind === 'stream') {
        if (!opts.state) throw new Error(`detector ${name}: a stream detector needs the state store`);
        detectors.set(name, streamDetector(name, settings, opts.state));
        continue;
      }
      const pkg = await loadPackage(opts.resolvePath(settings.path!), {
        trustedKeys,
        featurizers,
        allowUnsigned: settings.allowUnsigned,
        warn: opts.warn,
      });
      if (settings.kind !== undefined && settings.kind !== pkg.manifest.kind) {
        throw new PackageError(pkg.dir, 'manifest', `the config says detector ${name} is ${settings.kind}, the package is ${pkg.manifest.kind}`);
      }
      const kindScorer = KIND_SCORERS[pkg.manifest.kind];
      if (!kindScorer) throw new PackageError(pkg.dir, 'manifest', `${pkg.manifest.kind} detectors are not supported by this gateway`);
      const lease = await opts.sessions.acquire(pkg, { maxSize: cfg.batching.maxSize, maxWaitMs: cfg.batching.maxWait });
      leases.push(lease);
      const threshold = settings.threshold ?? pkg.manifest.threshold;
      detectors.set(name, {
        name,
        kind: pkg.manifest.kind,
        settings,
        threshold,
        engine: lease.engine,
        signedBy: pkg.signedBy,
        score: kindScorer(lease.engine, settings, threshold),
      });
    }
  } catch (err) {
    close();
    throw err;
  }
  return { detectors, close };
}
