/**
 * A runtime is everything built from one config: models, routes, upstream pools and
 * the pipeline. A reload builds a whole new runtime before it replaces the old one;
 * requests hold the runtime they started on, and the old one is closed when its last
 * request is done.
 */
import type { LoadedConfig } from './config/load.js';
import { resolveConfigPath } from './config/load.js';
import type { ModelConfig } from './config/schema.js';
import { authOf } from './auth/identify-stage.js';
import type { Auth } from './auth/auth.js';
import type { HttpInfo } from './pipeline/types.js';
import { buildStages } from './pipeline/order.js';
import { Pipeline } from './pipeline/pipeline.js';
import type { ProtocolAdapter } from './protocols/adapter.js';
import { ADAPTERS } from './protocols/index.js';
import { Upstream } from './proxy/upstream.js';
import type { Services } from './services.js';

export interface ModelRuntime {
  readonly name: string;
  readonly config: ModelConfig;
  readonly upstream: Upstream;
  readonly adapter: ProtocolAdapter;
  readonly upstreamModel: string;
  readonly bodyLimit: number;
}

export class Runtime {
  private inflight = 0;
  private retired = false;
  private drained?: () => void;
  /** Identity and access of this config (token exchange, JWKS), when `auth` is set. */
  readonly auth: Auth | undefined;

  private constructor(
    readonly loaded: LoadedConfig,
    readonly models: ReadonlyMap<string, ModelRuntime>,
    /** Raw routes, longest prefix first. */
    readonly rawPrefixes: readonly (readonly [string, ModelRuntime])[],
    readonly upstreams: ReadonlyMap<string, Upstream>,
    readonly pipeline: Pipeline,
  ) {
    this.auth = authOf(pipeline.stages);
  }

  get config() {
    return this.loaded.config;
  }

  static async build(loaded: LoadedConfig, services: Services): Promise<Runtime> {
    const { config } = loaded;
    const upstreams = new Map<string, Upstream>();
    try {
      for (const [name, up] of Object.entries(config.upstreams)) {
        upstreams.set(name, new Upstream(name, up, (p) => resolveConfigPath(loaded, p), services.events));
      }
      const models = new Map<string, ModelRuntime>();
      const raw: [string, ModelRuntime][] = [];
      for (const m of config.models) {
        const upstream = upstreams.get(m.upstream)!;
        const rt: ModelRuntime = Object.freeze({
          name: m.name,
          config: m,
          upstream,
          adapter: ADAPTERS[upstream.config.protocol],
          upstreamModel: m.upstreamModel ?? m.name,
          bodyLimit: Math.min(m.bodyLimit ?? config.server.bodyLimit, config.server.bodyLimit),
        });
        models.set(m.name, rt);
        if (upstream.config.protocol === 'raw') raw.push([m.pathPrefix ?? `/raw/${m.name}`, rt]);
      }
      raw.sort((a, b) => b[0].length - a[0].length);
      const pipeline = new Pipeline(await buildStages(loaded, services), services.observer, (err) =>
        services.logger.error({ err }, 'stage observer or done hook failed'),
      );
      return new Runtime(loaded, models, raw, upstreams, pipeline);
    } catch (err) {
      await Promise.allSettled([...upstreams.values()].map((u) => u.destroy()));
      throw err;
    }
  }

  /** The raw route whose prefix matches `path` at a segment boundary. */
  matchRaw(path: string): { model: ModelRuntime; suffix: string } | undefined {
    for (const [prefix, model] of this.rawPrefixes) {
      if (path.startsWith(prefix) && (path.length === prefix.length || path[prefix.length] === '/')) {
        return { model, suffix: path.slice(prefix.length) };
      }
    }
    return undefined;
  }

  /** GET /v1/models, answered by the gateway from config: the OpenAI-protocol models this caller may call now. */
  async listModels(http: HttpInfo): Promise<unknown> {
    const openai = [...this.models.values()].filter((m) => m.upstream.config.protocol === 'openai');
    const visible = await this.pipeline.visibleModels(http, openai);
    return { object: 'list', data: visible.map((m) => this.describeModel(m)) };
  }

  /** Whether this caller may see (and call) a model now. */
  async isVisible(http: HttpInfo, model: ModelRuntime): Promise<boolean> {
    return (await this.pipeline.visibleModels(http, [model])).length > 0;
  }

  /** GET /v1/models/{name} for an OpenAI-protocol model. */
  describeModel(m: ModelRuntime): unknown {
    return { id: m.name, object: 'model', created: 0, owned_by: 'palisade' };
  }

  /** Marks a request as running on this runtime. */
  enter(): void {
    this.inflight++;
  }

  leave(): void {
    if (--this.inflight === 0 && this.retired) this.drained?.();
  }

  /** Retires this runtime: closes pools and stages once its last request is done. */
  async retire(deadlineMs = 60_000): Promise<void> {
    this.retired = true;
    if (this.inflight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, deadlineMs);
        t.unref();
        this.drained = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    await Promise.allSettled([...this.upstreams.values()].map((u) => u.close()));
    await this.pipeline.close();
  }

  /** Closes at once (shutdown after drain, or a build that lost a race). */
  async destroy(): Promise<void> {
    await Promise.allSettled([...this.upstreams.values()].map((u) => u.destroy()));
    await this.pipeline.close();
  }
}
