/**
 * Bounded work: at most `maxInFlight` requests run at once, at most `maxQueued` wait
 * for a slot (each for at most `queueTimeout`), and while the event loop lags past
 * `maxEventLoopDelay` new requests are shed at once. Everything past those bounds is
 * answered 503 PALISADE_OVERLOADED with Retry-After, before its body is read, so an
 * overload costs a parse of the request head and a short reply, not a model call.
 *
 * The admitted path is one comparison and one increment; the lag is sampled off the
 * request path by a timer over node's event-loop-delay histogram (the method of
 * @fastify/under-pressure, in a few lines).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { z } from 'zod';
import { duration } from '../config/fields.js';

/** `server.overload` in the config. */
export const overloadConfigSchema = z
  .strictObject({
    maxInFlight: z
      .number()
      .int()
      .min(1)
      .default(512)
      .describe('Requests the gateway works on at once (reading the body, stages, upstream call, response). Past it, requests queue.'),
    maxQueued: z
      .number()
      .int()
      .min(0)
      .default(512)
      .describe('Requests that may wait for a slot. Past it, 503 PALISADE_OVERLOADED at once. 0: no queue.'),
    queueTimeout: duration().prefault('2s').describe('Longest wait in the queue; then 503 PALISADE_OVERLOADED.'),
    maxEventLoopDelay: duration()
      .prefault('1s')
      .describe(
        'Mean event-loop delay past which new requests are shed with 503, when two samples in a row exceed it (one long pause, e.g. a GC or a reload, does not shed). 0: off.',
      ),
    sampleInterval: duration().prefault('500ms').describe('How often the event-loop delay is sampled.'),
    retryAfter: duration().prefault('1s').describe('Retry-After sent with PALISADE_OVERLOADED (rounded up to seconds).'),
  })
  .prefault({})
  .describe('Overload protection: bounded concurrency, a bounded queue, and shedding when the event loop lags.');

export type OverloadConfig = z.output<typeof overloadConfigSchema>;

/**
 * Why a request was not admitted: no slot and no queue; the queue full; its wait past
 * queueTimeout; a standing queue (not drained for queueTimeout: under sustained
 * overload a queue only adds its timeout to every admitted request's latency); the
 * event loop lagging.
 */
export type Refusal = 'in-flight' | 'queue-full' | 'queue-timeout' | 'queue-standing' | 'event-loop-delay';

interface Waiter {
  resolve(ok: Refusal | undefined): void;
  timer: NodeJS.Timeout;
  done: boolean;
}

const RESOLUTION_MS = 10;

/** Admission control for one listener. Long-lived (it survives reloads; `configure` applies new bounds). */
export class Admission {
  /** Requests admitted and not yet left. */
  inFlight = 0;
  /** Event-loop delay of the last sample, ms. */
  eventLoopDelayMs = 0;
  /** Counts since start, by reason (for metrics and the bench). */
  readonly shed: Record<Refusal, number> = { 'in-flight': 0, 'queue-full': 0, 'queue-timeout': 0, 'queue-standing': 0, 'event-loop-delay': 0 };
  /** Whether the last two samples were past maxEventLoopDelay. */
  lagging = false;
  private lastOver = false;
  private cfg: OverloadConfig;
  private queue: Waiter[] = [];
  private head = 0;
  /** When the queue was last empty (performance.now()). */
  private drainedAt = performance.now();
  private histogram?: IntervalHistogram;
  private sampler?: NodeJS.Timeout;

  constructor(cfg: OverloadConfig) {
    this.cfg = cfg;
    this.startSampling();
  }

  /** Applies new bounds (reload). Requests already admitted or queued keep their place. */
  configure(cfg: OverloadConfig): void {
    const resample = cfg.sampleInterval !== this.cfg.sampleInterval || (cfg.maxEventLoopDelay > 0) !== (this.cfg.maxEventLoopDelay > 0);
    this.cfg = cfg;
    if (resample) {
      this.stopSampling();
      this.startSampling();
    }
    this.pump();
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  get retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.cfg.retryAfter / 1000));
  }

  /**
   * Admits a request: undefined when it may run now (call `leave` when done), a Refusal
   * when it must be shed, or a promise of either when it waits in the queue.
   */
  enter(): Refusal | undefined | Promise<Refusal | undefined> {
    if (this.lagging) return this.refuse('event-loop-delay');
    if (this.inFlight < this.cfg.maxInFlight && this.queued === 0) {
      this.inFlight++;
      return undefined;
    }
    if (this.queued >= this.cfg.maxQueued) return this.refuse(this.cfg.maxQueued === 0 ? 'in-flight' : 'queue-full');
    // A queue is for bursts: one that has not drained for a whole queueTimeout is a
    // standing queue, and joining it would only wait out the timeout (CoDel's insight).
    if (this.queued > 0 && performance.now() - this.drainedAt > this.cfg.queueTimeout) return this.refuse('queue-standing');
    if (this.queued === 0) this.drainedAt = performance.now();
    return new Promise<Refusal | undefined>((resolve) => {
      const w: Waiter = {
        done: false,
        resolve,
        timer: setTimeout(() => {
          w.done = true;
          this.shed['queue-timeout']++;
          resolve('queue-timeout');
          this.compact();
        }, this.cfg.queueTimeout),
      };
      this.queue.push(w);
    });
  }

  /** Ends an admitted request and hands its slot to the oldest waiter. */
  leave(): void {
    this.inFlight--;
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.cfg.maxInFlight && this.head < this.queue.length) {
      const w = this.queue[this.head++];
      if (w.done) continue;
      w.done = true;
      clearTimeout(w.timer);
      this.inFlight++;
      w.resolve(undefined);
    }
    this.compact();
  }

  private compact(): void {
    while (this.head < this.queue.length && this.queue[this.head].done) this.head++;
    if (this.head === this.queue.length) {
      if (this.queue.length > 0) this.drainedAt = performance.now();
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private refuse(why: Refusal): Refusal {
    this.shed[why]++;
    return why;
  }

  private startSampling(): void {
    if (this.cfg.maxEventLoopDelay <= 0) {
      this.lagging = false;
      return;
    }
    const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    h.enable();
    this.histogram = h;
    // The window's mean comes from the running totals: reset() would also forget the
    // time of the last tick, and so drop exactly the long gap a blocked loop leaves
    // when the sampler runs right after it (as it does: both are due then).
    let count = 0;
    let sum = 0;
    let last = performance.now();
    this.sampler = setInterval(() => {
      // The sampler is a probe too: a loop blocked through a whole window leaves the
      // histogram without a tick in it, but this timer comes late by about that much.
      const now = performance.now();
      const late = now - last - this.cfg.sampleInterval;
      last = now;
      const c = h.count;
      const total = c === 0 ? 0 : h.mean * c;
      const n = c - count;
      // Each tick records the time since the one before: the resolution plus the delay.
      const mean = n > 0 ? (total - sum) / n / 1e6 - RESOLUTION_MS : 0;
      count = c;
      sum = total;
      if (c > 1e6) {
        h.reset();
        count = sum = 0;
      }
      this.eventLoopDelayMs = Math.max(0, mean, late);
      const over = this.eventLoopDelayMs > this.cfg.maxEventLoopDelay;
      this.lagging = over && this.lastOver;
      this.lastOver = over;
    }, this.cfg.sampleInterval);
    this.sampler.unref();
  }

  private stopSampling(): void {
    clearInterval(this.sampler);
    this.histogram?.disable();
    this.sampler = undefined;
    this.histogram = undefined;
  }

  /** Stops the sampler and refuses every waiter (shutdown). */
  close(): void {
    this.stopSampling();
    this.lagging = false;
    for (let i = this.head; i < this.queue.length; i++) {
      const w = this.queue[i];
      if (w.done) continue;
      w.done = true;
      clearTimeout(w.timer);
      w.resolve('queue-full');
    }
    this.queue = [];
    this.head = 0;
  }
}
