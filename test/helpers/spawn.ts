/**
 * Starts a server script as a real child process, the way tests run every upstream:
 * `node --import tsx <script> --port 0 ...args`, then waits for the one stdout line
 * `{"listening":"http://HOST:PORT"}` the script prints once it accepts connections.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STDERR_KEEP = 16 * 1024;

/** A spawned server. */
export interface SpawnedServer {
  /** Base URL from the listening line, e.g. `http://127.0.0.1:40123`. */
  url: string;
  child: ChildProcess;
  /** Sends SIGTERM and resolves once the process has exited (SIGKILL after `killAfterMs`). */
  stop(): Promise<void>;
  /** What the child wrote to stderr so far (last 16 KiB). */
  stderr(): string;
}

/** Options of {@link spawnServer}. */
export interface SpawnOptions {
  /** How long to wait for the listening line; default 20 s (tsx compiles on a busy 2-core machine). */
  timeoutMs?: number;
  /** Grace period after SIGTERM before SIGKILL; default 5 s. */
  killAfterMs?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * Spawns `script` (absolute, or relative to the repository root) with `--port 0` and
 * `args`. Rejects, with the child's stderr in the message, if it exits or times out
 * before printing the listening line; the child is killed in that case.
 *
 * @example
 * const llm = await spawnServer('src/demo/llm-server.ts', ['--token-delay-ms', '5']);
 * try { await fetch(`${llm.url}/v1/models`); } finally { await llm.stop(); }
 */
export function spawnServer(script: string, args: string[] = [], opts: SpawnOptions = {}): Promise<SpawnedServer> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const killAfterMs = opts.killAfterMs ?? 5_000;
  const path = isAbsolute(script) ? script : resolve(ROOT, script);
  // cwd is the repository root so that `--import tsx` resolves from our node_modules.
  const child = spawn(process.execPath, ['--import', 'tsx', path, '--port', '0', ...args], {
    cwd: ROOT,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    stderr = (stderr + s).slice(-STDERR_KEEP);
  });
  const exited = new Promise<void>((res) => {
    if (child.exitCode !== null || child.signalCode !== null) res();
    else child.once('exit', () => res());
  });

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      await exited;
      clearTimeout(timer);
    }
  };

  return new Promise<SpawnedServer>((resolvePromise, reject) => {
    let stdout = '';
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      // Report once the process is gone so its last stderr words are included.
      void exited.then(() => reject(new Error(`${script}: ${why}\n--- stderr ---\n${stderr}`)));
    };
    const timer = setTimeout(() => fail(`no listening line within ${timeoutMs} ms`), timeoutMs);
    child.once('error', (err) => fail(`spawn failed: ${err.message}`));
    child.once('exit', (code, signal) => fail(`exited (code ${code}, signal ${signal}) before listening`));
    child.stdout!.setEncoding('utf8');
    const onData = (s: string): void => {
      stdout += s;
      let nl: number;
      while (!settled && (nl = stdout.indexOf('\n')) !== -1) {
        const line = stdout.slice(0, nl).trim();
        stdout = stdout.slice(nl + 1);
        let url: unknown;
        try {
          url = (JSON.parse(line) as { listening?: unknown }).listening;
        } catch {
          continue; // not our line: a script may log before it listens
        }
        if (typeof url !== 'string') continue;
        settled = true;
        clearTimeout(timer);
        // Keep draining stdout so a chatty child never blocks on a full pipe.
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolvePromise({ url, child, stop, stderr: () => stderr });
      }
    };
    child.stdout!.on('data', onData);
  });
}
