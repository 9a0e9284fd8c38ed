/**
 * `palisade`: the command line. Thin: it parses arguments and calls library functions
 * that the tests call too.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { formatProblem, loadConfigFile } from './config/load.js';
import { Gateway } from './server/gateway.js';
import { generateSigningKey, loadVerifyKey } from './telemetry/audit/keys.js';
import { formatVerdict, verifyAuditFiles } from './telemetry/audit/verify.js';

const USAGE = `usage:
  palisade start [-c FILE]        run the gateway (default config/default.yaml)
  palisade validate -c FILE       check a config; exit 0, or print every problem and exit 1
  palisade audit verify [--key PEM] [--expect-seq N] [--json] FILE...
                                  check an audit log (its files in order): exit 0 when the chain
                                  and signatures verify, 1 when tampered or cut, 2 on usage errors
  palisade audit keygen FILE      write a new Ed25519 signing key (FILE) and its public key (.pub.pem)
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'start':
      return start(rest);
    case 'validate':
      return validate(rest);
    case 'audit':
      return audit(rest);
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

/** `palisade audit verify|keygen`. */
export async function audit(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'keygen') {
    const { positionals } = parseArgs({ args: rest, allowPositionals: true });
    if (positionals.length !== 1) throw new UsageError('audit keygen FILE');
    const { privateFile, publicFile } = generateSigningKey(positionals[0]);
    process.stdout.write(`wrote ${privateFile} (private, keep it secret) and ${publicFile} (give it to verifiers)\n`);
    return 0;
  }
  if (sub !== 'verify') throw new UsageError('audit verify|keygen');
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { key: { type: 'string', short: 'k' }, 'expect-seq': { type: 'string' }, json: { type: 'boolean' } },
      allowPositionals: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError('audit verify needs at least one FILE');
  for (const f of positionals) if (!existsSync(f)) throw new UsageError(`no such file: ${f}`);
  const expect = values['expect-seq'];
  if (expect !== undefined && !/^\d+$/.test(expect)) throw new UsageError('--expect-seq takes a sequence number');
  const verdict = await verifyAuditFiles(positionals, {
    key: values.key ? await loadVerifyKey(values.key) : undefined,
    expectSeq: expect === undefined ? undefined : Number(expect),
  });
  process.stdout.write(values.json ? `${JSON.stringify(verdict, null, 2)}\n` : formatVerdict(verdict));
  return verdict.ok && verdict.tail.truncated !== 'yes' ? 0 : 1;
}

async function start(args: string[]): Promise<number> {
  const file = configArg(args, false) ?? 'config/default.yaml';
  let gw: Gateway;
  try {
    gw = await Gateway.start({ configFile: file });
  } catch (err) {
    process.stderr.write(`palisade: ${(err as Error).message}\n`);
    return 1;
  }
  process.on('SIGHUP', () => void gw.reload());
  const shutdown = (sig: string) => {
    gw.logger.info({ signal: sig }, 'draining');
    gw.stop().then(
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
