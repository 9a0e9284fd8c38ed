/**
 * The pipeline runner: runs the request hooks in order and the response hooks in
 * reverse, turns a throwing stage into an internal-error denial, times and observes
 * every call, and calls every entered stage's `done` hook exactly once.
 */
import type { ModelRuntime } from '../runtime.js';
import type { RequestContext } from './context.js';
import type { RejectedRequest, Stage, StageObserver } from './stage.js';
import type { Decision, HttpInfo, InferenceResponse, Outcome } from './types.js';

export type Denial = Extract<Decision, { allow: false }> & { stage: string };

const ENTERED = Symbol('palisade.entered');
type Tracked = RequestContext & { [ENTERED]?: number };

export class Pipeline {
  readonly stages: readonly Stage[];
  private readonly requestStages: readonly Stage[];
  private readonly responseStages: readonly Stage[];
  private readonly wanting: readonly Stage[];
  private readonly filtering: readonly Stage[];

  constructor(
    stages: Stage[],
    private readonly observer: StageObserver = {},
    private readonly onObserverError: (err: unknown) => void = () => {},
  ) {
    const names = new Set<string>();
    for (const s of stages) {
      if (names.has(s.name)) throw new Error(`duplicate stage ${s.name}`);
      names.add(s.name);
    }
    this.stages = Object.freeze([...stages]);
    this.requestStages = this.stages.filter((s) => s.request);
    this.responseStages = this.stages.filter((s) => s.response).reverse();
    this.wanting = this.stages.filter((s) => s.wantsResponse);
    this.filtering = this.stages.filter((s) => s.visibleModels);
  }

  /** The models a caller may see (GET /v1/models): every stage with a visibleModels hook narrows the list. */
  async visibleModels(http: HttpInfo, models: readonly ModelRuntime[]): Promise<readonly ModelRuntime[]> {
    let out = models;
    for (const s of this.filtering) out = await s.visibleModels!(http, out);
    return out;
  }

  /** Runs the request side. Returns the first denial, or undefined when every stage allowed. */
  async runRequest(ctx: RequestContext): Promise<Denial | undefined> {
    const t = ctx as Tracked;
    if (this.observer.requestStart) this.guard(() => this.observer.requestStart!(ctx));
    const stages = this.stages;
    for (let i = 0; i < stages.length; i++) {
      const stage = stages[i];
      t[ENTERED] = i + 1;
      if (!stage.request) continue;
      // A stage that decides synchronously costs no promise and no turn of the microtask queue.
      const called = this.call(ctx, stage, 'request', stage.request.bind(stage, ctx));
      const decision = isThenable(called) ? await called : called;
      if (decision.notes) ctx.notes.push(...decision.notes);
      if (!decision.allow) return { ...decision, stage: stage.name };
      if (decision.headers) ctx.responseHeaders = ctx.responseHeaders ? { ...ctx.responseHeaders, ...decision.headers } : decision.headers;
    }
    return undefined;
  }

  /** Whether any stage must see this request's response body. */
  wantsResponse(ctx: RequestContext): boolean {
    for (const s of this.wanting) if (s.wantsResponse!(ctx)) return true;
    return false;
  }

  get hasResponseStages(): boolean {
    return this.responseStages.length > 0;
  }

  /**
   * Runs the response side over one JSON body or one SSE event: synchronous while the
   * hooks are (most SSE events cost no promise), a promise once one is not.
   */
  runResponse(ctx: RequestContext, res: InferenceResponse): Denial | undefined | Promise<Denial | undefined> {
    return this.responseFrom(ctx, res, 0);
  }

  private responseFrom(ctx: RequestContext, res: InferenceResponse, from: number): Denial | undefined | Promise<Denial | undefined> {
    const stages = this.responseStages;
    for (let i = from; i < stages.length; i++) {
      const stage = stages[i];
      const called = this.call(ctx, stage, 'response', stage.response!.bind(stage, ctx, res));
      if (isThenable(called)) {
        return Promise.resolve(called).then((d) => responded(ctx, stage, d) ?? this.responseFrom(ctx, res, i + 1));
      }
      const denial = responded(ctx, stage, called);
      if (denial) return denial;
    }
    return undefined;
  }

  /** Ends the request: every stage whose request hook was reached gets `done`, in reverse. */
  done(ctx: RequestContext, outcome: Outcome): void {
    const t = ctx as Tracked;
    const entered = t[ENTERED] ?? 0;
    t[ENTERED] = 0;
    for (let i = entered - 1; i >= 0; i--) {
      const stage = this.stages[i];
      if (!stage.done) continue;
      try {
        stage.done(ctx, outcome);
      } catch (err) {
        this.onObserverError(err);
      }
    }
    if (this.observer.requestDone) {
      try {
        this.observer.requestDone(ctx, outcome);
      } catch (err) {
        this.onObserverError(err);
      }
    }
  }

  /** Tells the observer that the upstream call starts; it may add trace headers to `headers`. */
  upstreamStart(ctx: RequestContext, headers: Record<string, string | string[]>): void {
    if (this.observer.upstreamStart) this.guard(() => this.observer.upstreamStart!(ctx, headers));
  }

  /** Tells the observer that the upstream answered (`status`) or failed (`code`). */
  upstreamEnd(ctx: RequestContext, status: number | undefined, code?: string): void {
    if (this.observer.upstreamEnd) this.guard(() => this.observer.upstreamEnd!(ctx, status, code));
  }

  /** Tells the observer about a request refused before any stage ran. */
  rejected(info: RejectedRequest): void {
    if (this.observer.requestRejected) this.guard(() => this.observer.requestRejected!(info));
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.onObserverError(err);
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.stages.map((s) => s.close?.()));
  }

  /**
   * Calls one hook between the observer's stageStart and stageEnd. Synchronous when the
   * hook is (a Decision back), a promise when it is not; a hook that throws or rejects
   * denies (fail closed). A response hook that returns nothing allows.
   */
  private call(
    ctx: RequestContext,
    stage: Stage,
    side: 'request' | 'response',
    fn: () => Decision | void | Promise<Decision | void>,
  ): Decision | Promise<Decision> {
    const obs = this.observer;
    let token: unknown;
    if (obs.stageStart) {
      try {
        token = obs.stageStart(ctx, stage.name, side);
      } catch (err) {
        this.onObserverError(err);
      }
    }
    let out: Decision | void | Promise<Decision | void>;
    try {
      out = fn();
    } catch (err) {
      return this.ended(ctx, stage, side, token, stageFailure(err), err);
    }
    if (isThenable(out)) {
      return Promise.resolve(out).then(
        (d) => this.ended(ctx, stage, side, token, d ?? ALLOWED, undefined),
        (err: unknown) => this.ended(ctx, stage, side, token, stageFailure(err), err),
      );
    }
    return this.ended(ctx, stage, side, token, out ?? ALLOWED, undefined);
  }

  private ended(ctx: RequestContext, stage: Stage, side: 'request' | 'response', token: unknown, decision: Decision, error: unknown): Decision {
    if (this.observer.stageEnd) {
      try {
        this.observer.stageEnd(ctx, stage.name, side, token, decision, error);
      } catch (err) {
        this.onObserverError(err);
      }
    }
    return decision;
  }
}

const ALLOWED: Decision = Object.freeze({ allow: true });

/** Records a response hook's notes; its denial, if it denied. */
function responded(ctx: RequestContext, stage: Stage, decision: Decision): Denial | undefined {
  if (decision.notes) ctx.notes.push(...decision.notes);
  return decision.allow ? undefined : { ...decision, stage: stage.name };
}

export function isThenable<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof (v as { then?: unknown } | undefined)?.then === 'function';
}

/** A stage that throws denies: fail closed. A GatewayError keeps its code. */
function stageFailure(err: unknown): Decision {
  const e = err as { code?: unknown; status?: unknown; message?: unknown; headers?: Record<string, string> };
  if (typeof e?.code === 'string' && e.code.startsWith('PALISADE_') && typeof e.status === 'number') {
    return { allow: false, code: e.code, status: e.status, message: String(e.message), headers: e.headers };
  }
  return { allow: false, code: 'PALISADE_INTERNAL', cause: err };
}
