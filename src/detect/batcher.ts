/**
 * A micro-batcher: concurrent callers submit rows, and rows that arrive together share
 * one model `run`. A batch closes when it holds `maxSize` rows or `maxWaitMs` after its
 * first row (0: once the current callback and its promise jobs are done, a microtask,
 * not an event-loop hop: onnxruntime-node defers the native run to setImmediate itself).
 * While a run is in flight, new rows wait and go together into the next run as soon as
 * it ends, so under load batches grow by themselves and an idle gateway adds no wait.
 */

/** Runs one batch: returns one result per row, in order. */
export type BatchRunner<I, O> = (rows: readonly I[]) => Promise<ArrayLike<O>>;

export interface BatcherOptions {
  /** Most rows in one run (a single submission larger than this runs alone). */
  maxSize: number;
  /** Longest wait for more rows after the first, in ms; 0 closes the batch once the current callback and its promise jobs are done. */
  maxWaitMs: number;
}

interface Pending<I, O> {
  rows: readonly I[];
  resolve(out: O[]): void;
  reject(err: unknown): void;
}

export interface BatcherStats {
  runs: number;
  rows: number;
  /** Largest batch so far, in rows. */
  maxRows: number;
}

export class MicroBatcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private queued = 0;
  private running = false;
  private timer?: NodeJS.Timeout;
  /** A microtask flush is queued (maxWaitMs 0); it cannot be cancelled, and a flush with nothing to run does nothing. */
  private flushQueued = false;
  private readonly flushTask = () => {
    this.flushQueued = false;
    this.flush();
  };
  private closed = false;
  readonly stats: BatcherStats = { runs: 0, rows: 0, maxRows: 0 };

  constructor(
    private readonly runner: BatchRunner<I, O>,
    private opts: BatcherOptions,
  ) {}

  /** Changes the batch size and wait (a reload with new settings keeps the same batcher). */
  configure(opts: BatcherOptions): void {
    this.opts = opts;
  }

  /**
   * Submits rows; resolves with their results, in order, once the batch that holds them
   * has run. Rejects when that run fails.
   */
  submit(rows: readonly I[]): Promise<O[]> {
    if (this.closed) return Promise.reject(new Error('batcher is closed'));
    if (rows.length === 0) return Promise.resolve([]);
    return new Promise<O[]>((resolve, reject) => {
      this.queue.push({ rows, resolve, reject });
      this.queued += rows.length;
      this.schedule();
    });
  }

  /** Rejects what is waiting and refuses new rows. A run in flight finishes. */
  close(): void {
    this.closed = true;
    this.clearTimers();
    const q = this.queue;
    this.queue = [];
    this.queued = 0;
    for (const p of q) p.reject(new Error('batcher is closed'));
  }

  private schedule(): void {
    if (this.running) return; // the run in flight flushes when it ends
    if (this.queued >= this.opts.maxSize) {
      this.flush();
      return;
    }
    if (this.timer || this.flushQueued) return;
    if (this.opts.maxWaitMs <= 0) {
      this.flushQueued = true;
      queueMicrotask(this.flushTask);
    } else this.timer = setTimeout(() => this.flush(), this.opts.maxWaitMs);
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(): void {
    this.clearTimers();
    if (this.running || this.queue.length === 0) return;
    // Whole submissions only, so a caller's rows stay in one run; at least one submission.
    const batch: Pending<I, O>[] = [];
    let size = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0];
      if (batch.length > 0 && size + next.rows.length > this.opts.maxSize) break;
      batch.push(next);
      size += next.rows.length;
      this.queue.shift();
    }
    this.queued -= size;
    const rows: I[] = batch.length === 1 ? (batch[0].rows as I[]) : batch.flatMap((p) => p.rows);
    this.running = true;
    this.stats.runs++;
    this.stats.rows += size;
    if (size > this.stats.maxRows) this.stats.maxRows = size;
    let p: Promise<ArrayLike<O>>;
    try {
      p = this.runner(rows);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (out) => {
        if (out.length !== size) throw new Error(`batch runner returned ${out.length} results for ${size} rows`);
        let off = 0;
        for (const b of batch) {
          const mine: O[] = new Array(b.rows.length);
          for (let i = 0; i < mine.length; i++) mine[i] = out[off + i];
          off += mine.length;
          b.resolve(mine);
        }
      },
    )
      .catch((err) => {
        for (const b of batch) b.reject(err);
      })
      .finally(() => {
        this.running = false;
        // Rows that came in during the run have waited long enough: run them now.
        if (this.queue.length > 0) this.flush();
      });
  }
}
