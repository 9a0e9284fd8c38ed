/**
 * The processes a benchmark runs against: each is a real child process, started once
 * and measured from outside (its CPU time from /proc/PID/stat, so node, nginx and the
 * gateway are measured the same way).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A running process under test. */
export interface Proc {
  readonly name: string;
  readonly pid: number;
  /** Base URL it serves on. */
  readonly url: string;
  /** CPU time (user + system) of the process so far, in microseconds. */
  cpuMicros(): number;
  /** Last 16 KiB of stderr (and stdout lines that were not the ready line). */
  log(): string;
  stop(): Promise<void>;
}

export interface SpawnSpec {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Returns the base URL when a stdout line says the process is ready. */
  readyLine?: (line: string) => string | undefined;
  /** Or: the URL to poll until it answers (for processes that print nothing). */
  pollUrl?: string;
  timeoutMs?: number;
  /** CPUs to run on (`taskset -c` list, e.g. "1"); default: wherever the scheduler puts it. */
  cpus?: string;
}

const TICK_US = 1e6 / clockTicks();

function clockTicks(): number {
  // CLK_TCK is 100 on every Linux we run on; getconf is not worth a process.
  return Number(process.env.CLK_TCK ?? 100);
}

/** utime + stime of a process, in microseconds (Linux /proc). */
export function cpuMicrosOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  return (Number(rest[11]) + Number(rest[12])) * TICK_US;
}

/** The `{"listening":"URL"}` line that the demo servers and the peers print. */
export function listeningLine(line: string): string | undefined {
  try {
    const v = (JSON.parse(line) as { listening?: unknown }).listening;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The gateway's pino line `palisade listening` with its URL. */
export function gatewayLine(line: string): string | undefined {
  try {
    const v = JSON.parse(line) as { msg?: unknown; url?: unknown };
    return v.msg === 'palisade listening' && typeof v.url === 'string' ? v.url : undefined;
  } catch {
    return undefined;
  }
}

/** A TCP port that was free a moment ago (for processes that cannot report theirs). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts a process and waits until it is ready. Rejects with its log if it is not. */
export async function startProc(spec: SpawnSpec): Promise<Proc> {
  // taskset execs the command: the PID (whose /proc/PID/stat is read for CPU) is the command's.
  const [command, args] = spec.cpus ? ['taskset', ['-a', '-c', spec.cpus, spec.command, ...spec.args]] : [spec.command, spec.args];
  const child = spawn(command, args, { cwd: spec.cwd, env: spec.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (s: string) => {
    log = (log + s).slice(-16 * 1024);
  };
  child.stderr!.setEncoding('utf8').on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const timeoutMs = spec.timeoutMs ?? 30_000;
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${spec.name}: not ready within ${timeoutMs} ms\n${log}`)), timeoutMs);
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`${spec.name}: exited (${code ?? sig}) before it was ready\n${log}`));
      });
      child.once('error', (err) => reject(err));
      let buf = '';
      child.stdout!.setEncoding('utf8').on('data', (s: string) => {
        buf += s;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const url = spec.readyLine?.(line);
          if (url) {
            clearTimeout(timer);
            resolve(url);
          } else keep(`${line}\n`);
        }
      });
      if (spec.pollUrl) {
        const poll = (): void => {
          fetch(spec.pollUrl!).then(
            (r) => {
              void r.arrayBuffer();
              clearTimeout(timer);
              resolve(new URL(spec.pollUrl!).origin);
            },
            () => setTimeout(poll, 100),
          );
        };
        poll();
      }
    });
    return makeProc(spec.name, child, url, exited, () => log);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
}

function makeProc(name: string, child: ChildProcess, url: string, exited: Promise<void>, log: () => string): Proc {
  const pid = child.pid!;
  return {
    name,
    pid,
    url,
    cpuMicros: () => cpuMicrosOf(pid),
    log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}
