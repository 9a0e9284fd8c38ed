/**
 * The `defenses` section: named output-defense policies that models refer to by name
 * (`models[].defense`), and the key that seeds the deterministic noise. Validated once
 * at load; the stage compiles each policy once.
 */
import { z } from 'zod';

const mode = z
  .enum(['off', 'shadow', 'enforce'])
  .default('enforce')
  .describe('off: nothing happens; shadow: the audit notes record what would have been refused or changed, nothing is; enforce: refuse and rewrite.');

const classifierOutput = z.strictObject({
  name: z
    .string()
    .min(1)
    .describe('Output tensor name: KServe v2 `outputs[].name`; TF Serving `predictions`, `outputs`, or `predictions.<name>` / `outputs.<name>` for named outputs.'),
  kind: z
    .enum(['probabilities', 'logits'])
    .default('probabilities')
    .describe('What the tensor holds along its last axis. Logits are released as probabilities (softmax), since raw logits carry more than any policy leaves.'),
});

const noise = z.strictObject({
  scale: z
    .number()
    .gt(0)
    .max(1)
    .describe('Standard deviation of the Gaussian noise added to each class probability before the vector is renormalized (the top class is kept).'),
  perPrincipal: z
    .boolean()
    .default(true)
    .describe('Seed the noise with the caller as well as the input, so callers cannot compare their noise. false gives every caller the same noisy answer, which also defeats averaging across many identities.'),
});

export const classifierPolicySchema = z
  .strictObject({
    outputs: z.array(classifierOutput).min(1).describe('Output tensors that hold class scores; the policy rewrites these.'),
    passOutputs: z
      .array(z.string().min(1))
      .default([])
      .describe('Other numeric outputs that pass unchanged (e.g. a class index). Every numeric output listed in neither is removed: an unlisted logits tensor would undo the policy.'),
    noise: noise.optional().describe('Deterministic noise: the same input and caller always get the same answer, so averaging repeats gains nothing.'),
    topK: z.number().int().min(1).optional().describe('Keep the k most likely classes; the others become 0.'),
    decimals: z.number().int().min(0).max(8).optional().describe('Round probabilities to this many decimals.'),
    labelOnly: z.boolean().default(false).describe('Return a one-hot vector of the top class and nothing else.'),
  })
  .describe('For classifiers (KServe v2, TF Serving). Applied in order: noise, topK, decimals, labelOnly. None ever changes the top class.');

export const llmPolicySchema = z
  .strictObject({
    logprobs: z
      .enum(['keep', 'round', 'strip'])
      .default('keep')
      .describe('What happens to token log-probabilities: keep them, round them to `decimals`, or strip them (a request that asks for them exceeds the policy).'),
    decimals: z.number().int().min(0).max(6).default(1).describe('Decimals kept by `logprobs: round`.'),
    maxTopLogprobs: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('Most alternatives per token a client may ask for (chat `top_logprobs`, completions `logprobs`). Unset: no cap.'),
    echoLogprobs: z
      .enum(['refuse', 'allow'])
      .default('refuse')
      .describe('`echo` together with logprobs returns the log-probabilities of the prompt, the strongest membership signal of an LLM. Clamping drops the echo.'),
    maxN: z.number().int().min(1).optional().describe('Most choices (`n`) per request. Unset: no cap.'),
    onExceed: z
      .enum(['refuse', 'clamp'])
      .default('refuse')
      .describe('A request that asks for more than the policy allows: refuse it (400 PALISADE_OUTPUT_POLICY) or clamp it to the policy and forward it.'),
  })
  .describe('For OpenAI-protocol models: chat and legacy completions, JSON and SSE.');

export const defensePolicySchema = z
  .strictObject({
    mode,
    classifier: classifierPolicySchema.optional(),
    llm: llmPolicySchema.optional(),
  })
  .refine((p) => p.classifier !== undefined || p.llm !== undefined, { message: 'a policy needs `classifier` or `llm`' });

export const defensesConfigSchema = z
  .strictObject({
    noiseKey: z
      .string()
      .min(32)
      .optional()
      .describe('Secret key (at least 32 characters) of the HMAC that seeds classifier noise. Unset: a random key is made once and kept in the state store, so it survives reloads; set it (the same on every replica) when several gateways serve one model.'),
    policies: z.record(z.string().regex(/^[A-Za-z0-9._-]+$/), defensePolicySchema).default({}).describe('Output-defense policies, by name; a model uses one with `defense: <name>`.'),
  })
  .describe('Membership-inference defenses on model output (docs/defenses.md).');

export type DefensesConfig = z.output<typeof defensesConfigSchema>;
export type DefensePolicy = z.output<typeof defensePolicySchema>;
export type ClassifierPolicy = z.output<typeof classifierPolicySchema>;
export type LlmPolicy = z.output<typeof llmPolicySchema>;

interface Problem {
  path: (string | number)[];
  message: string;
}

/**
 * Checks across sections: a model's `defense` names a policy that fits its protocol, and
 * `passRawWhenUndefended` only on models without an enforced defense. Reads the raw input
 * leniently (it runs even when the schema found other problems).
 */
export function crossCheckDefenses(input: unknown): Problem[] {
  const out: Problem[] = [];
  const c = (input ?? {}) as { upstreams?: unknown; models?: unknown; defenses?: { policies?: unknown } };
  const upstreams = c.upstreams && typeof c.upstreams === 'object' ? (c.upstreams as Record<string, { protocol?: unknown }>) : {};
  const policies = c.defenses?.policies && typeof c.defenses.policies === 'object' ? (c.defenses.policies as Record<string, Record<string, unknown>>) : {};
  const models = Array.isArray(c.models) ? c.models : [];
  models.forEach((m: unknown, i) => {
    if (!m || typeof m !== 'object') return;
    const { defense, upstream, passRawWhenUndefended } = m as Record<string, unknown>;
    const protocol = typeof upstream === 'string' && Object.hasOwn(upstreams, upstream) ? upstreams[upstream]?.protocol : undefined;
    let policy: Record<string, unknown> | undefined;
    if (typeof defense === 'string') {
      policy = Object.hasOwn(policies, defense) ? policies[defense] : undefined;
      if (!policy) out.push({ path: ['models', i, 'defense'], message: `unknown defense policy "${defense}"` });
      else if (protocol === 'openai' && policy.classifier !== undefined) {
        out.push({ path: ['models', i, 'defense'], message: `policy "${defense}" has a classifier section; "${String(upstream)}" speaks openai` });
      } else if ((protocol === 'kserve-v2' || protocol === 'tfserving') && policy.llm !== undefined) {
        out.push({ path: ['models', i, 'defense'], message: `policy "${defense}" has an llm section; "${String(upstream)}" speaks ${protocol}` });
      } else if (protocol === 'raw') {
        out.push({ path: ['models', i, 'defense'], message: 'raw models cannot be defended (the gateway does not read their output)' });
      }
    }
    const enforced = policy !== undefined && (policy.mode === undefined || policy.mode === 'enforce');
    if (passRawWhenUndefended === true && enforced) {
      out.push({
        path: ['models', i, 'passRawWhenUndefended'],
        message: 'a model with an enforced defense never passes an unreadable response (it would pass undefended output)',
      });
    }
  });
  return out;
}
