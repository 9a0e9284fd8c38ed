/**
 * The featurizers this gateway knows, by name and version. A package names one; a name
 * or version missing here is refused when the package loads.
 */
import type { Featurizer, FeaturizerSpec } from '../featurizer.js';
import { hashedNgramsV1, hashedNgramsV2 } from './hashed-ngrams.js';
import { tensorRowsV1 } from './tensor-rows.js';

export class FeaturizerRegistry {
  private readonly specs = new Map<string, FeaturizerSpec>();

  constructor(specs: readonly FeaturizerSpec[] = []) {
    for (const s of specs) this.register(s);
  }

  /** Adds a featurizer (tensor and stream featurizers land here later). */
  register(spec: FeaturizerSpec): this {
    const key = `${spec.name}@${spec.version}`;
    if (this.specs.has(key)) throw new Error(`featurizer ${key} is already registered`);
    this.specs.set(key, spec);
    return this;
  }

  /** `name@version` of every featurizer, for error messages. */
  known(): string[] {
    return [...this.specs.keys()].sort();
  }

  /**
   * Creates the featurizer a manifest names.
   * @throws Error naming what is unknown (name, or version of a known name) or what is wrong with params.
   */
  create(name: string, version: number, params: unknown): Featurizer {
    const spec = this.specs.get(`${name}@${version}`);
    if (!spec) {
      const versions = [...this.specs.values()].filter((s) => s.name === name).map((s) => s.version);
      throw new Error(
        versions.length
          ? `featurizer ${name} version ${version} is unknown to this gateway (it knows versions ${versions.join(', ')})`
          : `featurizer "${name}" is unknown to this gateway (it knows ${this.known().join(', ')})`,
      );
    }
    try {
      return spec.create(params);
    } catch (err) {
      throw new Error(`featurizer ${name}@${version}: ${(err as Error).message}`);
    }
  }
}

/** The built-in featurizers (a fresh registry, so tests can add their own without touching others). */
export function builtinFeaturizers(): FeaturizerRegistry {
  return new FeaturizerRegistry([hashedNgramsV1, hashedNgramsV2, tensorRowsV1]);
}
