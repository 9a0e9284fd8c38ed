/**
 * The format of the audit log, shared by the writer and the verifier.
 *
 * A log is a sequence of files `audit-<seq of its first record, 12 digits>.jsonl`, one
 * JSON object per line. Every line starts with `"seq"` (1, 2, 3, ... across files) and
 * `"prev"`: the sha256 (hex) of the exact bytes of the previous line, without its
 * newline; the first record of the chain has 64 zeros. Every few records a `checkpoint`
 * line carries a compact JWS, signed with the gateway's key, over `{seq, prev, time,
 * reason, records}`: the signature vouches for the whole chain up to it.
 */
import { createHash } from 'node:crypto';

export const AUDIT_FORMAT = 1;
export const GENESIS = '0'.repeat(64);

/** Why a checkpoint was written. `close` marks a clean end of the log. */
export type CheckpointReason = 'count' | 'interval' | 'rotate' | 'close';

/** The signed content of a checkpoint (the JWS payload). */
export interface CheckpointPayload {
  /** Sequence number of the checkpoint line itself. */
  seq: number;
  /** Hash of the line before it: the head of the chain it vouches for. */
  prev: string;
  time: string;
  reason: CheckpointReason;
  /** Records since the previous checkpoint. */
  records: number;
}

const FILE = /^audit-(\d{12})\.jsonl$/;

/** The file that starts with record `seq`. */
export function auditFileName(seq: number): string {
  return `audit-${String(seq).padStart(12, '0')}.jsonl`;
}

/** The first seq of an audit file name, or undefined for other names. */
export function auditFileSeq(name: string): number | undefined {
  const m = FILE.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** sha256 hex of a line (a string, or its exact bytes). */
export function hashLine(line: string | Uint8Array): string {
  return createHash('sha256').update(line).digest('hex');
}

/**
 * The line of record `body` (a serialized JSON object) at `seq` after `prev`. The chain
 * fields go first so that a reader sees the order at a glance.
 */
export function chainLine(seq: number, prev: string, body: string): string {
  return `{"seq":${seq},"prev":"${prev}",${body.slice(1)}`;
}
