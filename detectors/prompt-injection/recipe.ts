/**
 * How the prompt-injection detector is trained, as values: a `Recipe` (the knobs that
 * the 1.2.0 -> 1.3.0 -> 1.4.0 selections varied, and the seed), `trainOnRows` (our own data built
 * around given public rows, then a model), `scoreRows`, and `figures` (precision at
 * recall 0.90 and the rest). train.ts builds the shipped package with them;
 * nested-eval.ts evaluates the choice among recipes. Deterministic for a seed.
 *
 * The other settings stay module-level, read from the environment for experiments (see
 * train.ts's header; the defaults are the shipped package's).
 */
import { auroc, confusionAt, Rng } from '../../src/ml/index.js';
import type { HashedNgramsFeaturizer, HashedNgramsItem, HashedNgramsParams } from '../../src/detect/featurizers/hashed-ngrams.js';
import { BagModel, featurizeText, type FeaturizedExample } from '../lib/bag-model.js';
import { BagEnsemble } from '../lib/bag-ensemble.js';
import {
  benignEncoded,
  gcgSuffixAttacks,
  hardBenign,
  indirectInjections,
  longBenign,
  moreBenignTalk,
  followUps,
  assistantQuestions,
  benignTables,
  benignDocstrings,
  codeWithTraceback,
  defensiveCode,
  quotedAttackDiscussion,
  securityProse,
  extractionQuestions,
  everydayQuestions,
  everydayEmails,
  assistantTasks,
  personaPrompts,
  personaJailbreaks,
  workplaceNotices,
  obfuscatedVariants,
  paddedAttacks,
  rolePlayBenign,
  shortAttacks,
  shortBenign,
  type Row,
} from './synth.js';

/** The knobs chosen between packages 1.2.0 and 1.3.0 (issue 5), and the seed. */
export interface Recipe {
  /** Hidden units of the MLP head (1.2.0: 32, 1.3.0: 64). */
  hidden: number;
  /** Share of the public attack rows, the lowest-scoring after the first epoch, left out of later epochs (label noise; 1.2.0: 0, 1.3.0: 0.15). */
  truncate: number;
  /** Workplace notices among our benign rows (1.2.0: 0, 1.3.0: 100). */
  notices: number;
  /** Long persona jailbreaks of our own among our attack rows (synth.ts's personaJailbreaks; 1.3.0: 0, 1.4.0: 300). */
  jailbreaks: number;
  /** Base seed: train.ts trains fold k with seed + k, the random split with seed + 100, the shipped model with seed + 200. */
  seed: number;
}

/** The recipe of package 1.4.0+seed1: 1.3.0's with 300 long persona jailbreaks. */
export const RECIPE_1_4_0: Readonly<Recipe> = { hidden: 64, truncate: 0.15, notices: 100, jailbreaks: 300, seed: 1 };
/** The recipe of package 1.3.0+seed1. */
export const RECIPE_1_3_0: Readonly<Recipe> = { hidden: 64, truncate: 0.15, notices: 100, jailbreaks: 0, seed: 1 };
/** The recipe of package 1.2.0 (seed 1). */
export const RECIPE_1_2_0: Readonly<Recipe> = { hidden: 32, truncate: 0, notices: 0, jailbreaks: 0, seed: 1 };

/** The version train.ts writes (with `+seed<n>`), and its recipe: nested-eval.ts's candidate of that package must be this. */
export const PACKAGE_VERSION = '1.4.0';
export const RECIPE_SHIPPED = RECIPE_1_4_0;

/** Whether two recipes train the same way, seed aside. */
export function sameKnobs(a: Recipe, b: Recipe): boolean {
  return a.hidden === b.hidden && a.truncate === b.truncate && a.notices === b.notices && a.jailbreaks === b.jailbreaks;
}

/** The shipped recipe with the experiment overrides HIDDEN, TRUNCATE, N_NOTICE, N_JB and SEED. */
export function recipeFromEnv(env: NodeJS.ProcessEnv = process.env): Recipe {
  return {
    hidden: Number(env.HIDDEN ?? RECIPE_SHIPPED.hidden),
    truncate: Number(env.TRUNCATE ?? RECIPE_SHIPPED.truncate),
    notices: Number(env.N_NOTICE ?? RECIPE_SHIPPED.notices),
    jailbreaks: Number(env.N_JB ?? RECIPE_SHIPPED.jailbreaks),
    seed: Number(env.SEED ?? RECIPE_SHIPPED.seed),
  };
}

const envList = (v: string | undefined, d: number[]) => (v ? v.split(',').map(Number) : d);
export const FEATURIZER_PARAMS: HashedNgramsParams = {
  buckets: 1 << 16,
  charNgrams: envList(process.env.CHAR_NGRAMS, [4]),
  wordNgrams: envList(process.env.WORD_NGRAMS, [1, 2]),
  window: Number(process.env.WINDOW ?? 512),
  overlap: Number(process.env.OVERLAP ?? 128),
  seed: 0x5a17,
};
/** The featurizer's version: v2 is v1 with the normalization of issue 9. */
export const FEATURIZER_VERSION = 2;
/** The model's shape but for the head's width (the recipe's). */
const POOLING = (process.env.POOLING ?? 'mean') as 'mean' | 'mean+max';
/** Embedding width (16 in every package so far; DIM for experiments). */
const DIM = Number(process.env.DIM ?? 16);
export const modelShape = (recipe: Recipe) => ({ dim: DIM, hidden: recipe.hidden, pooling: POOLING });
export const TRAIN = { epochs: Number(process.env.EPOCHS ?? 2), batchSize: 32, lr: 1e-3, embeddingLr: Number(process.env.EMB_LR ?? 5e-3) };

const log = (msg: string) => process.stderr.write(`${msg}\n`);

/** Our own data, built around the public rows used for training (obfuscated variants come only from their attacks). */
export function synthetic(trainRows: readonly Row[], seed: number, recipe: Recipe): Row[] {
  const rng = new Rng(seed);
  const attacks = trainRows.filter((r) => r.label === 1).map((r) => r.text);
  const benign = trainRows.filter((r) => r.label === 0).map((r) => r.text);
  const short = shortAttacks(rng, 500);
  const rows = [
    ...short,
    ...indirectInjections(rng, 250),
    ...gcgSuffixAttacks(rng, 250),
    ...obfuscatedVariants(rng, [...attacks, ...short.map((r) => r.text)], 600),
    ...hardBenign(rng, 1500, 'train'),
    ...longBenign(rng, 300),
    ...benignEncoded(rng, 200),
  ];
  if (process.env.ROUND1 === '1') return rows;
  // Round 2 (issue 5 quality): very short texts, role-play requests, more talk about
  // instructions and security, and attacks padded with benign training rows.
  return [
    ...rows,
    ...shortBenign(rng, Number(process.env.N_SHORT ?? 600)),
    ...rolePlayBenign(rng, Number(process.env.N_ROLE ?? 600)),
    ...moreBenignTalk(rng, Number(process.env.N_TALK ?? 400)),
    ...paddedAttacks(rng, benign, [...short.map((r) => r.text), ...attacks.filter((a) => a.length < 400)], Number(process.env.N_PAD ?? 450)),
    ...(process.env.ROUND2B === '0'
      ? []
      : [...followUps(rng, 300), ...assistantQuestions(rng, 300), ...benignTables(rng, 150), ...benignDocstrings(rng, 150)]),
    // Round 3 (issue 5, security talk): requests about quoted attacks, security prose,
    // defensive code, and Python code with tracebacks.
    ...(process.env.ROUND3 === '0'
      ? []
      : [
          ...quotedAttackDiscussion(rng, Number(process.env.N_QUOTE ?? 1200)),
          ...securityProse(rng, Number(process.env.N_PROSE ?? 600)),
          ...defensiveCode(rng, Number(process.env.N_DEFCODE ?? 600)),
          ...codeWithTraceback(rng, Number(process.env.N_TRACE ?? 300)),
          ...extractionQuestions(rng, Number(process.env.N_EXTRACT ?? 0)),
          ...workplaceNotices(rng, recipe.notices),
        ]),
    // Round 5 (issue 5, package 1.4.0): long persona jailbreaks (0 in 1.3.0, 300 in 1.4.0).
    ...personaJailbreaks(rng, recipe.jailbreaks),
    // Round 4 (issue 5, precision): everyday benign content (plain questions and search
    // queries, emails with a question, assistant tasks with constraints, persona prompts).
    ...(process.env.ROUND4 !== '1'
      ? []
      : [
          ...everydayQuestions(rng, Number(process.env.N_EVQ ?? 600)),
          ...everydayEmails(rng, Number(process.env.N_MAIL ?? 300)),
          ...assistantTasks(rng, Number(process.env.N_TASK ?? 400)),
          ...personaPrompts(rng, Number(process.env.N_PERSONA ?? 400)),
        ]),
  ];
}

/** Weight of a public row relative to one of our own, within its class (our rows are template-made). */
const PUBLIC_WEIGHT = Number(process.env.PUBLIC_W ?? 3);
/** Share of the total loss weight that attacks carry (benign rows carry the rest). */
const ATTACK_SHARE = Number(process.env.ATTACK_SHARE ?? 1 / 3);
/** Weight of a padded attack (and of its padding alone, the benign twin) relative to our other rows. */
const PADDED_WEIGHT = Number(process.env.PAD_W ?? 1);

/** A text's windows; nested-eval.ts passes a cached one (featurizing is a large share of a training's time). */
export type Featurize = (text: string) => HashedNgramsItem[];

function featurizeAll(featurize: Featurize, rows: readonly Row[]): FeaturizedExample[] {
  // Benign rows carry twice the total weight of attacks: a false positive blocks a real
  // user, and the goal is precision at a high recall. Within a class, a public row
  // weighs PUBLIC_WEIGHT times one of ours, so that adding template rows does not dilute
  // the real ones.
  const rel = (r: Row) => (!r.source.startsWith('synthetic_') ? PUBLIC_WEIGHT : r.source.startsWith('synthetic_padded_') ? PADDED_WEIGHT : 1);
  let pos = 0;
  let neg = 0;
  for (const r of rows) {
    if (r.label === 1) pos += rel(r);
    else neg += rel(r);
  }
  const wPos = (ATTACK_SHARE * rows.length) / Math.max(pos, 1);
  const wNeg = ((1 - ATTACK_SHARE) * rows.length) / Math.max(neg, 1);
  return rows.map((r) => ({ windows: featurize(r.text), label: r.label, weight: rel(r) * (r.label ? wPos : wNeg) }));
}

/** Models trained from the same initial weights on different data orders, whose weights are averaged into one (a "model soup": one model's latency). */
const SOUP = Number(process.env.SOUP ?? 1);

/** A model trained on exactly `rows` (public and ours). */
export function trainModel(f: HashedNgramsFeaturizer, rows: readonly Row[], seed: number, recipe: Recipe, featurize: Featurize = (t) => featurizeText(f, [t])): BagModel {
  const shape = { buckets: FEATURIZER_PARAMS.buckets, ...modelShape(recipe), seed };
  const model = new BagModel(shape);
  const t = performance.now();
  const data = featurizeAll(featurize, rows);
  const truncation = () => (recipe.truncate > 0 ? truncateNoisyAttacks(rows, data, recipe.truncate) : undefined);
  model.train(data, { ...TRAIN, seed: seed + 7, log: (m) => log(`  ${m}`), beforeEpoch: truncation() });
  for (let j = 1; j < SOUP; j++) {
    const other = new BagModel(shape);
    other.train(data, { ...TRAIN, seed: seed + 7 + 1000 * j, log: (m) => log(`  soup ${j}: ${m}`), beforeEpoch: truncation() });
    addInto(model, other);
  }
  if (SOUP > 1) scaleBy(model, 1 / SOUP);
  log(`  trained on ${rows.length} rows in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return model;
}

/** A model trained on public rows and the recipe's own data built around them, as every evaluation fold and the shipped model are. */
export function trainOnRows(f: HashedNgramsFeaturizer, recipe: Recipe, publicRows: readonly Row[], seed: number, featurize?: Featurize): BagModel {
  return trainModel(f, [...publicRows, ...synthetic(publicRows, seed, recipe)], seed, recipe, featurize);
}

/**
 * Members of a seed ensemble (MEMBERS, default 1: one model). Member i trains with seed
 * + i on its own draw of our data, as the seed candidates of the nested evaluation do, so
 * fold k's ensemble with seed 1 is the nested evaluation's s1, s2 and s3 of fold k.
 */
export const MEMBERS = Number(process.env.MEMBERS ?? 1);

/** trainOnRows, or with MEMBERS > 1 the ensemble of MEMBERS such models (seeds seed .. seed + MEMBERS - 1). */
export function trainScorerOnRows(f: HashedNgramsFeaturizer, recipe: Recipe, publicRows: readonly Row[], seed: number, featurize?: Featurize): BagModel | BagEnsemble {
  if (MEMBERS === 1) return trainOnRows(f, recipe, publicRows, seed, featurize);
  return new BagEnsemble(Array.from({ length: MEMBERS }, (_, i) => trainOnRows(f, recipe, publicRows, seed + i, featurize)));
}

/** Leaves the lowest-scoring `share` of the public attack rows out of every epoch after the first (label noise: some in-the-wild "jailbreaks" are not attacks). */
function truncateNoisyAttacks(rows: readonly Row[], data: FeaturizedExample[], share: number): (epoch: number, model: BagModel) => void {
  const idx = rows.flatMap((r, i) => (r.label === 1 && !r.source.startsWith('synthetic_') ? [i] : []));
  const original = idx.map((i) => data[i].weight);
  return (epoch, model) => {
    idx.forEach((i, k) => (data[i].weight = original[k]));
    if (epoch === 0) return;
    const scored = idx.map((i) => [model.score(data[i].windows), i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (const [, i] of scored.slice(0, Math.floor(share * idx.length))) data[i].weight = 0;
  };
}

function addInto(a: BagModel, b: BagModel): void {
  for (let i = 0; i < a.emb.length; i++) a.emb[i] += b.emb[i];
  a.mlp.weights.forEach((w, k) => w.forEach((_, i) => (w[i] += b.mlp.weights[k][i])));
  a.mlp.biases.forEach((w, k) => w.forEach((_, i) => (w[i] += b.mlp.biases[k][i])));
}

function scaleBy(a: BagModel, s: number): void {
  for (let i = 0; i < a.emb.length; i++) a.emb[i] *= s;
  for (const w of [...a.mlp.weights, ...a.mlp.biases]) for (let i = 0; i < w.length; i++) w[i] *= s;
}

export function scoreRows(f: HashedNgramsFeaturizer, model: Pick<BagModel, 'score'>, rows: readonly Row[], featurize: Featurize = (t) => featurizeText(f, [t])): number[] {
  return rows.map((r) => model.score(featurize(r.text)));
}

export interface Figures {
  n: number;
  positives: number;
  threshold: number;
  precision: number;
  recall: number;
  f1: number;
  fpr: number;
  auroc: number;
  /** Best precision among thresholds that keep recall >= 0.90 (the goal's operating point). */
  precisionAtRecall90: number;
  thresholdAtRecall90: number;
  /** Unrounded, for choosing the operating threshold. */
  thresholdAtRecall90Raw: number;
}

export function figures(scores: readonly number[], labels: readonly number[], threshold: number): Figures {
  const c = confusionAt(scores, labels, threshold);
  let best = { p: 0, t: 1 };
  const sorted = [...new Set(scores)].sort((a, b) => b - a);
  for (const t of sorted) {
    const ct = confusionAt(scores, labels, t);
    if (ct.recall >= 0.9) {
      if (ct.precision > best.p) best = { p: ct.precision, t };
      break; // the highest threshold reaching the recall has the best precision among them, almost always
    }
  }
  return {
    n: scores.length,
    positives: labels.filter((l) => l === 1).length,
    threshold,
    precision: round(c.precision),
    recall: round(c.recall),
    f1: round(c.f1),
    fpr: round(c.fpr),
    auroc: round(auroc(scores, labels)),
    precisionAtRecall90: round(best.p),
    thresholdAtRecall90: round(best.t),
    thresholdAtRecall90Raw: best.t,
  };
}

export function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}
