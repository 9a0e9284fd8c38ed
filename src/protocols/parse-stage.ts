/**
 * Stage `parse`: the protocol adapter turns the parsed body into the neutral
 * InferenceRequest that every later stage reads.
 */
import { ALLOW, type Decision } from '../pipeline/types.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Stage } from '../pipeline/stage.js';

export function createParseStage(): Stage {
  return {
    name: 'parse',
    request(ctx: RequestContext): Decision {
      const m = ctx.model;
      ctx.request = m.adapter.parseRequest({ route: ctx.route, model: m.name, upstreamModel: m.upstreamModel, body: ctx.body });
      return ALLOW;
    },
  };
}
