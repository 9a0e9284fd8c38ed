/**
 * Query sequences for the stream detector: what one client sends, in order. Extraction
 * probing that is not Jacobian-based (random-noise querying, near-duplicate sweeps around
 * a few points) and the benign traffic it must be told apart from (clean digits in random
 * order, one sequence per client).
 */
import { Rng } from '../../src/ml/rng.js';
import { uniformNoise } from './ood.js';

/** A sequence of `n` queries, [n, d] row-major. */
export interface QuerySequence {
  name: string;
  x: Float32Array;
  n: number;
}

/**
 * Random-noise querying (Tramèr et al., 2016, extraction by uniform random queries): `n`
 * images of uniform pixels.
 */
export function randomNoiseQueries(n: number, seed: number): QuerySequence {
  return { name: 'random-noise', x: uniformNoise(n, seed), n };
}

/** Options for {@link nearDuplicateSweeps}. */
export interface SweepOptions {
  /** Queries per point. Default 60. */
  perPoint?: number;
  /**
   * `line`: the point moved along one random sign direction from -radius to +radius
   * (probing where the label flips); `jitter`: the point plus small Gaussian noise of
   * std radius / 3 per pixel; `mixed` (default): points alternate between the two.
   */
  mode?: 'line' | 'jitter' | 'mixed';
  /** L-infinity reach of a sweep. Default 0.3. */
  radius?: number;
  /** Default 0. */
  seed?: number;
}

/**
 * Near-duplicate sweeps around a few points: for each of the `nPoints` rows of `points`,
 * `perPoint` queries that differ from it (and from each other) by little. This is how a
 * label-only or decision-boundary extraction probes, and how a black-box attack looks
 * from the server.
 */
export function nearDuplicateSweeps(points: Float32Array, nPoints: number, options: SweepOptions = {}): QuerySequence {
  const { perPoint = 60, mode = 'mixed', radius = 0.3, seed = 0 } = options;
  const d = points.length / nPoints;
  const rng = new Rng(seed);
  const x = new Float32Array(nPoints * perPoint * d);
  let row = 0;
  for (let p = 0; p < nPoints; p++) {
    const base = points.subarray(p * d, (p + 1) * d);
    const m = mode === 'mixed' ? (p % 2 === 0 ? 'line' : 'jitter') : mode;
    const dir = new Float32Array(d);
    for (let i = 0; i < d; i++) dir[i] = rng.float() < 0.5 ? -1 : 1;
    for (let q = 0; q < perPoint; q++, row++) {
      const out = x.subarray(row * d, (row + 1) * d);
      if (m === 'line') {
        const t = perPoint === 1 ? 0 : -radius + (2 * radius * q) / (perPoint - 1);
        for (let i = 0; i < d; i++) out[i] = clip01(base[i] + t * dir[i]);
      } else {
        for (let i = 0; i < d; i++) out[i] = clip01(base[i] + rng.normal(0, radius / 3));
      }
    }
  }
  return { name: `near-duplicate-sweeps-${mode}`, x, n: nPoints * perPoint };
}

/**
 * Benign clients: each sends `perClient` distinct images of `set` in random order (a
 * seeded permutation prefix per client). Returns row indices into `set`, one array per
 * client.
 */
export function benignClients(setSize: number, clients: number, perClient: number, seed: number): Uint32Array[] {
  if (perClient > setSize) throw new RangeError(`benignClients: ${perClient} queries per client from ${setSize} images`);
  const rng = new Rng(seed);
  return Array.from({ length: clients }, () => rng.permutation(setSize).slice(0, perClient));
}

/** The rows `rows` of `x` ([*, d]) as one sequence. */
export function gatherRows(x: Float32Array, d: number, rows: ArrayLike<number>, name = 'benign'): QuerySequence {
  const out = new Float32Array(rows.length * d);
  for (let i = 0; i < rows.length; i++) out.set(x.subarray(rows[i] * d, (rows[i] + 1) * d), i * d);
  return { name, x: out, n: rows.length };
}

function clip01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}
