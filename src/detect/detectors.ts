/**
 * Detectors built from the `detectors:` config section: each is a loaded, verified
 * package, its leased ONNX engine, and its settings. The kind of a package (manifest
 * `kind`) picks how the detector reads a request: `text` detectors read the request's
 * texts; `tensor` and `stream` detectors (issue 6) plug into KIND_SCORERS the same way.
 */
import type { JWK } from 'jose';
import type { InferenceRequest, Principal } from '../pipeline/types.js';
import type { DetectorsConfig, DetectorSettings } from './config.js';
import type { DetectorKind } from './featurizer.js';
import { builtinFeaturizers, type FeaturizerRegistry } from './featurizers/registry.js';
import { loadPackage, PackageError } from './package.js';
import type { DetectorSessions, ScoringEngine, SessionLease } from './sessions.js';
import { readTrustedKey, trustedKeyFromJwk, type TrustedKey } from './signing.js';
import { scoreTexts } from './text-scorer.js';

/** What a detector reads of one request. */
export interface DetectorInput {
  request: InferenceRequest;
  principal?: Principal;
  /** Roles of the texts to read; undefined reads every text. */
  roles?: ReadonlySet<string>;
  /** Aborted when the budget is spent. */
  signal: AbortSignal;
}

export interface Detector {
  readonly name: string;
  readonly kind: DetectorKind;
  readonly settings: DetectorSettings;
  /** The effective threshold: the config's, else the manifest's. */
  readonly threshold: number;
  readonly engine: ScoringEngine;
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
    const r = await scoreTexts(engine, texts, { threshold, earlyExit: settings.earlyExit, signal: input.signal });
    return r.score;
  },
};

export interface BuildDetectorsOptions {
  sessions: DetectorSessions;
  /** Resolves a config path (relative to the config file). */
  resolvePath: (p: string) => string;
  featurizers?: FeaturizerRegistry;
  warn?: (msg: string) => void;
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
    const trustedKeys = entries.length ? await readTrustedKeys(cfg, opts.resolvePath) : [];
    for (const [name, settings] of entries) {
      const pkg = await loadPackage(opts.resolvePath(settings.path), {
        trustedKeys,
        featurizers,
        allowUnsigned: settings.allowUnsigned,
        warn: opts.warn,
      });
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
