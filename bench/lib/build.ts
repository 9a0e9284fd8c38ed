/**
 * The bench runs the gateway compiled (dist/cli.js), as the Docker image does: no
 * loader hooks and no source maps at run time. dist/ is rebuilt when any source file
 * is newer than it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Runs `npm run build` unless dist/ is newer than every file under src/. Returns whether it built. */
export function ensureBuilt(root: string, force = false): boolean {
  const cli = join(root, 'dist/cli.js');
  if (!force && existsSync(cli) && statSync(cli).mtimeMs >= newestMtime(join(root, 'src'))) return false;
  process.stderr.write('bench: building dist/ (npm run build)\n');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  return true;
}

/**
 * Builds the gateway of another commit into var/baseline/<sha>/dist (inside the
 * checkout, so it resolves the same node_modules), for A/B runs against it.
 * Returns the path of its cli.js relative to `root`.
 */
export function buildBaseline(root: string, ref: string): string {
  const sha = execFileSync('git', ['rev-parse', '--short', ref], { cwd: root, encoding: 'utf8' }).trim();
  const dir = join(root, 'var/baseline', sha);
  const cli = join(dir, 'dist/cli.js');
  if (!existsSync(cli)) {
    process.stderr.write(`bench: building baseline ${ref} (${sha}) into var/baseline/${sha}\n`);
    mkdirSync(dir, { recursive: true });
    const tar = execFileSync('git', ['archive', sha, 'src', 'tsconfig.json', 'tsconfig.build.json'], { cwd: root, maxBuffer: 1 << 28 });
    execFileSync('tar', ['-x', '-C', dir], { input: tar });
    execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.build.json')], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return `var/baseline/${sha}/dist/cli.js`;
}
