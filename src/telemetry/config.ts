/**
 * The `telemetry` section of the config: Prometheus metrics (on by default), OpenTelemetry
 * tracing over OTLP/HTTP (off by default) and the hash-chained audit log (on when the
 * section is present). Telemetry is a long-lived service, so a change here takes effect
 * at restart, not on reload.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { duration, size } from '../config/fields.js';

const ipOrCidr = () =>
  z.string().refine((v) => {
    const [ip, bits, extra] = v.split('/');
    if (extra !== undefined) return false;
    const max = isIPv4(ip) ? 32 : isIPv6(ip) ? 128 : -1;
    if (max < 0) return false;
    return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max);
  }, 'expected an IP address or CIDR, e.g. 10.0.0.0/8 or ::1');

const metrics = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Serve Prometheus metrics at /metrics on the admin listener.'),
    process: z.boolean().default(true).describe('Include process metrics (CPU, memory, event loop lag, GC) from prom-client.'),
  })
  .prefault({});

const tracing = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Export spans by OTLP over HTTP (JSON encoding).'),
    endpoint: z
      .url({ protocol: /^https?$/ })
      .default('http://127.0.0.1:4318/v1/traces')
      .describe('OTLP/HTTP traces endpoint (the full URL, including /v1/traces).'),
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9-]+$/), z.string())
      .default({})
      .describe('Headers sent with every export, e.g. an authorization token (use ${ENV} substitution).'),
    samplingRatio: z
      .number()
      .min(0)
      .max(1)
      .default(1)
      .describe('Share of new traces that are sampled. A continued trace follows its parent\'s sampled flag.'),
    serviceName: z.string().min(1).default('palisade').describe('service.name of the exported resource.'),
    trustTraceparentFrom: z
      .array(ipOrCidr())
      .default([])
      .describe(
        'Socket peers (IPs or CIDRs) whose W3C traceparent is continued. From anyone else it is replaced by a new trace. The gateway always sends its own traceparent upstream.',
      ),
    exportTimeout: duration().prefault('10s').describe('Timeout of one OTLP export request.'),
    maxQueueSize: z.number().int().min(1).default(2048).describe('Most finished spans waiting for export; beyond it spans are dropped.'),
  })
  .prefault({});

const audit = z
  .strictObject({
    dir: z.string().min(1).describe('Directory of the audit files (audit-<first seq>.jsonl). Created if missing.'),
    signingKey: z
      .string()
      .min(1)
      .describe('PEM private key (Ed25519, ECDSA P-256/P-384 or RSA) that signs the checkpoints. `palisade audit keygen` makes one.'),
    prompt: z
      .enum(['hash', 'full', 'none'])
      .default('hash')
      .describe('What of the prompt texts a record keeps: their sha256 and byte length (hash), the texts too (full), or nothing (none).'),
    checkpointEvery: z.number().int().min(1).default(1000).describe('Write a signed checkpoint after this many records.'),
    checkpointInterval: duration().prefault('60s').describe('...or after this much time with unsigned records, whichever comes first.'),
    fsync: z
      .enum(['always', 'interval'])
      .default('interval')
      .describe('always: fsync after every write batch (group commit); interval: every fsyncInterval.'),
    fsyncInterval: duration().prefault('1s').describe('How often records are fsynced with fsync: interval.'),
    maxFileSize: size().prefault('64mb').describe('Start a new file past this size; the chain continues across files.'),
    queueSize: z
      .number()
      .int()
      .min(1)
      .default(10000)
      .describe('Records waiting to be written. When full, new records are dropped, counted, and a gap record marks the loss.'),
  })
  .describe('The hash-chained audit log: one JSON line per decision, signed checkpoints. Off when absent.');

export const telemetryConfigSchema = z
  .strictObject({
    metrics,
    tracing,
    audit: audit.optional(),
  })
  .prefault({})
  .describe('Metrics, traces and the audit log. Changes take effect at restart.');

export type TelemetryConfig = z.output<typeof telemetryConfigSchema>;
export type AuditConfig = NonNullable<TelemetryConfig['audit']>;
export type TracingConfig = TelemetryConfig['tracing'];
