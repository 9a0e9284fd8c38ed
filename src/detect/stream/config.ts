/**
 * Settings of a `kind: stream` detector (the `stream:` block of its entry in
 * `detectors.packages`). Defaults are the values calibrated on benign clients of the
 * demo MNIST model and of public prompts (bench/results/detectors.md): change them
 * only with figures of your own traffic.
 */
import { z } from 'zod';
import { duration } from '../../config/fields.js';

export const streamSettingsSchema = z
  .strictObject({
    window: z
      .number()
      .int()
      .min(16)
      .max(4096)
      .default(256)
      .describe('Queries remembered per principal and model (the oldest are dropped); each query is compared with these.'),
    ttl: duration().prefault('24h').describe('How long a principal\'s stream is kept after its last query.'),
    sketchDims: z.number().int().min(8).max(512).default(64).describe('Numbers per tensor sketch (feature hashing); 64 keeps distances within about 20%.'),
    hashSeed: z
      .number()
      .int()
      .min(0)
      .max(0xffffffff)
      .default(0x5eed5)
      .describe('Seed of the sketch and SimHash hashing. Changing it forgets every stream (old sketches no longer compare).'),
    tensor: z
      .strictObject({
        testWindow: z.number().int().min(8).max(4096).default(128).describe('Distances tested for normality and concentration: the last this many.'),
        minQueries: z.number().int().min(8).default(50).describe('No normality or concentration verdict before this many distances.'),
        minW: z.number().min(0).max(1).default(0.87).describe('Flag at or below this Shapiro-Wilk W (0 turns the test off).'),
        minCv: z.number().min(0).default(0.1).describe('Flag at or below this coefficient of variation of the distances (0 turns the test off).'),
        dupRadius: z
          .number()
          .min(0)
          .default(0.25)
          .describe('A query is a near-duplicate when its nearest earlier query is closer than this times its own norm.'),
        burstWindow: z.number().int().min(1).default(50).describe('Queries the burst test looks back on.'),
        burstCount: z.number().int().min(0).default(10).describe('Flag at this many near-duplicates in burstWindow (0 turns the test off).'),
      })
      .prefault({})
      .describe('Numeric queries (tensor models): PRADA-style tests over L2 distances between sketches.'),
    text: z
      .strictObject({
        dupBits: z.number().int().min(0).max(32).default(12).describe('A prompt is a near-duplicate when its SimHash is within this many bits (of 64) of an earlier one.'),
        burstWindow: z.number().int().min(1).default(50).describe('Prompts the burst test looks back on.'),
        burstCount: z.number().int().min(1).default(10).describe('Flag at this many near-duplicates in burstWindow.'),
      })
      .prefault({})
      .describe('Text queries (LLMs): near-identical prompts by SimHash.'),
  })
  .describe('Settings of a stream detector (kind: stream).');

export type StreamSettings = z.output<typeof streamSettingsSchema>;
