/** A Logger that keeps what it is told, for tests that check log lines. */
import type { Logger } from '../../src/services.js';

export interface LogLine {
  level: 'info' | 'warn' | 'error' | 'debug';
  obj: object | string;
  msg?: string;
}

export function captureLogger(): Logger & { lines: LogLine[]; has(level: LogLine['level'], re: RegExp): boolean } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (obj: object | string, msg?: string) => void lines.push({ level, obj, msg });
  return {
    lines,
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    debug: at('debug'),
    has(level, re) {
      return lines.some((l) => l.level === level && re.test(l.msg ?? (typeof l.obj === 'string' ? l.obj : '')));
    },
  };
}

/** Polls `fn` every 25 ms until it is true; fails after `timeoutMs` with `what`. */
export async function until(fn: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
