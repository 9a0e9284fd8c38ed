/**
 * The `detectors:` section of the config (packages, trusted keys, per-detector
 * settings) and the per-model `detectors:` list (which detectors read which texts of
 * that model's requests).
 *
 * ```yaml
 * detectors:
 *   trustedKeys: [../models/keys/palisade-models.pub.jwk]
 *   packages:
 *     prompt-injection:
 *       path: ../models/prompt-injection
 *       action: block
 * models:
 *   - name: demo-llm
 *     upstream: llm
 *     detectors: [{ name: prompt-injection, roles: [user, tool] }]
 * ```
 */
import { z } from 'zod';
import { DETECTOR_KINDS } from './featurizer.js';
import { streamSettingsSchema } from './stream/config.js';
import { duration } from '../config/fields.js';


const DETECTOR_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const trustedKey = z.union([
  z.string().min(1).describe('Path of a public JWK file.'),
  z.strictObject({ file: z.string().min(1).describe('Path of a public JWK file.') }),
  z.strictObject({ jwk: z.record(z.string(), z.unknown()).describe('A public JWK, inline.') }),
]);

const detectorSettingsObject = z.strictObject({
  kind: z
    .enum(DETECTOR_KINDS)
    .optional()
    .describe(
      'What the detector reads: `text`, `tensor` (from its package\'s manifest; when given here it must match) or `stream` (a principal\'s query sequence; no package, settings under `stream`).',
    ),
  path: z.string().min(1).optional().describe('Folder of the model package (model.onnx, manifest.json, manifest.jws). Required, except for kind: stream.'),
  allowUnsigned: z
    .boolean()
    .default(false)
    .describe('Load the package even though it has no manifest.jws (logged as a warning). A signature that fails is refused regardless.'),
  threshold: z.number().min(0).max(1).optional().describe('Score at or over which the detector fires (default: the manifest threshold; 0.5 for a stream detector).'),
  action: z
    .enum(['block', 'flag', 'log'])
    .default('block')
    .describe('block: 403 PALISADE_INPUT_REJECTED; flag: allow, and note it for audit and risk; log: allow, and note it for audit.'),
  mode: z
    .enum(['off', 'shadow', 'enforce'])
    .default('enforce')
    .describe('enforce: act; shadow: score and record what would have happened, never block; off: skip.'),
  sampleRate: z.number().min(0).max(1).default(1).describe('Shadow mode: share of requests scored.'),
  budget: duration().prefault('100ms').describe('Longest time the detector may take on one request; past it the detector has failed.'),
  failOpen: z.boolean().default(false).describe('When the detector fails or exceeds its budget: allow (true) or deny with 503 (false).'),
  earlyExit: z.boolean().default(true).describe('Stop reading a long text at the first window over the threshold.'),
  stream: streamSettingsSchema.optional().describe('kind: stream only: the stream tests (defaults apply when absent).'),
});

/** A detector's settings: a package (`path`), or a stream detector (`kind: stream`, no package). */
const detectorSettings = detectorSettingsObject
  .superRefine((d, ctx) => {
    if (d.kind === 'stream') {
      if (d.path !== undefined) ctx.addIssue({ code: 'custom', path: ['path'], message: 'a stream detector has no package: remove path' });
      if (d.allowUnsigned) ctx.addIssue({ code: 'custom', path: ['allowUnsigned'], message: 'a stream detector has no package to sign' });
    } else {
      if (d.path === undefined) ctx.addIssue({ code: 'custom', path: ['path'], message: 'path is required (the package folder), unless kind is stream' });
      if (d.stream !== undefined) ctx.addIssue({ code: 'custom', path: ['stream'], message: 'stream settings apply to kind: stream only' });
    }
  })
  .transform((d) => (d.kind === 'stream' ? { ...d, stream: d.stream ?? streamSettingsSchema.parse({}) } : d));

export const detectorsConfigSchema = z
  .strictObject({
    trustedKeys: z.array(trustedKey).default([]).describe('Public keys (JWK) whose package signatures the gateway accepts.'),
    batching: z
      .strictObject({
        maxSize: z.number().int().min(1).max(4096).default(64).describe('Most windows in one model run.'),
        maxWait: duration().prefault('0ms').describe('Longest wait for more windows after the first (0: the windows submitted in the same callback, without waiting for the event loop to turn).'),
      })
      .prefault({})
      .describe('Micro-batching of concurrent requests into one model run (per package).'),
    packages: z.record(z.string().regex(DETECTOR_NAME), detectorSettings).default({}).describe('Detectors, by name (the name a 403 reports).'),
  })
  .describe('Input detectors: signed ONNX model packages scored in the inspect stage.');

/** One entry of a model's `detectors:` list: a detector name, or a name with the roles it reads. */
export const modelDetectorSchema = z.union([
  z.string().regex(DETECTOR_NAME),
  z.strictObject({
    name: z.string().regex(DETECTOR_NAME).describe('Name of an entry of detectors.packages.'),
    roles: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Roles of the texts it reads (user, system, assistant, tool, prompt, input); default: every text.'),
  }),
]);

export const modelDetectorsSchema = z.array(modelDetectorSchema).default([]).describe('Detectors that inspect this model\'s requests.');

export type DetectorsConfig = z.output<typeof detectorsConfigSchema>;
export type DetectorSettings = DetectorsConfig['packages'][string];
export type ModelDetectorEntry = z.output<typeof modelDetectorSchema>;

/** A model's detector entry in one shape. */
export function bindingOf(e: ModelDetectorEntry): { name: string; roles?: readonly string[] } {
  return typeof e === 'string' ? { name: e } : e;
}

/** Cross-section check: every detector a model names exists. Reads raw input leniently. */
export function crossCheckDetectors(input: unknown): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const c = (input ?? {}) as { detectors?: { packages?: unknown }; models?: unknown };
  const pk = c.detectors?.packages;
  const known = pk && typeof pk === 'object' ? new Set(Object.keys(pk)) : new Set<string>();
  if (!Array.isArray(c.models)) return out;
  c.models.forEach((m: unknown, i) => {
    const list = m && typeof m === 'object' ? (m as { detectors?: unknown }).detectors : undefined;
    if (!Array.isArray(list)) return;
    list.forEach((d: unknown, j) => {
      const name = typeof d === 'string' ? d : d && typeof d === 'object' ? (d as { name?: unknown }).name : undefined;
      if (typeof name === 'string' && !known.has(name)) {
        out.push({ path: ['models', i, 'detectors', j], message: `unknown detector "${name}" (not in detectors.packages)` });
      }
    });
  });
  return out;
}
