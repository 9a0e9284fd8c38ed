/**
 * The model card of the mnist-adversarial package (models/mnist-adversarial/README.md).
 * Its figures sit between two markers, so `npm run eval:detectors` can replace them with
 * a new measurement without touching the prose.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Manifest } from '../../src/detect/package.js';
import { tensorEvaluationMarkdown, type TensorEvaluation } from './evaluate.js';

export const FIGURES_START = '<!-- figures:start (written by npm run eval:detectors) -->';
export const FIGURES_END = '<!-- figures:end -->';

/** Replaces the text between the figure markers of a card (or appends the section when there are none). */
export function replaceFigures(card: string, figures: string): string {
  const block = `${FIGURES_START}\n${figures.trimEnd()}\n${FIGURES_END}`;
  const a = card.indexOf(FIGURES_START);
  const b = card.indexOf(FIGURES_END);
  if (a < 0 || b < a) return `${card.trimEnd()}\n\n${block}\n`;
  return card.slice(0, a) + block + card.slice(b + FIGURES_END.length);
}

/** Rewrites the figures of an existing card file. */
export function updateCardFigures(file: string, figures: string): void {
  writeFileSync(file, replaceFigures(readFileSync(file, 'utf8'), figures));
}

/** Writes the whole card. */
export function writeModelCard(file: string, m: Manifest, e: TensorEvaluation): void {
  const t = m.training as Record<string, unknown>;
  const rows = (m.provenance as { trainingRows: Record<string, number> }).trainingRows;
  const composition = Object.entries(rows)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const card = `# mnist-adversarial

A tensor detector (\`kind: tensor\`) for palisade's demo MNIST classifier
(\`models/demo-mnist\`): it scores each 784-pixel input row in [0, 1] for being an
adversarial example or not a digit at all (noise, inverted, moved off-centre). In the
gateway it runs in the inspect stage on KServe v2 / TF Serving requests
(\`InferenceRequest.tensors\`), before anything reaches the model.

## How it decides

One ONNX graph (input \`${m.inputs.input}\` [N, 784] float32, output \`${m.output}\` [N, 1]):

- the **pixels**: an L-infinity attack spreads small values over the blank background
  that real digits never have;
- **feature squeezing** (Xu et al., 2018): the demo classifier (a frozen copy of its
  weights is inside the graph) reads the input and its 1-bit version (pixel > 0.5); the
  L1 distance between the two probability vectors is large for perturbed inputs and
  small for real digits;
- the classifier's **confidence** (its two highest probabilities): minimal attacks
  stop just past a decision boundary.

An MLP head (${t.head}, ReLU, sigmoid) reads the 784 pixels and the three features.
The featurizer \`${m.featurizer.name}\` v${m.featurizer.version} cuts the request's
numeric tensors into rows of ${(m.featurizer.params as { size: number }).size}; a request's score is its highest row's. A tensor
that is not made of 784-value rows scores 1.

## Data and training

- **Digits**: ${(m.provenance as { digits: string }).digits}.
- **Training rows**: ${composition}. Attacks are made with the demo model's own
  gradients on its training digits, one attack per digit (no digit appears twice as
  an attack).
- **Head**: Adam, lr ${t.lr} (cosine), batch ${t.batchSize}, ${t.epochs} epochs, seed ${t.seed};
  deterministic (\`npm run train:mnist-adversarial\` writes the same model.onnx).
- **Threshold**: ${m.threshold.toPrecision(6)}, the lowest score that flags at most ${(Number(t.calibrationShare) * 100).toFixed(1)}% of the
  1,000 clean calibration digits (half the 1% goal, for margin).

## Evaluation

On the 1,000 clean evaluation digits and attacks made from 500 of them, none seen in
training or calibration. FGSM and PGD (20 steps, random start) at every epsilon,
DeepFool (L2, minimal), and the out-of-distribution inputs are families the head was
trained on (other digits, other random draws); **Carlini-Wagner L2** (confident,
κ = 5), **SimBA-DCT** (a black-box attack that only queries probabilities) and
**Gaussian noise** are families it never saw. AUROC and TPR at 1% FPR are against
the clean evaluation digits; "flagged at threshold" uses the shipped threshold.

${FIGURES_START}
${tensorEvaluationMarkdown(e).trimEnd()}
${FIGURES_END}

## Limits

- It protects **this** model: the graph holds the demo classifier's weights and the
  head learned attacks on them. Another model needs its own package (the code in
  \`detectors/mnist-adversarial/\` is the recipe).
- It was not evaluated against an **adaptive** attacker who optimizes against the
  detector too (e.g. PGD on the classifier's loss plus the detector's score); such an
  attacker is expected to get through more often. The held-out families show how it
  generalizes to attacks it was not trained on, not to attacks aimed at it.
- The threshold was set on digits from the same source as the evaluation digits.
  Real traffic that looks different (other scanners, other preprocessing) will be
  flagged more: run it in \`mode: shadow\` first and read the \`detector-shadow\` notes.

## Files

\`model.onnx\` (the graph), \`manifest.json\` (signed by \`manifest.jws\`, with these
metrics), \`head.json\` (the trained head as a \`palisade.mlp\` document, for
experiments), this card.

Rebuild: \`npm run train:mnist-adversarial\`; re-measure: \`npm run eval:detectors\`.
`;
  writeFileSync(file, card);
}
