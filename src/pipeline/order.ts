/**
 * The order of the stages, in one place, with the reason each stands where it does
 * (drawn in docs/lifecycle.md). Response hooks run in the reverse order.
 */
import { createDefendStage } from '../defend/stage.js';
import { createParseStage } from '../protocols/parse-stage.js';
import type { Services } from '../services.js';
import type { LoadedConfig } from '../config/load.js';
import type { Stage } from './stage.js';

/** Builds every stage for a config. Everything costly (keys, sessions) is built here, once. */
export async function buildStages(loaded: LoadedConfig, services: Services): Promise<Stage[]> {
  void loaded;
  void services;
  const stages: Stage[] = [];
  // 1 identify: who is calling. First, so that nothing is spent on an unknown caller.
  // 2 authorize: may this caller use this model now. Before any work on the body.
  // 3 parse: the adapter builds the InferenceRequest. Before limits, because token
  //   budgets reserve on the parsed request (prompt size, max_tokens).
  stages.push(createParseStage());
  // 4 limit: requests, tokens, concurrency, query budget. Before inspect, so that a
  //   flood is refused before detectors spend CPU on it.
  // 5 inspect: detectors over texts, tensors and the query stream. Last before forward.
  // 6 defend: output defenses. Its request hook refuses or clamps what an LLM request
  //   asks for (logprobs, echo, n) after inspect, so a refused request never reaches the
  //   upstream; its response hook is the first on the way back (reverse order), so
  //   everything after it sees the defended output, as the client will.
  stages.push(await createDefendStage(loaded.config, services));
  // 7 account: audit, metrics, risk, token settlement (done hooks).
  return stages;
}
