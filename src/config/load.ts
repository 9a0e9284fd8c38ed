/**
 * Loading a config file: YAML with source positions, `${ENV}` and `${file:path}`
 * substitution, validation by the one schema, cross-section checks, and a deep freeze.
 * A bad file yields every problem at once, each with file, line, column and key path.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { configSchema, crossCheck, type Config } from './schema.js';

export interface Problem {
  file: string;
  line: number;
  col: number;
  /** Key path as a user reads it: `models[2].upstream`. */
  path: string;
  message: string;
}

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file it came from. */
  file: string;
  /** Directory that relative paths in the config are resolved against. */
  baseDir: string;
}

export type LoadResult = { ok: true; loaded: LoadedConfig } | { ok: false; problems: Problem[] };

export class ConfigError extends Error {
  readonly code = 'PALISADE_CONFIG_INVALID';
  constructor(readonly problems: Problem[]) {
    super(`invalid config:\n${problems.map(formatProblem).join('\n')}`);
  }
}

/** `config/x.yaml:12:5 models[2].upstream: unknown upstream "llm2"` */
export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col} ${p.path || '(root)'}: ${p.message}`;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else out += out ? `.${String(k)}` : String(k);
  }
  return out;
}

/** Reads, substitutes, validates and freezes a config file. Never throws for a bad file. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    return { ok: false, problems: [{ file: abs, line: 0, col: 0, path: '', message: `cannot read: ${(err as Error).message}` }] };
  }
  return loadConfigText(text, abs, env);
}

/**
 * As loadConfigFile, from text already read (`file` names it in problems and anchors
 * relative paths). Never throws: YAML that cannot even be turned into data (an alias
 * bomb, a self-referential alias) is one problem like any other, so that a reload of
 * such a file is refused and the old config keeps serving.
 */
export function loadConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  try {
    return loadText(text, file, env);
  } catch (err) {
    return { ok: false, problems: [{ file, line: 0, col: 0, path: '', message: `cannot be read: ${(err as Error).message}` }] };
  }
}

function loadText(text: string, file: string, env: NodeJS.ProcessEnv): LoadResult {
  const baseDir = dirname(resolve(file));
  const lineCounter = new LineCounter();
  // logLevel 'error': YAML's warnings (a collection as a key) would go to process warnings;
  // what they describe ends as an unknown-key problem anyway.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  const at = (offset: number | undefined) => {
    const pos = offset === undefined ? { line: 0, col: 0 } : lineCounter.linePos(offset);
    return { line: pos.line, col: pos.col };
  };
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => ({ file, ...at(e.pos[0]), path: '', message: e.message.split('\n')[0] })),
    };
  }
  const raw = doc.toJS({ maxAliasCount: 100 }) as unknown;
  const problems: Problem[] = [];
  const locate = (path: readonly PropertyKey[], key?: string) => ({ file, ...at(offsetOf(doc, path, key)) });

  const substituted = substitute(raw, [], baseDir, env, (path, message) =>
    problems.push({ ...locate(path), path: formatPath(path), message }),
  );

  const parsed = configSchema.safeParse(substituted);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          problems.push({ ...locate(issue.path, key), path: formatPath([...issue.path, key]), message: 'unknown key' });
        }
      } else {
        problems.push({ ...locate(issue.path), path: formatPath(issue.path), message: describeIssue(issue as unknown as IssueLike) });
      }
    }
  }
  for (const p of crossCheck(substituted)) problems.push({ ...locate(p.path), path: formatPath(p.path), message: p.message });

  if (problems.length > 0 || !parsed.success) {
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    return { ok: false, problems: dedupe(problems) };
  }
  return { ok: true, loaded: { config: deepFreeze(parsed.data), file, baseDir } };
}

/** Resolves a path from the config against the config file's directory. */
export function resolveConfigPath(loaded: Pick<LoadedConfig, 'baseDir'>, p: string): string {
  return isAbsolute(p) ? p : resolve(loaded.baseDir, p);
}

type IssueLike = { code: string; message: string; path: PropertyKey[] } & Record<string, unknown>;

function describeIssue(issue: IssueLike): string {
  if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) return 'required';
  if (issue.code === 'invalid_value' && Array.isArray(issue.values)) {
    return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (issue.code === 'invalid_union' && Array.isArray(issue.errors)) {
    // Unit fields are unions of string|number; their transform reports the useful message.
    return issue.message === 'Invalid input' ? 'invalid value' : issue.message;
  }
  return issue.message.replace(/^Invalid input: /, '');
}

function dedupe(ps: Problem[]): Problem[] {
  const seen = new Set<string>();
  return ps.filter((p) => {
    const k = `${p.path}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Offset of the node at `path` (or of `key` inside it); the nearest existing ancestor if absent. */
function offsetOf(doc: Document, path: readonly PropertyKey[], key?: string): number | undefined {
  const keys = path.map((k) => (typeof k === 'symbol' ? String(k) : k));
  for (let n = keys.length; n >= 0; n--) {
    const node = (n === 0 ? doc.contents : doc.getIn(keys.slice(0, n), true)) as Node | null | undefined;
    if (!node) continue;
    if (n === keys.length && key !== undefined && isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && it.key.value === key);
      const k = pair?.key as Node | undefined;
      if (k?.range) return k.range[0];
    }
    if (n < keys.length && isMap(node)) {
      // Missing key: point at the map that should hold it.
      return node.range?.[0];
    }
    return node.range?.[0];
  }
  return undefined;
}

const SUBST = /\$\{([^}]*)\}/g;

/** Replaces `${VAR}` and `${file:path}` in every string; `$${` is a literal `${`. */
function substitute(
  v: unknown,
  path: (string | number)[],
  baseDir: string,
  env: NodeJS.ProcessEnv,
  problem: (path: (string | number)[], message: string) => void,
): unknown {
  if (typeof v === 'string') {
    if (!v.includes('${')) return v;
    return v
      .split('$${')
      .map((part) =>
        part.replace(SUBST, (_, expr: string) => {
          if (expr.startsWith('file:')) {
            const p = expr.slice(5);
            try {
              return readFileSync(isAbsolute(p) ? p : resolve(baseDir, p), 'utf8').replace(/\r?\n$/, '');
            } catch (err) {
              problem(path, `\${file:${p}}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
              return '';
            }
          }
          if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(expr)) {
            problem(path, `invalid substitution \${${expr}}`);
            return '';
          }
          const val = env[expr];
          if (val === undefined) {
            problem(path, `environment variable ${expr} is not set`);
            return '';
          }
          return val;
        }),
      )
      .join('${');
  }
  if (Array.isArray(v)) return v.map((x, i) => substitute(x, [...path, i], baseDir, env, problem));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      // JSON-like config: a __proto__ key becomes an ordinary (and then unknown) key.
      Object.defineProperty(out, k, { value: substitute(x, [...path, k], baseDir, env, problem), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return v;
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
