/**
 * Human units in the config (`30s`, `1mb`, `60/m`), parsed once at load so that no
 * request ever parses a string. Each parser returns undefined for text it does not
 * understand; the schema turns that into a located problem.
 */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** `250ms`, `30s`, `5m`, `1h`, `1d`, or a bare number of milliseconds. Returns milliseconds. */
export function parseDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/i.exec(v);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2].toLowerCase()]);
}

/** `512b`, `64kb`, `1mb`, `2gb`, or a bare number of bytes. Returns bytes. */
export function parseSize(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)\s*$/i.exec(v);
  if (!m) return undefined;
  return Math.floor(Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()]);
}

export interface Rate {
  /** How many events the window admits. */
  points: number;
  /** The window, in milliseconds. */
  windowMs: number;
}

/** `60/m`, `10/s`, `1000/h`, `5000/d`, or `100/30s`. */
export function parseRate(v: string): Rate | undefined {
  const m = /^\s*(\d+)\s*\/\s*(\d+(?:\.\d+)?)?\s*(ms|s|m|h|d)\s*$/i.exec(v);
  if (!m) return undefined;
  const points = Number(m[1]);
  const windowMs = Math.round((m[2] ? Number(m[2]) : 1) * DURATION_UNITS[m[3].toLowerCase()]);
  if (points <= 0 || windowMs <= 0) return undefined;
  return { points, windowMs };
}

/** `host:port`, `[::1]:port` or `:port` (all interfaces). */
export function parseListen(v: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(v.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}
