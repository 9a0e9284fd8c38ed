/**
 * Starts the gateway the way an operator does, as a child process running the CLI
 * (`node --import tsx src/cli.ts start -c FILE`), and finds its URLs in its JSON log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface GatewayProcess {
  url: string;
  adminUrl: string;
  child: ChildProcess;
  /** Log lines (parsed JSON) so far. */
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

/**
 * Spawns the CLI on `configFile` (which should listen on port 0) and waits for "palisade
 * listening". `env`: the child's whole environment (default: this process's).
 */
export function spawnGateway(configFile: string, timeoutMs = 20_000, env?: NodeJS.ProcessEnv): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '-c', configFile], {
    cwd: ROOT,
    env: env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-8192)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  return new Promise((resolve, reject) => {
    let buf = '';
    let done = false;
    const fail = (why: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      void exited.then(() => reject(new Error(`gateway: ${why}\n${stderr}`)));
    };
    const timer = setTimeout(() => fail(`not listening within ${timeoutMs} ms`), timeoutMs);
    child.once('exit', (code) => fail(`exited with ${code}`));
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      buf += s;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let rec: Record<string, unknown>;
        try {
          rec = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        logs.push(rec);
        if (!done && rec.msg === 'palisade listening') {
          done = true;
          clearTimeout(timer);
          resolve({ url: String(rec.url), adminUrl: String(rec.admin), child, logs, stop });
        }
      }
    });
  });
}
