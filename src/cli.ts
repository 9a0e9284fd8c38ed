/**
 * `palisade`: the command line. Thin: it parses arguments and calls library functions
 * that the tests call too.
 */
import { createReadStream, existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { hashApiKey, newApiKey } from './auth/api-keys.js';
import { demoBearer, mintToken } from './auth/mint.js';
import { SIGNING_ALGORITHMS, writeKeyPair, type SigningAlg } from './auth/signing-keys.js';
import { formatProblem, loadConfigFile } from './config/load.js';
import { parseDuration } from './config/units.js';
import { demoCommands, startDemoUpstreams, type DemoUpstreams } from './demo/start.js';
import { runDetect } from './detect/detect-command.js';
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
  palisade detect --package DIR [--input FILE] [--trusted-key JWK]... [--allow-unsigned] [--threshold X]
                                  score JSON lines {"text"} (text package) or {"tensor","shape"} (tensor
                                  package) (stdin by default); writes {"score","flagged"} per line, in order
  palisade token keys [--out DIR] [--alg ES256|ES384|EdDSA] [--kid KID]
                                  write a new gateway key pair (private JWK, public JWKS)
  palisade token mint -c FILE --sub ID [--tenant T] [--scope S ...] [--role R ...]
                      [--ttl 5m] [--model NAME] [--acr ACR]
                                  print a token that a gateway started with FILE accepts
  palisade token api-key --id ID [--tenant T] [--scope S ...] [--role R ...]
                                  print a new API key and the config entry with its hash
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
    case 'detect':
      return detect(rest);
    case 'token':
      return token(rest);
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

/** The demo public key shipped with the repository, trusted by `detect` when no --trusted-key is given. */
const DEMO_PUBLIC_KEY = fileURLToPath(new URL('../models/keys/palisade-models.pub.jwk', import.meta.url));

async function detect(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      package: { type: 'string' },
      input: { type: 'string' },
      'trusted-key': { type: 'string', multiple: true },
      'allow-unsigned': { type: 'boolean', default: false },
      threshold: { type: 'string' },
    },
    allowPositionals: false,
  });
  if (!values.package) throw new UsageError('--package DIR is required');
  const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
  if (threshold !== undefined && !(threshold >= 0 && threshold <= 1)) throw new UsageError('--threshold must be a number in [0, 1]');
  const keys = values['trusted-key'] ?? (existsSync(DEMO_PUBLIC_KEY) ? [DEMO_PUBLIC_KEY] : []);
  try {
    await runDetect({
      packageDir: values.package,
      trustedKeys: keys,
      allowUnsigned: values['allow-unsigned'],
      threshold,
      input: values.input ? createReadStream(values.input) : process.stdin,
      output: process.stdout,
      warn: (m) => process.stderr.write(`palisade: warning: ${m}\n`),
    });
  } catch (err) {
    process.stderr.write(`palisade: ${(err as Error).message}\n`);
    return 1;
  }
  return 0;
}

async function token(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'keys':
      return tokenKeys(rest);
    case 'mint':
      return tokenMint(rest);
    case 'api-key':
      return tokenApiKey(rest);
    default:
      throw new UsageError(`palisade token keys | mint | api-key (got "${sub ?? ''}")`);
  }
}

async function tokenKeys(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' }, alg: { type: 'string' }, kid: { type: 'string' } } });
  const alg = (values.alg ?? 'ES256') as SigningAlg;
  if (!SIGNING_ALGORITHMS.includes(alg)) throw new UsageError(`--alg must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
  const k = await writeKeyPair(values.out ?? '.', { alg, kid: values.kid });
  process.stdout.write(`kid ${k.kid}\nprivate ${k.privateFile}   (auth.tokenExchange.keys; keep it secret)\npublic  ${k.publicFile}   (a JWKS, for issuers[].jwks.file elsewhere)\n`);
  return 0;
}

async function tokenMint(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      sub: { type: 'string' },
      tenant: { type: 'string' },
      scope: { type: 'string', multiple: true },
      role: { type: 'string', multiple: true },
      ttl: { type: 'string' },
      model: { type: 'string' },
      acr: { type: 'string' },
    },
  });
  if (!values.config) throw new UsageError('-c FILE is required');
  if (!values.sub) throw new UsageError('--sub ID is required');
  const ttlMs = values.ttl === undefined ? undefined : parseDuration(values.ttl);
  if (ttlMs === 0 || (values.ttl !== undefined && ttlMs === undefined)) throw new UsageError(`--ttl: invalid duration "${values.ttl}"`);
  const r = loadConfigFile(values.config);
  if (!r.ok) {
    for (const p of r.problems) process.stderr.write(`${formatProblem(p)}\n`);
    return 1;
  }
  const t = await mintToken(r.loaded, {
    sub: values.sub,
    tenant: values.tenant,
    scopes: values.scope?.flatMap((s) => s.split(' ').filter(Boolean)),
    roles: values.role,
    ttlMs,
    model: values.model,
    acr: values.acr,
  });
  process.stdout.write(`${t}\n`);
  return 0;
}

function tokenApiKey(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: { id: { type: 'string' }, tenant: { type: 'string' }, scope: { type: 'string', multiple: true }, role: { type: 'string', multiple: true } },
  });
  if (!values.id) throw new UsageError('--id ID is required');
  const key = newApiKey();
  const entry = [
    `- id: ${JSON.stringify(values.id)}`,
    `  hash: ${hashApiKey(key)}`,
    ...(values.tenant ? [`  tenant: ${JSON.stringify(values.tenant)}`] : []),
    `  scopes: ${JSON.stringify(values.scope ?? [])}`,
    ...(values.role ? [`  roles: ${JSON.stringify(values.role)}`] : []),
  ].join('\n');
  process.stdout.write(`key (give it to the service; it is not stored anywhere):\n${key}\n\nentry for auth.apiKeys.keys:\n${entry}\n`);
  return 0;
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
    const cmds = demoCommands(running.current.config, running.url, await demoBearer(running.current.loaded));
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
