/**
 * Stage-level test fixtures: a config loaded from YAML, and request contexts built the
 * way the HTTP shell builds them (route, model runtime, parsed InferenceRequest), so a
 * stage can be driven without a server.
 */
import { loadConfigText, formatProblem, type LoadedConfig } from '../../src/config/load.js';
import type { RequestContext } from '../../src/pipeline/context.js';
import type { Principal } from '../../src/pipeline/types.js';
import { ADAPTERS } from '../../src/protocols/index.js';
import type { ModelRuntime } from '../../src/runtime.js';

export function loadYaml(yaml: string): LoadedConfig {
  const r = loadConfigText(yaml, '/test/palisade.yaml');
  if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
  return r.loaded;
}

export interface CtxOptions {
  model?: string;
  operation?: string;
  body?: Record<string, unknown>;
  principal?: Principal;
  clientAddress?: string;
}

/** A context for an OpenAI-protocol call of `model`, parsed as the parse stage would. */
export function openaiCtx(loaded: LoadedConfig, o: CtxOptions = {}): RequestContext {
  const name = o.model ?? loaded.config.models[0].name;
  const m = loaded.config.models.find((x) => x.name === name)!;
  const adapter = ADAPTERS.openai;
  const model: ModelRuntime = { name, config: m, upstream: undefined as never, adapter, upstreamModel: name, bodyLimit: 1 << 20 };
  const operation = o.operation ?? 'chat';
  const route = { protocol: 'openai' as const, operation, upstreamPath: '/v1/chat/completions', query: '' };
  const body = o.body ?? { model: name, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 };
  const addr = o.clientAddress ?? '192.0.2.1';
  return {
    id: 'test',
    startedAt: performance.now(),
    receivedAt: Date.now(),
    http: { method: 'POST', url: '/v1/chat/completions', path: '/v1/chat/completions', headers: {}, remoteAddress: addr, clientAddress: addr },
    route,
    model,
    body,
    principal: o.principal,
    request: adapter.parseRequest({ route, model: name, upstreamModel: name, body }),
    notes: [],
    signal: new AbortController().signal,
    locals: {},
  };
}

export function principal(id: string, tenant?: string): Principal {
  return { id, tenant, scopes: [], roles: [], via: 'api-key' };
}
