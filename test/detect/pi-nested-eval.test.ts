/**
 * The committed nested evaluation of the prompt-injection recipe choice
 * (models/prompt-injection/nested-eval.json, written by `npm run
 * eval:prompt-injection:nested`): well-formed, internally consistent (choices and pooled
 * figures recompute from the recorded inner figures and counts), about the shipped
 * package and its data, and stated in the model card as rendered from it. No training.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SOURCE_FOLDS } from '../../detectors/prompt-injection/data.js';
import { addCounts, nestedEvalSection, rates, round, type Counts, type NestedEval } from '../../detectors/prompt-injection/nested-report.js';
import { PACKAGE_DIR } from './helpers.js';

const result = JSON.parse(readFileSync(join(PACKAGE_DIR, 'nested-eval.json'), 'utf8')) as NestedEval;
const manifest = JSON.parse(readFileSync(join(PACKAGE_DIR, 'manifest.json'), 'utf8'));
const rowsBySource = manifest.provenance.rowsBySource as Record<string, { label: number; n: number }>;

const total = (c: Counts) => c.tp + c.fp + c.tn + c.fn;
const positives = (c: Counts) => c.tp + c.fn;
/** Rows and attacks of the public sources of some folds, from the manifest's provenance. */
function foldSize(folds: number[]): { n: number; positives: number } {
  const sources = folds.flatMap((k) => SOURCE_FOLDS[k]);
  return { n: sources.reduce((a, s) => a + rowsBySource[s].n, 0), positives: sources.reduce((a, s) => a + rowsBySource[s].label * rowsBySource[s].n, 0) };
}
const precisionOf = (c: Counts) => round(c.tp / Math.max(c.tp + c.fp, 1));

test('nested-eval.json is about the shipped package, its data and its source folds', () => {
  assert.equal(result.command, 'npm run eval:prompt-injection:nested');
  assert.ok(!Number.isNaN(Date.parse(result.date)) && result.runSeconds > 0 && result.machine.cores > 0);
  assert.equal(result.package.name, manifest.name);
  assert.equal(result.package.version, manifest.version);
  assert.equal(result.package.modelSha256, manifest.model.sha256);
  assert.equal(result.package.precisionAtRecall90, manifest.metrics.sourceHoldout.pooled.precisionAtRecall90);
  assert.equal(result.package.auroc, manifest.metrics.sourceHoldout.pooled.auroc);
  assert.equal(result.data.publicRows, manifest.provenance.publicRows);
  assert.match(result.data.sha256, /^[0-9a-f]{64}$/);
  assert.deepEqual(result.folds, SOURCE_FOLDS);
  assert.deepEqual(result.environment, {}, 'run with experiment variables set: not the shipped package\'s other settings');
  assert.deepEqual(result.goal, { recall: 0.9, minPrecision: 0.95, maxSecurityTalkFpr: 0.01 });
});

test('the grid holds 1.2.0\'s, 1.3.0\'s and the shipped package\'s recipes, with unique names that say the recipe', () => {
  const names = result.grid.map((c) => c.name);
  assert.equal(new Set(names).size, names.length);
  for (const c of result.grid) {
    const j = c.recipe.jailbreaks ? `-j${c.recipe.jailbreaks}` : '';
    assert.equal(c.name, `h${c.recipe.hidden}-t${c.recipe.truncate}-n${c.recipe.notices}${j}/s${c.recipe.seed}`);
  }
  const shipped = result.grid.find((c) => c.name === result.package.candidate);
  assert.equal(shipped?.package, manifest.version.split('+')[0]);
  assert.deepEqual(shipped?.recipe, {
    hidden: manifest.training.model.hidden,
    truncate: manifest.training.noisyAttackTruncation.share,
    notices: rowsBySource.synthetic_benign_workplace_notice.n,
    jailbreaks: rowsBySource.synthetic_persona_jailbreak?.n ?? 0,
    seed: manifest.training.seed,
  });
  assert.ok(result.grid.some((c) => c.package === '1.2.0' && c.recipe.hidden === 32 && c.recipe.truncate === 0 && c.recipe.notices === 0 && c.recipe.jailbreaks === 0));
  assert.ok(result.grid.some((c) => c.package === '1.3.0' && c.recipe.hidden === 64 && c.recipe.truncate === 0.15 && c.recipe.notices === 100 && c.recipe.jailbreaks === 0));
});

test('each outer fold\'s choice recomputes from its inner figures, and its counts cover its rows', () => {
  assert.equal(result.outer.length, SOURCE_FOLDS.length);
  for (const [k, o] of result.outer.entries()) {
    assert.equal(o.fold, k);
    assert.deepEqual(o.held, SOURCE_FOLDS[k]);
    assert.deepEqual({ n: o.n, positives: o.positives }, foldSize([k]));
    assert.deepEqual(o.inner.map((x) => x.candidate), result.grid.map((c) => c.name), 'one inner entry per candidate, in grid order');
    const inner = foldSize([...SOURCE_FOLDS.keys()].filter((m) => m !== k));
    for (const x of o.inner) {
      assert.deepEqual({ n: total(x.counts), positives: positives(x.counts) }, inner, `outer ${k + 1}, ${x.candidate}: inner counts cover the other three folds`);
      assert.equal(x.precisionAtRecall90, precisionOf(x.counts));
      assert.ok(x.counts.tp / positives(x.counts) >= 0.9, 'the inner threshold keeps recall >= 0.90');
    }
    // The best inner precision; the first in the grid on ties.
    const best = Math.max(...o.inner.map((x) => x.precisionAtRecall90));
    const chosen = o.inner.find((x) => x.precisionAtRecall90 === best)!;
    assert.equal(o.selected, chosen.candidate);
    assert.equal(o.threshold, chosen.threshold);
    assert.deepEqual({ n: total(o.counts), positives: positives(o.counts) }, { n: o.n, positives: o.positives });
    assert.ok(o.securityTalk.flagged >= 0 && o.securityTalk.flagged <= o.securityTalk.n && o.securityTalk.n === result.securityTalk.n);
  }
});

test('the nested figures recompute from the per-fold counts', () => {
  const n = result.nested;
  assert.deepEqual(n.atInnerThresholds, { counts: addCounts(result.outer.map((o) => o.counts)), ...rates(addCounts(result.outer.map((o) => o.counts))) });
  assert.deepEqual(n.pooled.counts, addCounts(n.pooled.perFoldCounts));
  n.pooled.perFoldCounts.forEach((c, k) => assert.deepEqual({ n: total(c), positives: positives(c) }, foldSize([k])));
  assert.equal(n.pooled.n, result.data.publicRows);
  assert.equal(n.pooled.positives, result.data.attacks);
  assert.equal(n.pooled.precisionAtRecall90, precisionOf(n.pooled.counts));
  assert.ok(n.pooled.counts.tp / n.pooled.positives >= 0.9);
  assert.deepEqual(n.securityTalkFpr.perFold, result.outer.map((o) => round(o.securityTalk.flagged / o.securityTalk.n)));
  assert.equal(n.securityTalkFpr.max, Math.max(...n.securityTalkFpr.perFold));
});

test('the recipe-mean rule\'s choices recompute from the inner figures', () => {
  for (const [k, o] of result.outer.entries()) {
    const recipes = [...new Set(result.grid.map((c) => c.name.split('/')[0]))];
    const means = recipes.map((r) => {
      const ps = o.inner.filter((x) => x.candidate.startsWith(`${r}/`)).map((x) => x.precisionAtRecall90);
      return ps.reduce((a, b) => a + b, 0) / ps.length;
    });
    assert.equal(result.recipeMeanRule.selected[k], recipes[means.indexOf(Math.max(...means))]);
  }
});

test('the non-nested figures recompute from their counts, and the shipped candidate\'s are the manifest\'s (its outer models are train.ts\'s fold models)', () => {
  assert.deepEqual(result.nonNested.map((c) => c.candidate), result.grid.map((c) => c.name));
  for (const c of result.nonNested) {
    assert.deepEqual(c.counts, addCounts(c.perFoldCounts));
    c.perFoldCounts.forEach((f, k) => assert.deepEqual({ n: total(f), positives: positives(f) }, foldSize([k])));
    assert.equal(c.precisionAtRecall90, precisionOf(c.counts));
  }
  const shipped = result.nonNested.find((c) => c.candidate === result.package.candidate)!;
  const pooled = manifest.metrics.sourceHoldout.pooled;
  assert.equal(shipped.threshold, manifest.threshold);
  assert.equal(shipped.precisionAtRecall90, pooled.precision);
  assert.equal(rates(shipped.counts).recall, pooled.recall);
  assert.equal(shipped.auroc, pooled.auroc);
  assert.deepEqual(shipped.securityTalkFlagged.map((x) => round(x / result.securityTalk.n)), manifest.metrics.sourceHoldout.securityTalkFprPerFold);
});

test('the model card states the nested figures as rendered from nested-eval.json', () => {
  const card = readFileSync(join(PACKAGE_DIR, 'README.md'), 'utf8');
  assert.ok(card.includes(nestedEvalSection(result)), 'README.md\'s nested-evaluation section is stale: run `npm run eval:prompt-injection:nested -- --card`');
});
