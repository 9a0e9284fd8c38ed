/**
 * The one schema of palisade's configuration. Everything else derives from it: the
 * TypeScript types (`Config`, `ConfigInput`), the JSON Schema in
 * config/palisade.schema.json (npm run schema; a test fails when it is stale), and the
 * reference in docs/config.md. Every object is strict (unknown keys are errors) and
 * every field states its default.
 */
import { z } from 'zod';
import { crossCheckDefenses, defensesConfigSchema } from '../defend/config.js';
import { duration, size } from './fields.js';
import { parseListen } from './units.js';
import { telemetryConfigSchema } from '../telemetry/config.js';
import { crossCheckDetectors, detectorsConfigSchema, modelDetectorsSchema } from '../detect/config.js';
import { authConfigSchema, authCrossCheck, criticalitySchema } from '../auth/config.js';
import { crossCheckLimits, limitsConfigSchema, modelLimitsSchema } from '../limits/config.js';
import { stateConfigSchema } from '../state/config.js';
import { overloadConfigSchema } from '../server/overload.js';

/** The unit fields live in fields.ts (section schemas elsewhere import them from there). */
export { duration, size, rate } from './fields.js';

const listen = () =>
  z.string().transform((v, ctx) => {
    const l = parseListen(v);
    if (l === undefined) {
      ctx.issues.push({ code: 'custom', input: v, message: `invalid listen address "${v}" (expected host:port)` });
      return z.NEVER;
    }
    return l;
  });

const filePath = () => z.string().min(1);

export const PROTOCOLS = ['openai', 'kserve-v2', 'tfserving', 'raw'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

const serverTls = z
  .strictObject({
    cert: filePath().describe('PEM certificate chain file of the main listener.'),
    key: filePath().describe('PEM private key file of the main listener.'),
    clientCa: filePath().optional().describe('PEM CA bundle that client certificates must chain to (mTLS).'),
    requestClientCert: z.boolean().default(false).describe('Ask clients for a certificate (mTLS).'),
    requireClientCert: z
      .boolean()
      .default(false)
      .describe('Refuse the TLS handshake without a client certificate that verifies against clientCa.'),
  })
  .describe('Serve HTTPS on the main listener. Files are re-read on reload.');

const server = z
  .strictObject({
    listen: listen().prefault('0.0.0.0:8080').describe('Main listener, host:port.'),
    tls: serverTls.optional(),
    admin: z
      .strictObject({
        listen: listen().prefault('127.0.0.1:9090').describe('Admin listener (/healthz, /readyz, /metrics), host:port.'),
      })
      .prefault({})
      .describe('The admin listener; keep it off the public network.'),
    bodyLimit: size().prefault('1mb').describe('Largest request body a route accepts (a model may set a smaller one).'),
    maxHeaderSize: size()
      .prefault('16kb')
      .describe('Largest request head (the request target and header names and values); past it, 431.'),
    maxHeaderCount: z
      .number()
      .int()
      .min(1)
      .max(10000)
      .default(128)
      .describe('Most request header lines; past it, 431 (node would drop the rest silently).'),
    headersTimeout: duration().prefault('10s').describe('Time a client has to send all request headers (slowloris bound).'),
    requestTimeout: duration()
      .prefault('30s')
      .describe('Time a client has to send the whole request, headers and body (slow-POST bound). Never 0.'),
    keepAliveTimeout: duration().prefault('5s').describe('How long an idle client connection stays open.'),
    drainTimeout: duration().prefault('10s').describe('On SIGTERM, how long in-flight requests may take before exit.'),
    maxJsonDepth: z.number().int().min(1).max(1000).default(64).describe('Deepest nesting a JSON request body may have.'),
    trustedProxies: z
      .array(z.string())
      .default([])
      .describe('Peers (IPs) whose x-forwarded-for is believed. Others are keyed by their socket address.'),
    maxConnections: z
      .number()
      .int()
      .min(0)
      .default(10000)
      .describe('Open client connections on the main listener; past it, new connections are closed at once. 0: no bound (the file descriptor limit).'),
    maxConnectionsPerClient: z
      .number()
      .int()
      .min(0)
      .default(256)
      .describe('Open connections (busy or idle) per client address (the socket peer; trusted proxies are exempt); past it, new ones are closed at once. 0: no bound.'),
    overload: overloadConfigSchema,
  })
  .prefault({});

const upstreamTls = z.strictObject({
  ca: filePath().optional().describe('PEM CA bundle to verify the upstream certificate (default: system CAs).'),
  cert: filePath().optional().describe('PEM client certificate for mTLS to the upstream.'),
  key: filePath().optional().describe('PEM client key for mTLS to the upstream.'),
  servername: z.string().optional().describe('SNI and certificate name to expect.'),
  rejectUnauthorized: z.boolean().default(true).describe('Verify the upstream certificate. Turn off only in a lab.'),
});

const upstream = z.strictObject({
  protocol: z.enum(PROTOCOLS).describe('Wire protocol the upstream speaks.'),
  url: z.url({ protocol: /^https?$/ }).describe('Base URL of the model server, e.g. http://127.0.0.1:8000.'),
  timeouts: z
    .strictObject({
      connect: duration().prefault('2s').describe('TCP (and TLS) connect timeout.'),
      headers: duration()
        .prefault('30s')
        .describe('Time until the upstream sends response headers (checked about twice a second: up to ~1 s late).'),
      body: duration()
        .prefault('60s')
        .describe('Longest silence between two body chunks of the upstream response (checked about twice a second: up to ~1 s late).'),
    })
    .prefault({}),
  pool: z
    .strictObject({
      connections: z.number().int().min(1).max(4096).default(128).describe('Most connections to this upstream.'),
      keepAlive: duration().prefault('30s').describe('How long an idle upstream connection is kept.'),
    })
    .prefault({}),
  maxResponseSize: size().prefault('32mb').describe('Largest upstream response body; past it the response fails with 502.'),
  retries: z
    .number()
    .int()
    .min(0)
    .max(5)
    .default(1)
    .describe('Retries of a request whose connection failed before any byte was sent (the only safe retry).'),
  circuitBreaker: z
    .strictObject({
      failureThreshold: z.number().int().min(1).default(5).describe('Consecutive failures that open the circuit.'),
      cooldown: duration().prefault('10s').describe('How long an open circuit refuses before a half-open probe.'),
    })
    .prefault({}),
  healthPath: z.string().startsWith('/').optional().describe('Path probed by /readyz (default: per protocol).'),
  tls: upstreamTls.optional(),
});

const model = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/)
    .describe('Model name that clients use (path or body).'),
  upstream: z.string().describe('Name of an entry of `upstreams`.'),
  upstreamModel: z.string().optional().describe('Model name at the upstream, when it differs (the gateway rewrites it).'),
  bodyLimit: size().optional().describe('Largest request body for this model (default: server.bodyLimit).'),
  pathPrefix: z
    .string()
    .regex(/^\/[A-Za-z0-9._~\/-]*[A-Za-z0-9._~-]$/)
    .optional()
    .describe('raw protocol only: requests under this prefix go to the upstream with the prefix removed (default /raw/<name>).'),
  defense: z.string().optional().describe('Name of an entry of `defenses.policies`: the output defense of this model.'),
  passRawWhenUndefended: z
    .boolean()
    .default(false)
    .describe('Pass an upstream response that the protocol adapter cannot parse through unchanged instead of 502. Only for a model without an enforced defense.'),
  detectors: modelDetectorsSchema,
  criticality: criticalitySchema,
  limits: modelLimitsSchema.optional(),
});

const demo = z
  .strictObject({
    llm: z.strictObject({ listen: listen() }).optional().describe('Start the demo OpenAI-compatible LLM server here.'),
    kserve: z
      .strictObject({ listen: listen() })
      .optional()
      .describe('Start the demo KServe v2 / TF Serving server (MNIST on ONNX) here.'),
  })
  .describe('Demo upstreams started in-process before the gateway (for `npm start`; not for production).');

export const configSchema = z
  .strictObject({
    server,
    upstreams: z.record(z.string().regex(/^[A-Za-z0-9._-]+$/), upstream).describe('Model servers, by name.'),
    models: z.array(model).min(1).describe('Models that clients may call, and the upstream that serves each.'),
    demo: demo.optional(),
    defenses: defensesConfigSchema.prefault({}),
    detectors: detectorsConfigSchema.prefault({}),
    auth: authConfigSchema.optional(),
    state: stateConfigSchema,
    limits: limitsConfigSchema,
    telemetry: telemetryConfigSchema,
  })
  .describe('palisade gateway configuration');

export interface CrossProblem {
  path: (string | number)[];
  message: string;
}

/**
 * Checks that span sections (a model's upstream exists, names are unique). They read
 * the raw input leniently, so they run even when the schema found other problems and
 * every problem is listed in one go.
 */
export function crossCheck(input: unknown): CrossProblem[] {
  const out: CrossProblem[] = [];
  const c = (input ?? {}) as { upstreams?: unknown; models?: unknown; server?: { tls?: Record<string, unknown> } };
  const upstreams = c.upstreams && typeof c.upstreams === 'object' ? (c.upstreams as Record<string, { protocol?: unknown }>) : {};
  const models = Array.isArray(c.models) ? c.models : [];
  const seen = new Map<string, number>();
  models.forEach((m: unknown, i) => {
    if (!m || typeof m !== 'object') return;
    const { name, upstream, pathPrefix } = m as Record<string, unknown>;
    if (typeof upstream === 'string') {
      const up = Object.hasOwn(upstreams, upstream) ? upstreams[upstream] : undefined;
      if (!up) out.push({ path: ['models', i, 'upstream'], message: `unknown upstream "${upstream}"` });
      else if (pathPrefix !== undefined && up.protocol !== 'raw') {
        out.push({
          path: ['models', i, 'pathPrefix'],
          message: `pathPrefix applies to raw upstreams only ("${upstream}" speaks ${String(up.protocol)})`,
        });
      }
    }
    if (typeof name === 'string') {
      const prev = seen.get(name);
      if (prev !== undefined) out.push({ path: ['models', i, 'name'], message: `duplicate model "${name}" (also models[${prev}])` });
      else seen.set(name, i);
    }
  });
  out.push(...crossCheckDefenses(input));
  out.push(...crossCheckDetectors(input));
  out.push(...crossCheckLimits(input, new Set(seen.keys())));
  const tls = c.server?.tls;
  if (tls && (tls.requestClientCert || tls.requireClientCert) && !tls.clientCa) {
    out.push({ path: ['server', 'tls'], message: 'client certificates need clientCa' });
  }
  out.push(...authCrossCheck(input));
  return out;
}

/** The validated, unit-parsed config. */
export type Config = z.output<typeof configSchema>;
/** The config as written in YAML. */
export type ConfigInput = z.input<typeof configSchema>;
export type UpstreamConfig = Config['upstreams'][string];
export type ModelConfig = Config['models'][number];

/** The JSON Schema of the YAML file (what editors and `palisade validate` check against). */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
}
