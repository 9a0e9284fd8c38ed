/**
 * The stream detector's figures as markdown, and its card (detectors/query-stream/README.md:
 * the stream detector has no package, so its card lives beside its evaluation code).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { BenignSummary, StreamRun } from './evaluate.js';
import { FIGURES_END, FIGURES_START, replaceFigures } from '../mnist-adversarial/model-card.js';

/** Everything the stream evaluation measured. */
export interface StreamEvaluation {
  /** Queries within which each extraction attack must be flagged. */
  goalQueries: number;
  tensorAttacks: StreamRun[];
  benignTest: BenignSummary;
  benignTrain: BenignSummary;
  textAttacks: StreamRun[];
  /** Undefined when the public prompts were not available. */
  benignText?: BenignSummary;
}

/** Markdown tables of a {@link StreamEvaluation}. */
export function streamEvaluationMarkdown(e: StreamEvaluation): string {
  const attackRows = (runs: StreamRun[]) =>
    runs.map((r) => `| ${r.name} | ${r.queries} | ${r.firstFlag ?? 'never'} | ${r.reasons.join(', ') || '–'} | ${r.firstFlag !== undefined && r.firstFlag <= e.goalQueries ? 'yes' : '**no**'} |`);
  const benignRow = (name: string, b: BenignSummary) =>
    `| ${name} | ${b.clients} | ${b.queriesPerClient} | ${b.flagged} | ${b.maxScore.toFixed(3)} | ${b.medianMaxScore.toFixed(3)} |`;
  const lines = [
    `Tensor streams (demo MNIST model), default settings, flag at score ≥ 0.5:`,
    '',
    `| attack | queries sent | first flagged at query | test at its limit | within ${e.goalQueries} |`,
    '|---|---|---|---|---|',
    ...attackRows(e.tensorAttacks),
    '',
    '| benign clients | clients | queries each | flagged | highest score | median of highest |',
    '|---|---|---|---|---|---|',
    benignRow('test digits, random order (evaluation)', e.benignTest),
    benignRow('training digits, random order (where the defaults were chosen)', e.benignTrain),
    '',
    'Text streams (an LLM; the last user turn of each request):',
    '',
    `| attack | prompts sent | first flagged at prompt | test at its limit | within ${e.goalQueries} |`,
    '|---|---|---|---|---|',
    ...attackRows(e.textAttacks),
    '',
    '| benign clients | clients | prompts each | flagged | highest score | median of highest |',
    '|---|---|---|---|---|---|',
    e.benignText ? benignRow('public benign prompts, random order', e.benignText) : '| public benign prompts | (not measured: shared/data/prompts/train.jsonl not found) | | | | |',
  ];
  return `${lines.join('\n')}\n`;
}

/** Writes the figures into the stream detector's card (the prose is written once, here, when the card is missing). */
export function writeStreamCard(file: string, e: StreamEvaluation): void {
  const figures = streamEvaluationMarkdown(e);
  if (existsSync(file)) {
    writeFileSync(file, replaceFigures(readFileSync(file, 'utf8'), figures));
    return;
  }
  writeFileSync(file, `# query-stream detector (kind: stream)\n\nSee docs/detectors.md, "Tensor and stream detectors".\n\n${FIGURES_START}\n${figures.trimEnd()}\n${FIGURES_END}\n`);
}
