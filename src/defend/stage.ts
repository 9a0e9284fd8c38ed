/**
 * Stage `defend`: membership-inference defenses on model output (DESIGN.md, "Output
 * defenses"). On the way in it holds LLM requests to what the model's policy allows
 * (refused or clamped); on the way back it rewrites classifier outputs and token
 * log-probabilities, for a JSON body at once or an SSE stream event by event.
 */
import type { Config } from '../config/schema.js';
import type { RequestContext } from '../pipeline/context.js';
import { GatewayError } from '../pipeline/errors.js';
import type { Stage } from '../pipeline/stage.js';
import { ALLOW, type Decision, type InferenceResponse, type InferenceTensor, type Note, type Principal } from '../pipeline/types.js';
import type { Services } from '../services.js';
import { argmax, defendRow, softmax } from './classifier.js';
import type { ClassifierPolicy, DefensePolicy, LlmPolicy } from './config.js';
import { checkLlmRequest, defendLogprobs } from './llm.js';
import { normalStream, resolveNoiseKey, rowInputs, rowSeed } from './noise.js';

const NAME = 'defend';
const CLASSIFIER_OPERATIONS = new Set(['infer', 'predict']);
const LLM_OPERATIONS = new Set(['chat', 'completions']);

/** A model's policy, compiled once. */
interface ModelDefense {
  policyName: string;
  mode: DefensePolicy['mode'];
  classifier?: CompiledClassifier;
  llm?: LlmPolicy;
  /** Whether the LLM part changes responses (and so needs to read them). */
  llmRewrites: boolean;
}

interface CompiledClassifier {
  policy: ClassifierPolicy;
  kinds: ReadonlyMap<string, 'probabilities' | 'logits'>;
  pass: ReadonlySet<string>;
}

/** Per-request state: whether the audit note for the response was written. */
interface Locals {
  noted?: boolean;
}

/**
 * Builds the defend stage for a config, or undefined when no model has a defense that is
 * not `off`. The noise key is resolved here, once (from `defenses.noiseKey`, else the
 * state store, else generated and stored).
 *
 * @example
 * const stage = await createDefendStage(loaded.config, services);
 */
export async function createDefendStage(config: Config, services: Services): Promise<Stage | undefined> {
  const byModel = new Map<string, ModelDefense>();
  for (const m of config.models) {
    if (m.defense === undefined) continue;
    const p = config.defenses.policies[m.defense];
    if (!p || p.mode === 'off') continue;
    const llmRewrites = p.llm !== undefined && (p.llm.logprobs !== 'keep' || p.llm.maxTopLogprobs !== undefined);
    byModel.set(m.name, {
      policyName: m.defense,
      mode: p.mode,
      llm: p.llm,
      llmRewrites,
      classifier: p.classifier && {
        policy: p.classifier,
        kinds: new Map(p.classifier.outputs.map((o) => [o.name, o.kind])),
        pass: new Set(p.classifier.passOutputs),
      },
    });
  }
  // No stage without a defense to run (as for every unconfigured stage).
  if (byModel.size === 0) return undefined;
  const needsKey = [...byModel.values()].some((d) => d.classifier?.policy.noise);
  const key = needsKey ? await resolveNoiseKey(config.defenses.noiseKey, services.state) : undefined;

  // Two kinds (docs/auth.md, "Note kinds"): asking for more than the policy allows is a
  // probing signal an operator may weigh as risk; a rewritten response is routine.
  const note = (d: ModelDefense, detail: Record<string, unknown>): Note => ({
    stage: NAME,
    kind: detail.side === 'request' ? 'output-policy-exceeded' : 'output-defended',
    name: d.policyName,
    detail: { mode: d.mode, ...detail },
  });

  return {
    name: NAME,

    request(ctx: RequestContext): Decision {
      const d = byModel.get(ctx.model.name);
      const req = ctx.request;
      if (!d?.llm || !req || req.protocol !== 'openai') return ALLOW;
      const { excess, change } = checkLlmRequest(req.params, req.operation, d.llm);
      if (excess.length === 0) return ALLOW;
      const action = d.llm.onExceed === 'refuse' ? 'refused' : 'clamped';
      const notes = [note(d, { side: 'request', action, excess })];
      if (d.mode === 'shadow') return { allow: true, notes };
      if (d.llm.onExceed === 'refuse') {
        return { allow: false, code: 'PALISADE_OUTPUT_POLICY', message: `Refused by the output policy of this model: ${excess.join('; ')}.`, notes };
      }
      if (!ctx.model.adapter.applyParams) throw new Error(`protocol ${req.protocol} cannot clamp parameters`);
      ctx.model.adapter.applyParams(req, change);
      return { allow: true, notes };
    },

    wantsResponse(ctx: RequestContext): boolean {
      const d = byModel.get(ctx.model.name);
      const op = ctx.route.operation;
      if (!d) return false;
      return (d.classifier !== undefined && CLASSIFIER_OPERATIONS.has(op)) || (d.llmRewrites && LLM_OPERATIONS.has(op));
    },

    response(ctx: RequestContext, res: InferenceResponse): Decision | void {
      const d = byModel.get(ctx.model.name);
      if (!d || res.status >= 300) return;
      const shadow = d.mode === 'shadow';
      const detail: Record<string, unknown> = {};
      if (d.classifier && CLASSIFIER_OPERATIONS.has(ctx.route.operation)) {
        const target = shadow ? cloneTensors(res.tensors) : res.tensors;
        const caller = d.classifier.policy.noise?.perPrincipal === false ? '' : callerOf(ctx.principal);
        const kept = defendTensors(target, d.classifier, ctx, key, caller);
        if (!shadow) res.tensors = kept.tensors;
        Object.assign(detail, { rows: kept.rows, dropped: kept.dropped });
      }
      if (d.llmRewrites && res.logprobs) {
        const view = shadow ? structuredClone(res.logprobs) : res.logprobs;
        Object.assign(detail, defendLogprobs(view, d.llm!));
      }
      const locals = ((ctx.locals[NAME] as Locals | undefined) ??= {});
      // One note per request, not one per SSE event.
      if (Object.keys(detail).length > 0 && !locals.noted) {
        locals.noted = true;
        return { allow: true, notes: [note(d, { side: 'response', action: shadow ? 'observed' : 'rewrote', ...detail })] };
      }
    },
  };
}

/** The caller part of a noise seed: tenant and id; anonymous callers share one. */
function callerOf(p: Principal | undefined): string {
  return p ? `${p.tenant ?? ''}\u0000${p.id}` : '';
}

function cloneTensors(ts: InferenceTensor[]): InferenceTensor[] {
  return ts.map((t) => ({ ...t, shape: [...t.shape], data: Array.from(t.data) }));
}

/**
 * Rewrites the class-score outputs row by row and drops every numeric output the policy
 * does not name. A score tensor that is not what the policy says (not finite,
 * probabilities outside [0, 1], a shape that does not add up) is a bad upstream response.
 */
function defendTensors(
  tensors: InferenceTensor[],
  c: CompiledClassifier,
  ctx: RequestContext,
  key: Buffer | undefined,
  caller: string,
): { tensors: InferenceTensor[]; rows: number; dropped: number } {
  const out: InferenceTensor[] = [];
  let rows = 0;
  let dropped = 0;
  const inputsByRows = new Map<number, Buffer[]>();
  for (const t of tensors) {
    const kind = c.kinds.get(t.name);
    if (kind === undefined) {
      if (c.pass.has(t.name)) out.push(t);
      else dropped++;
      continue;
    }
    const classes = t.shape.length > 0 ? t.shape[t.shape.length - 1] : t.data.length;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!(classes > 0) || count !== t.data.length) throw new GatewayError('PALISADE_UPSTREAM_BAD_RESPONSE', `output ${t.name} has a shape that does not match its data`);
    const n = t.data.length / classes;
    for (let i = 0; i < t.data.length; i++) {
      const v = t.data[i];
      if (!Number.isFinite(v) || (kind === 'probabilities' && (v < 0 || v > 1))) {
        throw new GatewayError('PALISADE_UPSTREAM_BAD_RESPONSE', `output ${t.name} does not hold ${kind}`);
      }
    }
    let inputs: Buffer[] | undefined;
    if (c.policy.noise && key && ctx.request) {
      inputs = inputsByRows.get(n);
      if (!inputs) inputsByRows.set(n, (inputs = rowInputs(ctx.request.tensors, ctx.request.texts, n)));
    }
    const data = new Array<number>(t.data.length);
    for (let r = 0; r < n; r++) {
      const row = Array.prototype.slice.call(t.data, r * classes, (r + 1) * classes) as number[];
      const label = argmax(row);
      const probs = kind === 'logits' ? softmax(row) : row;
      const normal = inputs ? normalStream(rowSeed(key!, ctx.model.name, t.name, caller, inputs[r])) : undefined;
      const defended = defendRow(probs, label, c.policy, normal);
      for (let i = 0; i < classes; i++) data[r * classes + i] = defended[i];
    }
    rows += n;
    out.push({ ...t, data });
  }
  return { tensors: out, rows, dropped };
}
