/**
 * `palisade`: the command line. Thin: it parses arguments and calls library functions
 * that the tests call too.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { formatProblem, loadConfigFile } from './config/load.js';
import { demoCommands, startDemoUpstreams, type DemoUpstreams } from './demo/start.js';
import { Gateway } from './server/gateway.js';

const USAGE = `usage:
  palisade start [-c FILE]        run the gateway (default config/default.yaml)
  palisade validate -c FILE       check a config; exit 0, or print every problem and exit 1
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'start':
      return start(rest);
    case 'validate':
      return validate(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return cmd === undefined ? 1 : 0;
    default:
      process.stderr.write(`unknown command "${cmd}"\n${USAGE}`);
      return 2;
  }
}

function configArg(args: string[], required: boolean): string | undefined {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, allowPositionals: false });
  if (!values.config && required) throw new UsageError('-c FILE is required');
  return values.config;
}

class UsageError extends Error {}

export function validate(args: string[]): number {
  const file = configArg(args, true)!;
  const r = loadConfigFile(file);
  if (r.ok) {
    process.stdout.write(`${file}: ok (${r.loaded.config.models.length} models, ${Object.keys(r.loaded.config.upstreams).length} upstreams)\n`);
    return 0;
  }
  for (const p of r.problems) process.stdout.write(`${formatProblem(p)}\n`);
  process.stdout.write(`${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}\n`);
  return 1;
}

async function start(args: string[]): Promise<number> {
  const file = configArg(args, false) ?? 'config/default.yaml';
  const loaded = loadConfigFile(file);
  if (!loaded.ok) {
    process.stderr.write(`palisade: invalid config ${file}:\n${loaded.problems.map(formatProblem).join('\n')}\n`);
    return 1;
  }
  const config = loaded.loaded.config;
  let demo: DemoUpstreams | undefined;
  let gw: Gateway | undefined;
  // Before the gateway says it listens: a SIGHUP that comes right after that line must
  // reload, not kill the process (the default action of SIGHUP). One that comes while
  // starting is moot: the config is being read anyway.
  process.on('SIGHUP', () => void gw?.reload());
  try {
    if (config.demo) demo = await startDemoUpstreams(config.demo);
    gw = await Gateway.start({ configFile: file });
  } catch (err) {
    await demo?.close();
    process.stderr.write(`palisade: ${(err as Error).message}\n`);
    return 1;
  }
  const running = gw;
  if (config.demo) {
    const cmds = demoCommands(running.current.config, running.url);
    process.stderr.write(`\npalisade is ready on ${running.url} (admin ${running.adminUrl}). Try:\n\n${cmds.map((c) => `  ${c}\n`).join('\n')}\n`);
  }
  const shutdown = (sig: string) => {
    const gw = running;
    gw.logger.info({ signal: sig }, 'draining');
    gw.stop().then(() => demo?.close()).then(
      () => process.exit(0),
      (err) => {
        gw.logger.error({ err }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  return new Promise<number>(() => {});
}

/** Runs the CLI as a process: exit code, and usage errors as exit 2. */
export function run(argv: string[]): void {
  main(argv).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`palisade: ${err instanceof UsageError ? err.message : (err as Error).stack}\n`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) run(process.argv.slice(2));
