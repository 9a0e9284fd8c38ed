/**
 * What the nested evaluation says about ensembles of seeds, without training: reads the
 * scores `npm run eval:prompt-injection:nested` writes with NESTED_DUMP=<file>, adds for
 * each recipe a candidate that averages its seeds' scores (the same rows scored by the
 * seeds' models, inner and outer), and repeats the nested selection over singles and
 * ensembles. An exploration for issue 5 (would shipping an average of seeds meet the
 * goal, judged as honestly as the singles were?), not a package: nothing is written.
 *
 * Usage: NESTED_DUMP=/tmp/nested-dump.json npm run eval:prompt-injection:nested   (about 30 min)
 *        node --import tsx detectors/prompt-injection/nested-ensembles.ts /tmp/nested-dump.json
 *        (or LABEL=FILE ...: several dumps of the same folds offered together)
 *
 * The security-talk set differs by seed (each seed's models scored their own draw), so an
 * ensemble has no security-talk figure here.
 */
import { readFileSync } from 'node:fs';
import { auroc, confusionAt } from '../../src/ml/index.js';
import { figures } from './recipe.js';
import { addCounts, rates, round, type Counts } from './nested-report.js';

interface Dump {
  candidates: string[];
  foldLabels: number[][];
  outerScores: number[][][];
  innerScores: number[][][];
  talkScores: number[][][];
}
/**
 * One dump, or several of the same folds (e.g. one run per experiment variable), given as
 * FILE or LABEL=FILE: the candidates of all of them are offered together, each name
 * prefixed with its label.
 */
function readDumps(args: readonly string[]): Dump {
  const dumps = (args.length ? args : ['/tmp/nested-dump.json']).map((a) => {
    const eq = a.indexOf('=');
    const [label, file] = eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : ['', a];
    const d = JSON.parse(readFileSync(file, 'utf8')) as Dump;
    return { ...d, candidates: d.candidates.map((c) => (label ? `${label}:${c}` : c)) };
  });
  const [first] = dumps;
  for (const d of dumps) if (JSON.stringify(d.foldLabels) !== JSON.stringify(first.foldLabels)) throw new Error('the dumps are not of the same folds');
  return {
    candidates: dumps.flatMap((d) => d.candidates),
    foldLabels: first.foldLabels,
    outerScores: dumps.flatMap((d) => d.outerScores),
    innerScores: dumps.flatMap((d) => d.innerScores),
    talkScores: dumps.flatMap((d) => d.talkScores),
  };
}
const dump = readDumps(process.argv.slice(2));
const K = dump.foldLabels.length;
const floor4 = (t: number) => Math.floor(t * 10000) / 10000;
const countsAt = (s: readonly number[], l: readonly number[], t: number): Counts => {
  const c = confusionAt(s, l, t);
  return { tp: c.tp, fp: c.fp, tn: c.tn, fn: c.fn };
};
function point(scores: readonly number[], labels: readonly number[]) {
  const threshold = floor4(figures(scores, labels, 0.5).thresholdAtRecall90Raw);
  const c = countsAt(scores, labels, threshold);
  return { threshold, precision: c.tp / Math.max(c.tp + c.fp, 1), auroc: auroc(scores, labels) };
}
const mean = (arrays: number[][]) => arrays[0].map((_, i) => arrays.reduce((a, x) => a + x[i], 0) / arrays.length);

interface Cand {
  name: string;
  outer: number[][];
  inner: number[][];
}
const singles: Cand[] = dump.candidates.map((name, ci) => ({ name, outer: dump.outerScores[ci], inner: dump.innerScores[ci] }));
const recipes = [...new Set(dump.candidates.map((n) => n.split('/')[0]))];
const ensembles: Cand[] = recipes.map((r) => {
  const members = singles.filter((c) => c.name.split('/')[0] === r);
  return {
    name: `${r}/mean(${members.map((m) => m.name.split('/')[1]).join(',')})`,
    outer: [...Array(K).keys()].map((k) => mean(members.map((m) => m.outer[k]))),
    inner: [...Array(K).keys()].map((k) => mean(members.map((m) => m.inner[k]))),
  };
});
const all = [...singles, ...ensembles];
const allLabels = dump.foldLabels.flat();

function nested(cands: Cand[], label: string): void {
  const chosen: number[] = [];
  const atInner: Counts[] = [];
  for (let k = 0; k < K; k++) {
    const labels = [...Array(K).keys()].filter((m) => m !== k).flatMap((m) => dump.foldLabels[m]);
    const points = cands.map((c) => point(c.inner[k], labels));
    const sel = points.reduce((b, p, i) => (round(p.precision) > round(points[b].precision) ? i : b), 0);
    chosen.push(sel);
    atInner.push(countsAt(cands[sel].outer[k], dump.foldLabels[k], points[sel].threshold));
  }
  const pooled = point(chosen.flatMap((ci, k) => cands[ci].outer[k]), allLabels);
  const r = rates(addCounts(atInner));
  console.log(`| ${label} | ${chosen.map((ci) => cands[ci].name).join(', ')} | ${round(pooled.precision)} | ${round(pooled.auroc)} | ${r.precision} / ${r.recall} |`);
}

console.log('Nested selection (as nested-eval.ts does it) over:');
console.log('| candidates | selected per outer fold | precision at recall 0.90, pooled | AUROC | precision / recall at the inner thresholds |');
console.log('|---|---|---|---|---|');
nested(singles, `the ${singles.length} singles`);
nested(ensembles, `the ${ensembles.length} seed ensembles only`);
nested(all, `singles and ensembles (${all.length})`);
console.log('\nNon-nested (each candidate on the four folds pooled, as train.ts reports a recipe):');
console.log('| candidate | precision at recall 0.90 | AUROC |');
console.log('|---|---|---|');
for (const c of ensembles) {
  const p = point(c.outer.flat(), allLabels);
  console.log(`| ${c.name} | ${round(p.precision)} | ${round(p.auroc)} |`);
}

// The seed moves a candidate more than the recipe does: the mean of every recipe's model
// of one candidate seed (the same four fold seeds, the same synthetic draws), per seed.
console.log('\nMeans across the recipes, per candidate seed (non-nested; not a selection, a diagnostic of the seed):');
console.log('| models averaged | precision at recall 0.90 | AUROC |');
console.log('|---|---|---|');
const seeds = [...new Set(dump.candidates.map((n) => n.split('/')[1]))];
for (const group of [...seeds.map((s) => singles.filter((c) => c.name.endsWith(`/${s}`))), singles]) {
  const scores = [...Array(K).keys()].flatMap((k) => mean(group.map((m) => m.outer[k])));
  const p = point(scores, allLabels);
  const label = group === singles ? `all ${group.length}` : `the ${group.length} of seed ${group[0].name.split('/')[1]}`;
  console.log(`| ${label} | ${round(p.precision)} | ${round(p.auroc)} |`);
}
