/**
 * The audit log writer. `append` is synchronous and cheap (it queues an object); one
 * writer loop serializes, chains, signs and writes the records in batches, off the
 * request path. Details of the format are in chain.ts.
 *
 * - Bounded queue: when `queueSize` records wait, new ones are dropped, counted
 *   (palisade_audit_dropped_total, a warning in the log), and a `gap` record with the
 *   number dropped takes their place in the chain, so the loss is visible in the log.
 * - Durability: `fsync: always` fsyncs every write batch before the next (group commit);
 *   `interval` fsyncs every `fsyncInterval`.
 * - Checkpoints: after `checkpointEvery` records or `checkpointInterval`, whichever comes
 *   first, and before rotating to a new file (`rotate`) and on close (`close`).
 * - Restart: `open` continues the chain from the last complete line of the newest file;
 *   a torn last line (a write cut by a crash) is cut off, and the `start` record that
 *   opens the new session says how many bytes were.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { CompactSign } from 'jose';
import type { Logger } from '../../services.js';
import { AUDIT_FORMAT, GENESIS, auditFileName, auditFileSeq, chainLine, hashLine, type CheckpointPayload, type CheckpointReason } from './chain.js';
import type { SigningKey } from './keys.js';

export interface AuditLogOptions {
  dir: string;
  key: SigningKey;
  checkpointEvery: number;
  /** Milliseconds. */
  checkpointInterval: number;
  fsync: 'always' | 'interval';
  /** Milliseconds. */
  fsyncInterval: number;
  /** Bytes. */
  maxFileSize: number;
  queueSize: number;
  logger?: Logger;
  hooks?: AuditHooks;
  /** Extra fields of the `start` record (version, config file). */
  startInfo?: Record<string, unknown>;
}

/** Counters the writer reports to (metrics). */
export interface AuditHooks {
  written?(type: string): void;
  dropped?(): void;
  writeError?(): void;
  checkpoint?(seq: number): void;
}

/** A record to append: any JSON-serializable object with a `type`. */
export interface AuditEntry {
  type: string;
  [field: string]: unknown;
}

type Item = AuditEntry | Gap;
class Gap {
  constructor(public dropped: number) {}
}

const encoder = new TextEncoder();

export class AuditLog {
  private queue: Item[] = [];
  private running?: Promise<void>;
  private closing = false;
  private closed = false;
  private fh!: FileHandle;
  private file = '';
  private size = 0;
  private seq: number;
  private prev: string;
  private sinceCheckpoint = 0;
  private intervalDue = false;
  private dirty = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private droppedTotal = 0;
  private lastDropWarning = 0;

  private constructor(
    private readonly opts: AuditLogOptions,
    tail: Tail,
  ) {
    this.seq = tail.seq;
    this.prev = tail.prev;
  }

  /** Opens (or creates) the log in `opts.dir` and continues its chain. */
  static async open(opts: AuditLogOptions): Promise<AuditLog> {
    mkdirSync(opts.dir, { recursive: true });
    const tail = await recoverTail(opts.dir);
    const log = new AuditLog(opts, tail);
    log.file = tail.file ?? join(opts.dir, auditFileName(tail.seq + 1));
    log.fh = await open(log.file, 'a', 0o640);
    log.size = (await log.fh.stat()).size;
    const start: AuditEntry = { type: 'start', time: new Date().toISOString(), format: AUDIT_FORMAT, kid: opts.key.kid, pid: process.pid, ...opts.startInfo };
    if (tail.truncatedBytes) start.recovered = { truncatedBytes: tail.truncatedBytes };
    log.queue.push(start);
    await log.flush();
    const ci = setInterval(() => {
      if (log.sinceCheckpoint > 0) {
        log.intervalDue = true;
        log.kick();
      }
    }, opts.checkpointInterval);
    ci.unref();
    log.timers.push(ci);
    if (opts.fsync === 'interval') {
      const fi = setInterval(() => void log.sync(), opts.fsyncInterval);
      fi.unref();
      log.timers.push(fi);
    }
    return log;
  }

  /** Records waiting to be written. */
  get depth(): number {
    return this.queue.length;
  }

  /** Sequence number of the last record written. */
  get lastSeq(): number {
    return this.seq;
  }

  /** The file being written. */
  get currentFile(): string {
    return this.file;
  }

  /**
   * Queues a record. Returns false when it was dropped (queue full, or the log closed).
   * Never throws and never waits.
   */
  append(entry: AuditEntry): boolean {
    if (this.closing) return false;
    const q = this.queue;
    if (q.length >= this.opts.queueSize) {
      const last = q[q.length - 1];
      if (last instanceof Gap) last.dropped++;
      else q.push(new Gap(1));
      this.droppedTotal++;
      this.opts.hooks?.dropped?.();
      const now = Date.now();
      if (now - this.lastDropWarning > 10_000) {
        this.lastDropWarning = now;
        this.opts.logger?.warn({ dropped: this.droppedTotal, queueSize: this.opts.queueSize }, 'audit queue full: records dropped (a gap record marks them)');
      }
      return false;
    }
    q.push(entry);
    this.kick();
    return true;
  }

  /** Resolves once everything queued so far is written and fsynced. */
  async flush(): Promise<void> {
    this.kick();
    while (this.running) await this.running;
    await this.sync();
  }

  /** Writes what is queued, a closing checkpoint, fsyncs and closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    this.kick();
    while (this.running) await this.running;
    await this.writeOut(await this.checkpointLine('close'));
    await this.sync();
    this.closed = true;
    await this.fh.close();
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.run()
      .catch((err) => this.opts.logger?.error({ err }, 'audit writer failed'))
      .finally(() => {
        this.running = undefined;
        if (this.queue.length > 0 || this.intervalDue) this.kick();
      });
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0 || this.intervalDue) {
      const batch = this.queue;
      this.queue = [];
      let out = '';
      for (const item of batch) {
        const entry: AuditEntry = item instanceof Gap ? { type: 'gap', time: new Date().toISOString(), dropped: item.dropped } : item;
        let body: string;
        try {
          body = JSON.stringify(entry);
        } catch (err) {
          // Never lose the place in the chain because of one bad record.
          body = JSON.stringify({ type: 'unserializable', time: new Date().toISOString(), error: (err as Error).message });
        }
        const line = chainLine(this.seq + 1, this.prev, body);
        const bytes = Buffer.byteLength(line) + 1;
        if (this.size + out.length + bytes > this.opts.maxFileSize && this.size + out.length > 0) {
          // Rotation: close this file with a checkpoint, continue the chain in the next.
          out += await this.checkpointLine('rotate');
          await this.writeOut(out);
          out = '';
          await this.rotate();
          const moved = chainLine(this.seq + 1, this.prev, body);
          out += this.commit(moved, entry.type);
        } else {
          out += this.commit(line, entry.type);
        }
        if (this.sinceCheckpoint >= this.opts.checkpointEvery) out += await this.checkpointLine('count');
        // out.length undercounts multi-byte text; rotation is a size target, not a hard cap.
      }
      if (this.intervalDue) {
        this.intervalDue = false;
        if (this.sinceCheckpoint > 0) out += await this.checkpointLine('interval');
      }
      if (out) await this.writeOut(out);
      if (this.opts.fsync === 'always') await this.sync();
    }
  }

  /** Advances the chain over `line` and returns it with its newline. */
  private commit(line: string, type: string): string {
    this.seq++;
    this.prev = hashLine(line);
    if (type !== 'checkpoint') this.sinceCheckpoint++;
    this.opts.hooks?.written?.(type);
    return `${line}\n`;
  }

  private async checkpointLine(reason: CheckpointReason): Promise<string> {
    const seq = this.seq + 1;
    const payload: CheckpointPayload = { seq, prev: this.prev, time: new Date().toISOString(), reason, records: this.sinceCheckpoint };
    const k = this.opts.key;
    const jws = await new CompactSign(encoder.encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: k.alg, kid: k.kid, jwk: k.publicJwk })
      .sign(k.privateKey);
    const line = chainLine(seq, this.prev, JSON.stringify({ type: 'checkpoint', time: payload.time, reason, records: payload.records, jws }));
    this.sinceCheckpoint = 0;
    const out = this.commit(line, 'checkpoint');
    this.opts.hooks?.checkpoint?.(seq);
    return out;
  }

  /** Appends `text`; on failure cuts the file back to its last good size and retries. */
  private async writeOut(text: string): Promise<void> {
    const buf = Buffer.from(text);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.fh.write(buf);
        this.size += buf.length;
        this.dirty = true;
        return;
      } catch (err) {
        this.opts.hooks?.writeError?.();
        this.opts.logger?.error({ err, file: this.file, attempt }, 'audit write failed; retrying');
        await this.fh.truncate(this.size).catch(() => {});
        if (this.closing && attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
      }
    }
  }

  private async rotate(): Promise<void> {
    await this.fh.datasync();
    await this.fh.close();
    this.file = join(this.opts.dir, auditFileName(this.seq + 1));
    this.fh = await open(this.file, 'a', 0o640);
    this.size = 0;
    this.dirty = false;
  }

  private async sync(): Promise<void> {
    if (!this.dirty || this.closed) return;
    this.dirty = false;
    try {
      await this.fh.datasync();
    } catch (err) {
      this.dirty = true;
      this.opts.hooks?.writeError?.();
      this.opts.logger?.error({ err, file: this.file }, 'audit fsync failed');
    }
  }
}

interface Tail {
  /** Seq of the last durable record (0 for a new log). */
  seq: number;
  prev: string;
  /** The newest file, to append to (undefined: start the first file). */
  file?: string;
  truncatedBytes: number;
}

/**
 * Finds where the chain stands: the last complete line of the newest non-empty file. A
 * partial last line is cut off (it was never a whole record).
 */
async function recoverTail(dir: string): Promise<Tail> {
  const files = readdirSync(dir)
    .map((name) => ({ name, seq: auditFileSeq(name) }))
    .filter((f): f is { name: string; seq: number } => f.seq !== undefined)
    .sort((a, b) => a.seq - b.seq);
  let truncatedBytes = 0;
  let appendTo: string | undefined;
  for (let i = files.length - 1; i >= 0; i--) {
    const path = join(dir, files[i].name);
    const fh = await open(path, 'r+');
    try {
      let size = (await fh.stat()).size;
      const lastNl = size === 0 ? -1 : await findLastNewline(fh, size, size);
      if (lastNl + 1 < size) {
        truncatedBytes += size - (lastNl + 1);
        await fh.truncate(lastNl + 1);
        await fh.datasync();
        size = lastNl + 1;
      }
      appendTo ??= path;
      if (size === 0) continue; // a file created just before a crash: its name is the next seq
      const prevNl = await findLastNewline(fh, size - 1, size);
      const len = size - 1 - (prevNl + 1);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, prevNl + 1);
      let seq: unknown;
      try {
        seq = (JSON.parse(buf.toString('utf8')) as { seq?: unknown }).seq;
      } catch {
        seq = undefined;
      }
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq)) {
        throw new Error(`audit log ${path}: the last line is not an audit record; check it with \`palisade audit verify\``);
      }
      return { seq, prev: hashLine(buf), file: appendTo, truncatedBytes };
    } finally {
      await fh.close();
    }
  }
  return { seq: appendTo ? (auditFileSeq(appendTo.slice(dir.length + 1)) ?? 1) - 1 : 0, prev: GENESIS, file: appendTo, truncatedBytes };
}

/** Offset of the last `\n` before `end` (exclusive), or -1. Reads backwards in growing chunks. */
async function findLastNewline(fh: FileHandle, end: number, size: number): Promise<number> {
  let chunk = 64 * 1024;
  let hi = Math.min(end, size);
  while (hi > 0) {
    const lo = Math.max(0, hi - chunk);
    const buf = Buffer.alloc(hi - lo);
    await fh.read(buf, 0, buf.length, lo);
    const i = buf.lastIndexOf(0x0a);
    if (i >= 0) return lo + i;
    hi = lo;
    chunk *= 2;
  }
  return -1;
}
