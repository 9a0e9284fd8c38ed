/**
 * The prompt-injection detector's own training data keeps the held-out security-talk
 * family unseen (issue 5): no run of five words from the literal text of an `eval` template (the
 * parts between its slots) appears in any row of the training generators. Slot values
 * ({topic}, {role}, ...) are shared vocabulary and are not checked. (Runs of four words
 * shared today: "i am writing a" and "i want to learn", everyday phrases.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/ml/index.js';
import * as synth from '../../detectors/prompt-injection/synth.js';

const N = 5;
const words = (s: string) => s.toLowerCase().match(/[a-z0-9']+/g) ?? [];
const runs = (ws: string[], n: number) => Array.from({ length: Math.max(ws.length - n + 1, 0) }, (_, i) => ws.slice(i, i + n).join(' '));

test('no five-word run of the held-out security-talk templates is in the training data', () => {
  const rng = new Rng(1);
  const rows = [
    ...synth.hardBenign(rng, 3000, 'train'),
    ...synth.moreBenignTalk(rng, 2000),
    ...synth.quotedAttackDiscussion(rng, 3000),
    ...synth.securityProse(rng, 1000),
    ...synth.defensiveCode(rng, 1000),
    ...synth.codeWithTraceback(rng, 500),
    ...synth.rolePlayBenign(rng, 2000),
    ...synth.followUps(rng, 1000),
    ...synth.assistantQuestions(rng, 1000),
    ...synth.shortBenign(rng, 1000),
    ...synth.longBenign(rng, 60),
    ...synth.benignDocstrings(rng, 200),
    ...synth.benignTables(rng, 100),
    ...synth.benignEncoded(rng, 200),
    ...synth.shortAttacks(rng, 1000),
    ...synth.indirectInjections(rng, 500),
    ...synth.extractionQuestions(rng, 1000),
    ...synth.everydayQuestions(rng, 2000),
    ...synth.everydayEmails(rng, 1000),
    ...synth.assistantTasks(rng, 2000),
    ...synth.personaPrompts(rng, 2000),
    ...synth.workplaceNotices(rng, 1000),
  ];
  assert.ok(rows.every((r) => !r.source.endsWith('_eval')));
  const seen = new Set(rows.flatMap((r) => runs(words(r.text), N)));
  const shared: string[] = [];
  for (const t of synth.EVAL_FAMILY_TEMPLATES) {
    for (const part of t.split(/\{\w+\}/)) for (const run of runs(words(part), N)) if (seen.has(run)) shared.push(`${run}  (from ${JSON.stringify(t)})`);
  }
  assert.deepEqual(shared, []);
});
