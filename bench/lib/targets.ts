/**
 * What the scenarios run against: the demo upstreams, gateway configurations, and the
 * peers (a bare @fastify/http-proxy app, a raw node proxy, nginx). Each is a separate
 * process, started only when a scenario needs it, and each says why it cannot run
 * when it cannot (nginx absent, Redis down, a config the schema on this branch rejects).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { formatProblem, loadConfigFile, resolveConfigPath } from '../../src/config/load.js';
import { freePort, gatewayLine, listeningLine, startProc, type Proc } from './proc.js';

export type TargetName = string;

export interface TargetContext {
  root: string;
  /** Started targets by name (upstreams a target points at are started first). */
  started: Map<TargetName, Proc>;
}

export interface TargetSpec {
  name: TargetName;
  /** Targets this one forwards to. */
  upstreams: TargetName[];
  /** Why it cannot run here, or undefined when it can. */
  unavailable(root: string): Promise<string | undefined>;
  start(ctx: TargetContext): Promise<Proc>;
  /** Set on gateway targets (so that a baseline build of the same config can be made). */
  gateway?: { config: string; upstreams: TargetName[]; requires: 'redis'[] };
}

const NODE = process.execPath;

/**
 * With `--pin` (bench/run.ts), the measured proxy gets a CPU of its own (PROXY_CPU) and the
 * upstreams share the other with the load generator: a sidecar given its own core, instead
 * of three processes the scheduler moves across two.
 */
export const PROXY_CPU = '1';
export const CLIENT_CPU = '0';
let pinning = false;
export function pinProxies(on: boolean): void {
  pinning = on;
}
/** The CPUs a target runs on: a target with upstreams is a proxy. */
const cpusFor = (upstreams: readonly TargetName[]): string | undefined => (pinning ? (upstreams.length ? PROXY_CPU : CLIENT_CPU) : undefined);

/** A TypeScript server script that prints `{"listening": URL}`. */
export function scriptTarget(name: string, script: string, args: (ctx: TargetContext) => string[], upstreams: TargetName[] = []): TargetSpec {
  return {
    name,
    upstreams,
    unavailable: async () => undefined,
    start: (ctx) => startProc({ name, command: NODE, args: ['--import', 'tsx', script, ...args(ctx)], cwd: ctx.root, readyLine: listeningLine, cpus: cpusFor(upstreams) }),
  };
}

/** Environment the bench gateway configs read their upstream URLs from. */
function gatewayEnv(ctx: TargetContext | undefined): NodeJS.ProcessEnv {
  const url = (n: string) => ctx?.started.get(n)?.url ?? 'http://127.0.0.1:9';
  return { ...process.env, BENCH_LLM_URL: url('llm'), BENCH_KSERVE_URL: url('kserve'), BENCH_DIR: ctx?.root ? join(ctx.root, 'bench') : 'bench' };
}

/**
 * A gateway process on one config, compiled (dist/cli.js) as the Docker image runs it.
 * `requires` lists what else it needs (e.g. `redis`).
 */
export function gatewayTarget(name: string, config: string, upstreams: TargetName[], requires: ('redis')[] = [], cli = 'dist/cli.js'): TargetSpec {
  return {
    name,
    upstreams,
    gateway: { config, upstreams, requires },
    async unavailable(root) {
      const r = loadConfigFile(join(root, config), gatewayEnv(undefined));
      if (!r.ok) {
        const first = r.problems.slice(0, 3).map((p) => formatProblem(p).replace(`${root}/`, '')).join('; ');
        return `${config} does not validate against the schema on this branch (its stages are not merged yet): ${first}`;
      }
      for (const [name, pkg] of Object.entries(r.loaded.config.detectors?.packages ?? {})) {
        if (!pkg.path) continue;
        const dir = resolveConfigPath(r.loaded, pkg.path);
        if (!existsSync(join(dir, 'manifest.json'))) return `detector package ${name} is not in the repository yet (${relative(root, dir)}; it comes with its detector branch)`;
      }
      if (requires.includes('redis') && !(await reachable(6379))) return 'Redis is not reachable at 127.0.0.1:6379';
      return undefined;
    },
    start: (ctx) =>
      startProc({
        name,
        command: NODE,
        args: [cli, 'start', '-c', config],
        cwd: ctx.root,
        env: gatewayEnv(ctx),
        readyLine: gatewayLine,
        cpus: cpusFor(upstreams),
      }),
  };
}

/** nginx as a plain reverse proxy (one worker, upstream keep-alive), when installed. */
export function nginxTarget(name: string, upstream: TargetName): TargetSpec {
  return {
    name,
    upstreams: [upstream],
    async unavailable() {
      return nginxVersion() ? undefined : 'nginx is not installed (apt-get install -y nginx)';
    },
    async start(ctx) {
      const up = new URL(ctx.started.get(upstream)!.url);
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'palisade-bench-nginx-'));
      for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d));
      writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir, port, up.host));
      // One process (master_process off) so that /proc/PID/stat is the whole proxy;
      // one worker is also what a single node process gets: one core.
      const proc = await startProc({
        name,
        command: 'nginx',
        args: ['-e', 'stderr', '-p', dir, '-c', join(dir, 'nginx.conf')],
        cwd: dir,
        pollUrl: `http://127.0.0.1:${port}/v1/models`,
        cpus: cpusFor([upstream]),
      });
      return {
        ...proc,
        async stop() {
          await proc.stop();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

function nginxConf(dir: string, port: number, upstreamHost: string): string {
  return `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 2m;
  upstream model { server ${upstreamHost}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://model;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** `nginx -v` output (e.g. "nginx/1.22.1"), or undefined when nginx is absent. */
export function nginxVersion(): string | undefined {
  const r = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return `${r.stdout}${r.stderr}`.trim().replace(/^nginx version: /, '') || 'nginx';
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
