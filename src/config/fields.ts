/**
 * Zod fields for human units (`30s`, `1mb`, `60/m`), parsed once at load. In their own
 * module so that a section schema in another folder (e.g. src/state/config.ts) can use
 * them without an import cycle through schema.ts.
 */
import { z } from 'zod';
import { parseDuration, parseRate, parseSize } from './units.js';

/** A duration (`30s`, `5m`, or milliseconds), parsed to milliseconds at load. */
export const duration = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.issues.push({ code: 'custom', input: v, message: `invalid duration "${v}" (expected e.g. 250ms, 30s, 5m, 1h)` });
      return z.NEVER;
    }
    return ms;
  });

/** A size (`512kb`, `1mb`, or bytes), parsed to bytes at load. */
export const size = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const bytes = parseSize(v);
    if (bytes === undefined) {
      ctx.issues.push({ code: 'custom', input: v, message: `invalid size "${v}" (expected e.g. 64kb, 1mb)` });
      return z.NEVER;
    }
    return bytes;
  });

/** A rate (`60/m`, `10/s`), parsed to `{ points, windowMs }` at load. */
export const rate = () =>
  z.string().transform((v, ctx) => {
    const r = parseRate(v);
    if (r === undefined) {
      ctx.issues.push({ code: 'custom', input: v, message: `invalid rate "${v}" (expected e.g. 60/m, 10/s, 100/30s)` });
      return z.NEVER;
    }
    return r;
  });
