/**
 * The order of the stages, in one place, with the reason each stands where it does
 * (drawn in docs/lifecycle.md). Response hooks run in the reverse order.
 */
import { createDefendStage } from '../defend/stage.js';
import { createInspectStage } from '../detect/inspect-stage.js';
import { Auth } from '../auth/auth.js';
import { createAuthorizeStage } from '../auth/authorize-stage.js';
import { createIdentifyStage } from '../auth/identify-stage.js';
import { createLimitStage } from '../limits/stage.js';
import { createParseStage } from '../protocols/parse-stage.js';
import type { Services } from '../services.js';
import type { LoadedConfig } from '../config/load.js';
import type { Stage } from './stage.js';

/** Builds every stage for a config. Everything costly (keys, sessions) is built here, once. */
export async function buildStages(loaded: LoadedConfig, services: Services): Promise<Stage[]> {
  const stages: Stage[] = [];
  const auth = await Auth.create(loaded, services);
  // 1 identify: who is calling. First, so that nothing is spent on an unknown caller.
  //   Its done hook runs last and turns the request's notes into risk.
  // 2 authorize: may this caller use this model now. Before any work on the body.
  if (auth) stages.push(createIdentifyStage(auth, services), createAuthorizeStage(auth));
  // 3 parse: the adapter builds the InferenceRequest. Before limits, because token
  //   budgets reserve on the parsed request (prompt size, max_tokens).
  stages.push(createParseStage());
  // 4 limit: requests, tokens, concurrency, query budget. Before inspect, so that a
  //   flood is refused before detectors spend CPU on it.
  const limit = createLimitStage(loaded, services);
  if (limit) stages.push(limit);
  // 5 inspect: detectors over texts, tensors and the query stream. Last before forward:
  //   it is the costliest check, so it runs only on requests every cheaper stage let through.
  const inspect = await createInspectStage(loaded, services);
  if (inspect) stages.push(inspect);
  // 6 defend: output defenses. Its request hook refuses or clamps what an LLM request
  //   asks for (logprobs, echo, n), so a refused request never reaches the upstream; it
  //   stands after inspect (though cheaper) because its response hook must be the first on
  //   the way back (reverse order): everything after it sees the defended output, as the
  //   client will.
  const defend = await createDefendStage(loaded.config, services);
  if (defend) stages.push(defend);
  // 7 account: audit, metrics, risk, token settlement (done hooks).
  return stages;
}
