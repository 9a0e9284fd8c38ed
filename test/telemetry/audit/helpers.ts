/**
 * Shared by the audit tests: a temporary directory with a fresh signing key, and a real
 * log written by the real writer.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, type AuditLogOptions } from '../../../src/telemetry/audit/log.js';
import { generateSigningKey, loadSigningKey, type SigningKey } from '../../../src/telemetry/audit/keys.js';

export interface AuditFixture {
  dir: string;
  logDir: string;
  keyFile: string;
  pubFile: string;
  key: SigningKey;
  /** The log's files in chain order. */
  files(): string[];
  open(over?: Partial<AuditLogOptions>): Promise<AuditLog>;
  cleanup(): void;
}

export async function auditFixture(): Promise<AuditFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-audit-'));
  const { privateFile, publicFile } = generateSigningKey(join(dir, 'key.pem'));
  const key = await loadSigningKey(privateFile);
  const logDir = join(dir, 'log');
  return {
    dir,
    logDir,
    keyFile: privateFile,
    pubFile: publicFile,
    key,
    files: () =>
      readdirSync(logDir)
        .filter((f) => f.endsWith('.jsonl'))
        .sort()
        .map((f) => join(logDir, f)),
    open: (over = {}) =>
      AuditLog.open({
        dir: logDir,
        key,
        checkpointEvery: 4,
        checkpointInterval: 60_000,
        fsync: 'always',
        fsyncInterval: 1000,
        maxFileSize: 1 << 20,
        queueSize: 1000,
        ...over,
      }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Writes `n` request records and closes the log. */
export async function writeLog(fx: AuditFixture, n: number, over?: Partial<AuditLogOptions>): Promise<void> {
  const log = await fx.open(over);
  for (let i = 0; i < n; i++) log.append({ type: 'request', id: `req-${i}`, decision: 'allow', status: 200 });
  await log.close();
}
