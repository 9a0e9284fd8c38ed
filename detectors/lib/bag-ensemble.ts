/**
 * An ensemble of BagModels over the same featurizer, scored as the mean of their window
 * probabilities, and written as ONE graph with the inputs and output of a single
 * BagModel's (so the gateway's runtime loads it as it loads any text package):
 *
 * - the members' embedding tables side by side, [buckets, M·dim]: one Gather and one
 *   ScatterND pool every member's embedding at once (the mean of the wide rows is the
 *   members' means side by side);
 * - the members' MLPs as one block-diagonal MLP: layer 1 reads member m's pooled slice
 *   and the shared dense statistics into member m's hidden units; each later layer maps
 *   member m's units to member m's units only, down to M logits;
 * - Sigmoid, then a MatMul by a column of 1/M: the mean of the members' probabilities.
 *
 * The node count is a single model's plus one MatMul: the cost of the ensemble is in
 * wider tensors, not more runs. A text's score is, as for one model, its highest window's.
 * (The seed ensembles' nested evaluation, models/prompt-injection/nested-ensembles.md,
 * averaged text scores, the mean of each member's highest window; for texts of one window
 * the two are the same.)
 */
import { Mlp, OnnxModelBuilder, appendMlp, sigmoid } from '../../src/ml/index.js';
import { DENSE, type HashedNgramsItem } from '../../src/detect/featurizers/hashed-ngrams.js';
import { appendBagInput, type BagModel } from './bag-model.js';

export class BagEnsemble {
  readonly members: readonly BagModel[];

  constructor(members: readonly BagModel[]) {
    if (members.length === 0) throw new RangeError('BagEnsemble: no members');
    const [first] = members;
    for (const m of members) {
      if (m.maxPool) throw new RangeError('BagEnsemble: mean pooling only');
      if (m.buckets !== first.buckets || m.dim !== first.dim) throw new RangeError('BagEnsemble: members differ in buckets or dim');
      if (m.mlp.sizes.join() !== first.mlp.sizes.join() || m.mlp.head !== 'sigmoid' || m.mlp.outputSize !== 1) throw new RangeError('BagEnsemble: members differ in their MLP, or it is not one sigmoid output');
    }
    this.members = members;
  }

  /** Score of a text: the highest window's mean probability over the members. */
  score(windows: readonly HashedNgramsItem[]): number {
    const mean = new Float64Array(windows.length);
    for (const m of this.members) {
      const l = m.logits(windows);
      for (let w = 0; w < windows.length; w++) mean[w] += sigmoid(l[w]);
    }
    let best = -Infinity;
    for (const v of mean) if (v > best) best = v;
    return best / this.members.length;
  }

  /** The members' tables side by side: row r is [member 0's row r, member 1's row r, ...]. */
  wideTable(): Float32Array {
    const { buckets, dim } = this.members[0];
    const M = this.members.length;
    const out = new Float32Array(buckets * M * dim);
    for (let r = 0; r < buckets; r++) {
      for (let m = 0; m < M; m++) out.set(this.members[m].emb.subarray(r * dim, (r + 1) * dim), (r * M + m) * dim);
    }
    return out;
  }

  /** The members' MLPs as one block-diagonal MLP over [pooled_0 .. pooled_{M-1}, dense], with M logits. */
  blockMlp(): Mlp {
    const M = this.members.length;
    const dim = this.members[0].dim;
    const sizes = this.members[0].mlp.sizes;
    const wide = sizes.map((s, l) => (l === 0 ? M * dim + DENSE : M * s));
    const weights: Float32Array[] = [];
    const biases: Float32Array[] = [];
    for (let l = 0; l < sizes.length - 1; l++) {
      const [inM, outM] = [sizes[l], sizes[l + 1]];
      const w = new Float32Array(wide[l] * wide[l + 1]);
      const b = new Float32Array(wide[l + 1]);
      this.members.forEach((member, m) => {
        const src = member.mlp.weights[l];
        for (let i = 0; i < inM; i++) {
          // Layer 1: member m's pooled slice, then the dense statistics every member shares.
          const row = l > 0 ? m * inM + i : i < dim ? m * dim + i : M * dim + (i - dim);
          for (let j = 0; j < outM; j++) w[row * wide[l + 1] + m * outM + j] = src[i * outM + j];
        }
        b.set(member.mlp.biases[l], m * outM);
      });
      weights.push(w);
      biases.push(b);
    }
    return new Mlp(wide, 'sigmoid', weights, biases);
  }

  /** The one graph the gateway runs (inputs ids, segments, scale, dense; output score [B, 1]). */
  toOnnx(meta: Record<string, string> = {}): Uint8Array {
    const M = this.members.length;
    const wideDim = M * this.members[0].dim;
    const b = new OnnxModelBuilder({ graphName: 'prompt_injection', opset: 18, producerName: 'palisade-detectors' });
    const x = appendBagInput(b, this.wideTable(), this.members[0].buckets, wideDim);
    const logits = appendMlp(b, this.blockMlp(), x, { prefix: 'heads' });
    const probs = b.op('Sigmoid', [logits]);
    const avg = b.addInitializer('member_mean', 'float', [M, 1], new Float32Array(M).fill(1 / M));
    b.op('MatMul', [probs, avg], {}, { output: 'score' });
    b.addOutput('score', 'float', ['B', 1]);
    b.setMetadata('palisade.ensemble', String(M));
    for (const [k, v] of Object.entries(meta)) b.setMetadata(k, v);
    return b.toBytes();
  }
}
