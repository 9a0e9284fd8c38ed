/**
 * The `limits:` section and the per-model `limits` field. A limit rule names the
 * requests it covers (models, operations) and up to four limits, each with the key it
 * counts by. A model's own `limits` is a rule that covers that model only.
 */
import { z } from 'zod';
import { duration, rate } from '../config/fields.js';

export const KEY_PARTS = ['principal', 'tenant', 'model', 'client'] as const;
export type KeyPart = (typeof KEY_PARTS)[number];

/** Operations a rule covers unless it lists its own: the inference calls. */
export const INFERENCE_OPERATIONS = ['chat', 'completions', 'embeddings', 'infer', 'predict', 'raw'] as const;
export const OPERATIONS = [...INFERENCE_OPERATIONS, 'metadata', 'ready', 'model-info'] as const;

const by = (def: KeyPart[]) =>
  z
    .union([z.enum(KEY_PARTS), z.array(z.enum(KEY_PARTS)).min(1).max(4)])
    .default(def)
    .transform((v) => (Array.isArray(v) ? [...new Set(v)] : [v]))
    .describe(
      'What the counter is kept per: `principal` (the caller; its client address until identity is configured), `tenant` (the principal\'s tenant, else the principal), `model`, `client` (the client address: the peer, or x-forwarded-for from server.trustedProxies). One or a list.',
    );

// Redis keeps windows in whole seconds; a sub-second window would never expire there.
const windowRate = () =>
  rate().refine((r) => r.windowMs >= 1000 && r.windowMs % 1000 === 0, 'the window must be a whole number of seconds (e.g. 10/s, 60/m, 1000/h)');

const requests = z
  .strictObject({
    rate: windowRate().describe('Requests per window, e.g. `60/m` (fixed window).'),
    burst: windowRate()
      .optional()
      .describe('Extra requests allowed once `rate` is used up, counted over their own (longer) window, e.g. `20/10m`.'),
    by: by(['principal', 'model']),
  })
  .describe('Requests per window, with an optional burst allowance. Refusal: PALISADE_RATE_LIMITED.');

const tokens = z
  .strictObject({
    rate: windowRate().describe('LLM tokens (prompt + completion) per window, e.g. `100000/h`.'),
    by: by(['principal', 'model']),
  })
  .describe(
    'LLM tokens per window (openai protocol only), by reservation before forwarding and settlement against the usage the upstream reports. Refusal: PALISADE_TOKEN_BUDGET.',
  );

const concurrency = z
  .strictObject({
    max: z.number().int().min(1).max(1_000_000).describe('Requests in flight at once.'),
    by: by(['principal', 'model']),
  })
  .describe('Requests in flight at once. Refusal: PALISADE_CONCURRENCY.');

const queries = z
  .strictObject({
    perDay: z.number().int().min(1).describe('Queries per UTC day.'),
    by: by(['principal', 'model']),
  })
  .describe('A daily query budget (resets at 00:00 UTC), a defense against model extraction. Refusal: PALISADE_QUERY_BUDGET.');

const limitSet = {
  requests: requests.optional(),
  tokens: tokens.optional(),
  concurrency: concurrency.optional(),
  queries: queries.optional(),
};

/** A model's own limits (`models[].limits`): a rule covering that model's inference calls. */
export const modelLimitsSchema = z
  .strictObject({
    ...limitSet,
    operations: z.array(z.enum(OPERATIONS)).min(1).optional().describe('Operations covered (default: the inference operations).'),
  })
  .describe('Limits of this model (a limit rule that covers this model only). See docs/limits.md.');

const rule = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/)
    .describe('Rule name: in counter keys and in the RateLimit-Policy header. Renaming a rule resets its counters.'),
  models: z.array(z.string()).min(1).optional().describe('Models covered (default: every model).'),
  operations: z
    .array(z.enum(OPERATIONS))
    .min(1)
    .optional()
    .describe('Operations (routes) covered, e.g. `[chat, completions]` (default: the inference operations).'),
  ...limitSet,
});

const shrinkStep = z.strictObject({
  atLeast: z.number().min(0).max(1).describe('Risk score (0..1) from which this step applies.'),
  factor: z.number().min(0).max(1).describe('Multiplier of every limit of the principal (0 refuses everything).'),
});

export const limitsConfigSchema = z
  .strictObject({
    mode: z
      .enum(['off', 'shadow', 'enforce'])
      .default('enforce')
      .describe('`enforce` refuses; `shadow` counts and records what it would refuse (notes) but lets it through; `off` skips the stage.'),
    rules: z.array(rule).default([]).describe('Limit rules; every rule that covers a request applies, each with its own counters.'),
    tokens: z
      .strictObject({
        charsPerToken: z
          .number()
          .min(1)
          .max(16)
          .default(4)
          .describe('Prompt size estimate: characters per token (about 4 for English with BPE tokenizers).'),
        defaultMaxTokens: z
          .number()
          .int()
          .min(1)
          .default(1024)
          .describe('Completion tokens reserved when a request sets no max_tokens (per choice, `n`).'),
        injectStreamUsage: z
          .boolean()
          .default(true)
          .describe(
            'Ask the upstream for usage in streamed responses (`stream_options.include_usage`), so that streams settle on real counts; the client then also receives the final usage chunk. Off: streams settle on an estimate from the streamed text.',
          ),
      })
      .prefault({}),
    risk: z
      .strictObject({
        shrink: z
          .array(shrinkStep)
          .default([])
          .describe('Risk-adaptive limits: the step with the highest `atLeast` not above the principal\'s risk scales every limit by its `factor`.'),
      })
      .prefault({}),
    concurrencyLease: duration()
      .prefault('10m')
      .refine((ms) => ms >= 1000 && ms % 1000 === 0, 'must be a whole number of seconds')
      .describe(
        'Lifetime of a concurrency counter: bounds how long the slots of a crashed replica stay taken. Set it above the longest request.',
      ),
    maxKeys: z
      .number()
      .int()
      .min(1000)
      .default(100_000)
      .describe('Most keys each in-memory counter holds (about 250 bytes each); past it the oldest go. Redis counters expire by TTL instead.'),
  })
  .prefault({})
  .describe('Rate limits, LLM token budgets, concurrency and daily query budgets. See docs/limits.md.');

export type LimitsConfig = z.output<typeof limitsConfigSchema>;
export type LimitRule = LimitsConfig['rules'][number];
export type ModelLimits = z.output<typeof modelLimitsSchema>;

/** Cross-section checks of `limits`: rule names unique, models that exist. */
export function crossCheckLimits(input: unknown, modelNames: Set<string>): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const rules = (input as { limits?: { rules?: unknown } } | undefined)?.limits?.rules;
  if (!Array.isArray(rules)) return out;
  const names = new Map<string, number>();
  rules.forEach((r: unknown, i) => {
    if (!r || typeof r !== 'object') return;
    const { name, models } = r as { name?: unknown; models?: unknown };
    if (typeof name === 'string') {
      const prev = names.get(name);
      if (prev !== undefined) out.push({ path: ['limits', 'rules', i, 'name'], message: `duplicate rule "${name}" (also limits.rules[${prev}])` });
      else names.set(name, i);
      if (name.startsWith('model.')) out.push({ path: ['limits', 'rules', i, 'name'], message: 'names starting with "model." are reserved for models[].limits' });
    }
    if (Array.isArray(models)) {
      models.forEach((m, j) => {
        if (typeof m === 'string' && !modelNames.has(m)) out.push({ path: ['limits', 'rules', i, 'models', j], message: `unknown model "${m}"` });
      });
    }
  });
  return out;
}
