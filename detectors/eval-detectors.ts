/**
 * `npm run eval:detectors`: measures the tensor detector (the signed
 * models/mnist-adversarial package, through the gateway's runtime) and the query-stream
 * detector (the gateway's QueryStreamDetector with its default settings) on held-out
 * material, and writes the figures to bench/results/detectors.{json,md}, the package's
 * model card and the stream detector's card. Deterministic; about 15 minutes on one core.
 *
 * Environment: PALISADE_PROMPTS_DATA (public prompts for the benign text clients;
 * default: shared/data/prompts/train.jsonl in a parent folder; skipped when absent).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JWK } from 'jose';
import { loadDemoMnistMlp } from '../src/demo/demo-mnist-model.js';
import { loadMnist } from '../src/demo/mnist-data.js';
import { evaluateTensorDetector, packageScorer, tensorEvaluationMarkdown, type TensorEvaluation } from './mnist-adversarial/evaluate.js';
import { digitSplits, evaluationSuite } from './mnist-adversarial/material.js';
import { updateCardFigures } from './mnist-adversarial/model-card.js';
import { MNIST_ADVERSARIAL_DIR } from './mnist-adversarial/paths.js';
import { replayBenign, replayStream, type StreamRun } from './query-stream/evaluate.js';
import { streamEvaluationMarkdown, writeStreamCard, type StreamEvaluation } from './query-stream/report.js';
import { benignDigitStreams, benignTextStreams, extractionStreams, textAttackStreams } from './query-stream/sequences.js';
import { findPublicData, loadPublic } from './prompt-injection/data.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(ROOT, 'bench/results');
const PUBLIC_KEY = join(ROOT, 'models/keys/palisade-models.pub.jwk');
const STREAM_CARD = join(ROOT, 'detectors/query-stream/README.md');
/** The goal: every extraction attack flagged within this many queries. */
const GOAL_QUERIES = 200;

const started = performance.now();
const log = (line: string) => process.stderr.write(`${((performance.now() - started) / 1000).toFixed(0)}s ${line}\n`);

async function tensorEvaluation(): Promise<TensorEvaluation> {
  const splits = digitSplits();
  const suite = evaluationSuite(loadDemoMnistMlp(), splits.evaluation, log);
  const scorer = await packageScorer(MNIST_ADVERSARIAL_DIR, JSON.parse(readFileSync(PUBLIC_KEY, 'utf8')) as JWK);
  try {
    return await evaluateTensorDetector(scorer.score, scorer.threshold, splits.calibration, splits.evaluation, suite);
  } finally {
    await scorer.close();
  }
}

async function streamEvaluation(): Promise<StreamEvaluation> {
  const tensorAttacks: StreamRun[] = [];
  for (const s of extractionStreams(500)) {
    tensorAttacks.push(await replayStream(s));
    log(`stream: ${s.name}: first flagged at ${tensorAttacks.at(-1)!.firstFlag ?? 'never'}`);
  }
  const { train, test } = loadMnist();
  const benignTest = await replayBenign(benignDigitStreams(test, 100, 500, 42));
  log(`stream: benign test-digit clients flagged ${benignTest.flagged}/100`);
  const benignTrain = await replayBenign(benignDigitStreams(train, 100, 500, 43));
  log(`stream: benign training-digit clients flagged ${benignTrain.flagged}/100`);
  const textAttacks: StreamRun[] = [];
  for (const s of textAttackStreams(200)) textAttacks.push(await replayStream(s));
  let benignText;
  try {
    const prompts = loadPublic(findPublicData(ROOT))
      .filter((r) => r.label === 0)
      .map((r) => r.text);
    benignText = await replayBenign(benignTextStreams(prompts, 100, 300, 44));
    log(`stream: benign text clients flagged ${benignText.flagged}/100`);
  } catch (err) {
    log(`stream: benign text clients skipped (${(err as Error).message})`);
  }
  return { goalQueries: GOAL_QUERIES, tensorAttacks, benignTest, benignTrain, textAttacks, benignText };
}

const tensor = await tensorEvaluation();
log(`tensor: clean flagged ${(tensor.cleanFlagged * 100).toFixed(1)}%, worst caught ${tensor.worst}`);
const stream = await streamEvaluation();

mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, 'detectors.json'), `${JSON.stringify({ tensor, stream }, null, 2)}\n`);
const md = `# Tensor and stream detectors

Written by \`npm run eval:detectors\` (detectors/eval-detectors.ts). Method: docs/detectors.md,
models/mnist-adversarial/README.md and detectors/query-stream/README.md.

## Tensor detector: models/mnist-adversarial

${tensorEvaluationMarkdown(tensor)}
## Stream detector (kind: stream)

${streamEvaluationMarkdown(stream)}`;
writeFileSync(join(RESULTS, 'detectors.md'), md);
updateCardFigures(join(MNIST_ADVERSARIAL_DIR, 'README.md'), tensorEvaluationMarkdown(tensor));
writeStreamCard(STREAM_CARD, stream);
log(`wrote ${join(RESULTS, 'detectors.md')}, the model cards`);
