/**
 * `npm run eval:prompt-injection:nested`: a nested evaluation of the procedure that chose
 * the shipped package's recipe (issue 5). Its held-out figure (1.3.0: precision 0.9675 at
 * recall 0.90) was the best of many runs scored on the same four source folds it
 * reports, so it is optimistic, and there is no untouched data left to test on. Here the
 * choice is made again inside each outer fold, blind to it:
 *
 * - a grid of candidates: the recipes among which 1.3.0 and 1.4.0 were chosen (1.2.0's,
 *   1.3.0's and neighbours, 1.3.0's with 300 or 800 persona jailbreaks), each at
 *   several seeds;
 * - for each source fold k: leave-one-fold-out over the other three folds (each inner
 *   model trained on two folds' public rows and the data our generators build around
 *   them), the inner out-of-fold scores pooled per candidate; the candidate with the
 *   best precision at recall 0.90 is selected (ties: the first in the grid), with the
 *   threshold that gives recall 0.90 on those inner scores;
 * - the selected candidate, trained on the three folds as train.ts trains fold k (same
 *   seed, same rows: so its scores are train.ts's), scores fold k.
 *
 * Every candidate is trained for every outer fold anyway (to select among them later),
 * so the non-nested figures of each candidate, as train.ts reports a recipe, come free.
 * Writes models/prompt-injection/nested-eval.json and the model card's section on it
 * (between its markers; nested-report.ts renders it). Deterministic for the seeds.
 * About 16 trainings per candidate (4 outer folds × (3 inner + 1)), each a few seconds.
 * With `-- --card`: no training, only the card's section re-rendered from the JSON.
 *
 * Environment: NESTED_SEEDS (default 1,2,3) and NESTED_RECIPES (indices into RECIPES;
 * default all) for a quicker run, NESTED_DUMP=<file> (also write every score: each
 * candidate's outer, inner and security-talk scores with the folds' labels, for analyses
 * that need no training, e.g. of ensembles of candidates), PALISADE_PROMPTS_DATA,
 * and train.ts's experiment variables (recorded in the JSON; the defaults are the shipped package's).
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { auroc, confusionAt, Rng } from '../../src/ml/index.js';
import { HashedNgramsFeaturizer, type HashedNgramsItem } from '../../src/detect/featurizers/hashed-ngrams.js';
import { featurizeText } from '../lib/bag-model.js';
import { findPublicData, loadPublic, SOURCE_FOLDS } from './data.js';
import { hardBenign, type Row } from './synth.js';
import { FEATURIZER_PARAMS, FEATURIZER_VERSION, figures, PACKAGE_VERSION, RECIPE_1_2_0, RECIPE_1_3_0, RECIPE_1_4_0, RECIPE_SHIPPED, sameKnobs, scoreRows, trainOnRows, type Featurize, type Recipe } from './recipe.js';
import { addCounts, MARK_BEGIN, MARK_END, nestedEvalSection, rates, round, type Candidate, type Counts, type NestedEval, type NonNested, type OuterFold } from './nested-report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = join(ROOT, 'models/prompt-injection');
const COMMAND = 'npm run eval:prompt-injection:nested';

/**
 * The recipes of the 1.2.0 -> 1.3.0 selection (the model card's 1.3.0 table): 1.2.0's,
 * each of 1.3.0's changes alone or left out, 1.3.0's, and its truncation neighbours;
 * then the 1.3.0 -> 1.4.0 one: 1.3.0's with the two numbers of persona jailbreaks tried.
 */
const knobsOf = ({ seed: _seed, ...knobs }: Recipe): Omit<Recipe, 'seed'> => knobs;
const RECIPES: (Omit<Recipe, 'seed'> & { package?: string })[] = [
  { ...knobsOf(RECIPE_1_2_0), package: '1.2.0' },
  { hidden: 64, truncate: 0, notices: 0, jailbreaks: 0 },
  { hidden: 32, truncate: 0.15, notices: 100, jailbreaks: 0 },
  { hidden: 64, truncate: 0.1, notices: 100, jailbreaks: 0 },
  { hidden: 64, truncate: 0.15, notices: 0, jailbreaks: 0 },
  { ...knobsOf(RECIPE_1_3_0), package: '1.3.0' },
  { hidden: 64, truncate: 0.2, notices: 100, jailbreaks: 0 },
  { ...knobsOf(RECIPE_1_4_0), package: '1.4.0' },
  { ...knobsOf(RECIPE_1_4_0), jailbreaks: 800 },
];
const SEEDS = (process.env.NESTED_SEEDS ?? '1,2,3').split(',').map(Number);
/** Indices into RECIPES, for a quicker run (default: all). */
const RECIPE_IDX = process.env.NESTED_RECIPES ? process.env.NESTED_RECIPES.split(',').map(Number) : [...RECIPES.keys()];
const GOAL = { recall: 0.9, minPrecision: 0.95, maxSecurityTalkFpr: 0.01 };
/** Variables that change what recipe.ts trains (recorded when set). */
const EXPERIMENT_VARS = ['CHAR_NGRAMS', 'WORD_NGRAMS', 'WINDOW', 'OVERLAP', 'POOLING', 'DIM', 'EPOCHS', 'EMB_LR', 'N_SHORT', 'N_ROLE', 'N_TALK', 'N_PAD', 'PUBLIC_W', 'ROUND1', 'ROUND2B', 'ROUND3', 'N_QUOTE', 'N_PROSE', 'N_DEFCODE', 'N_TRACE', 'PAD_W', 'N_EXTRACT', 'ROUND4', 'N_EVQ', 'N_MAIL', 'N_TASK', 'N_PERSONA', 'ATTACK_SHARE', 'SOUP', 'NESTED_SEEDS', 'NESTED_RECIPES'];

const log = (msg: string) => process.stderr.write(`${msg}\n`);
/** h<hidden>-t<truncate>-n<notices>[-j<jailbreaks>]/s<seed> (no -j0: the names of the first grid stay). */
const nameOf = (r: Recipe) => `h${r.hidden}-t${r.truncate}-n${r.notices}${r.jailbreaks ? `-j${r.jailbreaks}` : ''}/s${r.seed}`;
/** Thresholds are floored to 4 decimals, as train.ts floors the shipped one (so recall stays >= 0.90). */
const floor4 = (t: number) => Math.floor(t * 10000) / 10000;
/** The seed of the inner model of outer fold k trained without fold m: apart from train.ts's (seed + k, + 100, + 200) and from other candidate seeds'. */
const innerSeed = (seed: number, k: number, m: number) => 1000 * seed + 10 * (k + 1) + m;

function countsAt(scores: readonly number[], labels: readonly number[], threshold: number): Counts {
  const c = confusionAt(scores, labels, threshold);
  return { tp: c.tp, fp: c.fp, tn: c.tn, fn: c.fn };
}

/** The goal's operating point as train.ts picks it: the highest threshold keeping recall >= 0.90, floored; and the counts there. */
function operatingPoint(scores: readonly number[], labels: readonly number[]): { threshold: number; counts: Counts; precision: number; auroc: number } {
  const threshold = floor4(figures(scores, labels, 0.5).thresholdAtRecall90Raw);
  const counts = countsAt(scores, labels, threshold);
  return { threshold, counts, precision: counts.tp / Math.max(counts.tp + counts.fp, 1), auroc: round(auroc(scores, labels)) };
}

/** Index of the highest value; the first on ties. */
const argmax = (xs: readonly number[]) => xs.reduce((best, x, i) => (x > xs[best] ? i : best), 0);

async function main(): Promise<void> {
  const t0 = performance.now();
  const dataFile = findPublicData(ROOT);
  const publicRows = loadPublic(dataFile);
  const f = new HashedNgramsFeaturizer(FEATURIZER_PARAMS, FEATURIZER_VERSION);
  const grid: Candidate[] = RECIPE_IDX.map((i) => RECIPES[i]).flatMap(({ package: pkg, ...r }) => SEEDS.map((seed) => ({ name: nameOf({ ...r, seed }), ...(pkg ? { package: pkg } : {}), recipe: { ...r, seed } })));
  // The shipped package's candidate (its manifest is read when the results are written,
  // so a training of the package may run alongside this).
  const shipped = grid.find((c) => c.package === PACKAGE_VERSION && sameKnobs(c.recipe, RECIPE_SHIPPED) && c.recipe.seed === RECIPE_SHIPPED.seed);
  if (!shipped) throw new Error(`the grid has no candidate for package ${PACKAGE_VERSION}'s recipe ${JSON.stringify(RECIPE_SHIPPED)}`);
  log(`${grid.length} candidates, ${SEEDS.length} seeds, ${publicRows.length} public rows from ${dataFile}`);

  // Featurizing is about a fifth of a training: public rows and the security talk are
  // featurized once, our own rows once per training set (shared by the recipes of a seed:
  // they differ only in the notices, drawn last).
  const kept = new Map<string, HashedNgramsItem[]>();
  let perTrainingSet = new Map<string, HashedNgramsItem[]>();
  const featurize: Featurize = (text) => {
    let w = kept.get(text) ?? perTrainingSet.get(text);
    if (!w) perTrainingSet.set(text, (w = featurizeText(f, [text])));
    return w;
  };
  const keep = (rows: readonly Row[]) => rows.forEach((r) => kept.has(r.text) || kept.set(r.text, featurizeText(f, [r.text])));
  keep(publicRows);
  // The benign security-talk set of train.ts for each seed (template family no model trains on).
  const securityTalk = new Map(SEEDS.map((s) => [s, hardBenign(new Rng(s + 1000), 400, 'eval')]));
  for (const rows of securityTalk.values()) keep(rows);

  const foldRows = SOURCE_FOLDS.map((held) => publicRows.filter((r) => held.includes(r.source)));
  const foldLabels = foldRows.map((rows) => rows.map((r) => r.label));
  const without = (folds: number[]) => publicRows.filter((r) => !folds.some((k) => SOURCE_FOLDS[k].includes(r.source)));
  // Scores by candidate and outer fold: the outer model's on its fold and on the security
  // talk, and the inner models' on the inner folds (in fold order).
  const outerScores = grid.map(() => [] as number[][]);
  const talkScores = grid.map(() => [] as number[][]);
  const innerScores = grid.map(() => SOURCE_FOLDS.map(() => [] as number[]));

  const total = SOURCE_FOLDS.length * SOURCE_FOLDS.length * grid.length;
  let done = 0;
  for (const k of SOURCE_FOLDS.keys()) {
    const innerFolds = [...SOURCE_FOLDS.keys()].filter((m) => m !== k);
    for (const seed of SEEDS) {
      // The inner trainings, then (m === k) the outer one.
      for (const m of [...innerFolds, k]) {
        perTrainingSet = new Map();
        const train = without(m === k ? [k] : [k, m]);
        const trainingSeed = m === k ? seed + k : innerSeed(seed, k, m);
        for (const [ci, c] of grid.entries()) {
          if (c.recipe.seed !== seed) continue;
          const model = trainOnRows(f, c.recipe, train, trainingSeed, featurize);
          if (m === k) {
            outerScores[ci][k] = scoreRows(f, model, foldRows[k], featurize);
            talkScores[ci][k] = scoreRows(f, model, securityTalk.get(seed)!, featurize);
          } else innerScores[ci][k].push(...scoreRows(f, model, foldRows[m], featurize));
          done++;
          const s = (performance.now() - t0) / 1000;
          log(`outer ${k + 1} ${m === k ? 'outer model' : `inner without ${m + 1}`} ${c.name}: ${done}/${total}, ${Math.round(s)} s, about ${Math.round(((total - done) * s) / done)} s left`);
        }
      }
    }
  }

  if (process.env.NESTED_DUMP) {
    writeFileSync(process.env.NESTED_DUMP, JSON.stringify({ candidates: grid.map((c) => c.name), foldLabels, outerScores, innerScores, talkScores }));
    log(`wrote every score to ${process.env.NESTED_DUMP}`);
  }

  // The nested selection.
  const outer: OuterFold[] = [];
  const selectedIdx: number[] = [];
  for (const k of SOURCE_FOLDS.keys()) {
    const labels = [...SOURCE_FOLDS.keys()].filter((m) => m !== k).flatMap((m) => foldLabels[m]);
    const points = grid.map((_, ci) => operatingPoint(innerScores[ci][k], labels));
    // On the recorded (rounded) precisions, so that the JSON alone reproduces the choice.
    const sel = argmax(points.map((p) => round(p.precision)));
    selectedIdx.push(sel);
    const threshold = points[sel].threshold;
    const talk = talkScores[sel][k];
    outer.push({
      fold: k,
      held: [...SOURCE_FOLDS[k]],
      n: foldRows[k].length,
      positives: foldLabels[k].filter((l) => l === 1).length,
      inner: grid.map((c, ci) => ({ candidate: c.name, precisionAtRecall90: round(points[ci].precision), threshold: points[ci].threshold, auroc: points[ci].auroc, counts: points[ci].counts })),
      selected: grid[sel].name,
      threshold,
      counts: countsAt(outerScores[sel][k], foldLabels[k], threshold),
      securityTalk: { n: talk.length, flagged: talk.filter((s) => s >= threshold).length },
    });
    log(`outer fold ${k + 1}: selected ${grid[sel].name} (inner precision at recall 0.90 ${round(points[sel].precision)}, threshold ${threshold}); at it: ${JSON.stringify(outer[k].counts)}`);
  }
  const pooledScores = SOURCE_FOLDS.map((_, k) => outerScores[selectedIdx[k]][k]);
  const allLabels = foldLabels.flat();
  const pooled = operatingPoint(pooledScores.flat(), allLabels);
  const atInner = addCounts(outer.map((o) => o.counts));
  const talkFpr = outer.map((o) => round(o.securityTalk.flagged / o.securityTalk.n));

  // Selection by a recipe's mean inner precision over the seeds.
  const recipeKeys = [...new Set(grid.map((c) => c.name.split('/')[0]))];
  const meanSelected = SOURCE_FOLDS.map((_, k) => {
    const means = recipeKeys.map((rk) => {
      const ps = outer[k].inner.filter((x) => x.candidate.split('/')[0] === rk).map((x) => x.precisionAtRecall90);
      return ps.reduce((a, b) => a + b, 0) / ps.length;
    });
    return recipeKeys[argmax(means)];
  });
  const perSeed = SEEDS.map((seed) => {
    const idx = meanSelected.map((rk) => grid.findIndex((c) => c.name === `${rk}/s${seed}`));
    const p = operatingPoint(idx.flatMap((ci, k) => outerScores[ci][k]), allLabels);
    const at = addCounts(idx.map((ci, k) => countsAt(outerScores[ci][k], foldLabels[k], outer[k].inner[ci].threshold)));
    const talkMax = Math.max(...idx.map((ci, k) => talkScores[ci][k].filter((s) => s >= outer[k].inner[ci].threshold).length / talkScores[ci][k].length));
    const r = rates(at);
    return { seed, precisionAtRecall90: round(p.precision), auroc: p.auroc, atInnerThresholds: { precision: r.precision, recall: r.recall }, securityTalkFprMax: round(talkMax) };
  });

  // Each candidate as train.ts reports a recipe.
  const nonNested: NonNested[] = grid.map((c, ci) => {
    const p = operatingPoint(outerScores[ci].flat(), allLabels);
    return {
      candidate: c.name,
      precisionAtRecall90: round(p.precision),
      threshold: p.threshold,
      auroc: p.auroc,
      counts: p.counts,
      perFoldCounts: SOURCE_FOLDS.map((_, k) => countsAt(outerScores[ci][k], foldLabels[k], p.threshold)),
      securityTalkFlagged: talkScores[ci].map((t) => t.filter((s) => s >= p.threshold).length),
    };
  });

  const manifest = JSON.parse(readFileSync(join(OUT, 'manifest.json'), 'utf8'));
  if (manifest.version !== `${PACKAGE_VERSION}+seed${shipped.recipe.seed}`) throw new Error(`models/prompt-injection holds ${manifest.version}, not ${PACKAGE_VERSION}+seed${shipped.recipe.seed}: run npm run train:prompt-injection first`);
  const result: NestedEval = {
    command: COMMAND,
    date: new Date().toISOString(),
    runSeconds: Math.round((performance.now() - t0) / 1000),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, platform: platform(), loadAverageAtEnd: loadavg().map((x) => round(x)) },
    package: {
      name: manifest.name,
      version: manifest.version,
      modelSha256: manifest.model.sha256,
      precisionAtRecall90: manifest.metrics.sourceHoldout.pooled.precisionAtRecall90,
      auroc: manifest.metrics.sourceHoldout.pooled.auroc,
      candidate: shipped.name,
    },
    data: {
      file: dataFile.includes('shared') ? 'shared/data/prompts/train.jsonl' : dataFile,
      sha256: createHash('sha256').update(readFileSync(dataFile)).digest('hex'),
      publicRows: publicRows.length,
      attacks: allLabels.filter((l) => l === 1).length,
    },
    environment: Object.fromEntries(EXPERIMENT_VARS.filter((v) => process.env[v] !== undefined).map((v) => [v, process.env[v]!])),
    goal: GOAL,
    folds: SOURCE_FOLDS.map((x) => [...x]),
    seeds: {
      outer: 'candidate seed + k for outer fold k (train.ts\'s fold seeds: the outer models are train.ts\'s fold models)',
      inner: '1000 × candidate seed + 10 × (k + 1) + m for the inner model of outer fold k trained without fold m',
      securityTalk: 'candidate seed + 1000, as train.ts draws it',
    },
    securityTalk: { family: 'eval templates of hardBenign (never trained on)', n: securityTalk.get(SEEDS[0])!.length },
    selection: 'per outer fold, the candidate with the best precision at recall 0.90 on its pooled inner out-of-fold scores (ties: first in the grid), at the highest threshold keeping inner recall >= 0.90, floored to 4 decimals',
    grid,
    outer,
    nested: {
      pooled: {
        n: allLabels.length,
        positives: allLabels.filter((l) => l === 1).length,
        auroc: pooled.auroc,
        precisionAtRecall90: round(pooled.precision),
        threshold: pooled.threshold,
        counts: pooled.counts,
        perFoldCounts: pooledScores.map((s, k) => countsAt(s, foldLabels[k], pooled.threshold)),
      },
      atInnerThresholds: { counts: atInner, ...rates(atInner) },
      securityTalkFpr: { perFold: talkFpr, max: Math.max(...talkFpr) },
    },
    recipeMeanRule: { selected: meanSelected, perSeed },
    nonNested,
  };
  writeFileSync(join(OUT, 'nested-eval.json'), `${JSON.stringify(result, null, 2)}\n`);
  updateModelCard(join(OUT, 'README.md'), nestedEvalSection(result));
  log(`nested: pooled precision at recall 0.90 ${result.nested.pooled.precisionAtRecall90}, AUROC ${pooled.auroc}; at the inner thresholds ${JSON.stringify(result.nested.atInnerThresholds)}; security talk ${talkFpr.join(', ')}`);
  log(`non-nested: ${nonNested.map((c) => `${c.candidate} ${c.precisionAtRecall90}`).join(', ')}`);
  log(`wrote ${join(OUT, 'nested-eval.json')} and its section of the model card in ${result.runSeconds} s`);
}

/** Replaces the card's nested-evaluation section, or puts it at the end of the Evaluation section. */
function updateModelCard(file: string, section: string): void {
  const card = readFileSync(file, 'utf8');
  const begin = card.indexOf(MARK_BEGIN);
  const end = card.indexOf(MARK_END);
  let next: string;
  if (begin >= 0 && end > begin) next = card.slice(0, begin) + section + card.slice(end + MARK_END.length);
  else {
    const at = card.indexOf('\n## Latency');
    if (at < 0) throw new Error(`${file} has no "## Latency" section to put the nested evaluation before`);
    next = `${card.slice(0, at)}\n${section}\n${card.slice(at)}`;
  }
  writeFileSync(file, next);
}

if (process.argv.includes('--card')) {
  // Re-renders the card's section from the committed results (after the card was regenerated by train.ts or the section's wording changed).
  updateModelCard(join(OUT, 'README.md'), nestedEvalSection(JSON.parse(readFileSync(join(OUT, 'nested-eval.json'), 'utf8')) as NestedEval));
} else await main();
