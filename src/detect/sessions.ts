/**
 * ONNX sessions of detector packages, a long-lived service (Services.detectors): one
 * onnxruntime-node InferenceSession and one micro-batcher per loaded package, shared by
 * every detector that uses the package and kept across config reloads while the
 * package files are unchanged (keyed by folder and manifest digest; the manifest holds
 * the model digest). A runtime leases what it uses and releases it when it is retired;
 * the last release closes the session.
 */
import * as ort from './ort.js';
import { MicroBatcher, type BatcherOptions } from './batcher.js';
import { FeedBuffers } from './feed-buffers.js';
import type { Featurizer } from './featurizer.js';
import { PackageError, type LoadedPackage, type Manifest } from './package.js';

/** What a detector scores with: the package's featurizer and its batched session. */
export interface ScoringEngine {
  readonly key: string;
  readonly manifest: Manifest;
  readonly featurizer: Featurizer;
  /** Scores rows (featurizer items) through the micro-batcher: one score in [0, 1] per row. */
  score(rows: readonly unknown[]): Promise<number[]>;
  readonly batcher: MicroBatcher<unknown, number>;
}

export interface SessionLease {
  readonly engine: ScoringEngine;
  /** Gives the lease back; idempotent. */
  release(): void;
}

interface Entry {
  engine: ScoringEngine;
  session: ort.InferenceSession;
  refs: number;
}

const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  // One core for the event loop, one for the model: batching, not intra-op threads, buys throughput here.
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};

export class DetectorSessions {
  private readonly entries = new Map<string, Entry>();
  private readonly creating = new Map<string, Promise<Entry>>();
  /** Sessions created so far (reuse across reloads shows as this not growing). */
  created = 0;

  /**
   * Leases the engine of a loaded package, creating its session on first use. The
   * batching options of the newest lease apply.
   * @throws PackageError when the graph's inputs or output do not match the manifest, or the model does not load.
   */
  async acquire(pkg: LoadedPackage, batching: BatcherOptions): Promise<SessionLease> {
    const key = `${pkg.dir}#${pkg.manifestSha256}`;
    let entry = this.entries.get(key);
    if (!entry) {
      let p = this.creating.get(key);
      if (!p) {
        p = this.create(key, pkg, batching);
        this.creating.set(key, p);
      }
      try {
        entry = await p;
      } finally {
        this.creating.delete(key);
      }
      if (!this.entries.has(key)) this.entries.set(key, entry);
      entry = this.entries.get(key)!;
    }
    entry.engine.batcher.configure(batching);
    entry.refs++;
    let released = false;
    const e = entry;
    return {
      engine: e.engine,
      release: () => {
        if (released) return;
        released = true;
        if (--e.refs === 0) {
          this.entries.delete(key);
          e.engine.batcher.close();
          void e.session.release().catch(() => {});
        }
      },
    };
  }

  /** Closes every session (gateway shutdown). */
  async close(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const e of all) e.engine.batcher.close();
    await Promise.allSettled(all.map((e) => e.session.release()));
  }

  private async create(key: string, pkg: LoadedPackage, batching: BatcherOptions): Promise<Entry> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(pkg.model, SESSION_OPTIONS);
    } catch (err) {
      throw new PackageError(pkg.dir, 'manifest', `${pkg.manifest.model.file} does not load: ${(err as Error).message}`);
    }
    const { manifest, featurizer } = pkg;
    const names = manifest.inputs;
    const absent = Object.values(names).filter((n) => !session.inputNames.includes(n));
    if (absent.length || !session.outputNames.includes(manifest.output)) {
      await session.release().catch(() => {});
      throw new PackageError(
        pkg.dir,
        'manifest',
        `the graph has inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}]; the manifest names inputs [${Object.values(names).join(', ')}] and output ${manifest.output}`,
      );
    }
    const output = manifest.output;
    const fetches = [output];
    // The batcher runs one batch at a time, so the runs of this session can share buffers.
    const buffers = new FeedBuffers();
    const runner = async (rows: readonly unknown[]): Promise<Float32Array> => {
      const out = await session.run(featurizer.feeds(rows, names, buffers), fetches);
      const data = out[output].data;
      if (!(data instanceof Float32Array) || data.length !== rows.length) {
        throw new Error(`${manifest.name}: output ${output} has ${data.length} values for ${rows.length} rows`);
      }
      return data;
    };
    const batcher = new MicroBatcher<unknown, number>(runner, batching);
    this.created++;
    return {
      session,
      refs: 0,
      engine: { key, manifest, featurizer, batcher, score: (rows) => batcher.submit(rows) },
    };
  }
}
