/**
 * OpenAI-compatible API (vLLM, Ollama, llama.cpp server, OpenAI itself): chat
 * completions, legacy completions and embeddings, JSON and SSE.
 */
import type { InferenceParams, InferenceRequest, InferenceResponse, InferenceText, TokenUsage } from '../pipeline/types.js';
import { badRequest, badResponse, isObject, mutableBody, optBool, optInt, type ParseInput, type ProtocolAdapter } from './adapter.js';
import { readLogprobs, writeLogprobs, type LogprobsFormat } from './openai-logprobs.js';

const OPERATIONS = new Set(['chat', 'completions', 'embeddings']);

export const openaiAdapter: ProtocolAdapter = {
  protocol: 'openai',

  parseRequest({ route, model, upstreamModel, body }: ParseInput): InferenceRequest {
    if (!OPERATIONS.has(route.operation)) throw badRequest(`unsupported operation ${route.operation}`);
    if (!isObject(body)) throw badRequest('body must be a JSON object');
    if (typeof body.model !== 'string') throw badRequest('model is required');
    const texts: InferenceText[] = [];
    const params: InferenceParams = { stream: optBool(body, 'stream') ?? false };
    if (route.operation === 'chat') {
      chatTexts(body.messages, texts);
      params.maxTokens = optInt(body, 'max_completion_tokens', 0) ?? optInt(body, 'max_tokens', 0);
      params.logprobs = optBool(body, 'logprobs');
      params.topLogprobs = optInt(body, 'top_logprobs', 0);
      params.n = optInt(body, 'n', 1);
    } else if (route.operation === 'completions') {
      promptTexts(body.prompt, 'prompt', 'prompt', texts);
      if (body.suffix !== undefined && body.suffix !== null) {
        if (typeof body.suffix !== 'string') throw badRequest('suffix must be a string');
        texts.push({ role: 'prompt', text: body.suffix, path: 'suffix' });
      }
      params.maxTokens = optInt(body, 'max_tokens', 0);
      const lp = optInt(body, 'logprobs', 0);
      if (lp !== undefined) {
        params.logprobs = true;
        params.topLogprobs = lp;
      }
      params.n = optInt(body, 'n', 1);
      params.echo = optBool(body, 'echo');
    } else {
      promptTexts(body.input, 'input', 'input', texts);
      params.stream = false;
    }
    const req: InferenceRequest = { protocol: 'openai', model, operation: route.operation, texts, tensors: [], params, body };
    if (upstreamModel !== body.model) mutableBody(req).model = upstreamModel;
    return req;
  },

  parseResponse(body: unknown, req: InferenceRequest, status: number): InferenceResponse {
    if (!isObject(body)) throw badResponse('response is not a JSON object');
    if (status < 300 && req.operation !== 'embeddings' && !Array.isArray(body.choices)) throw badResponse('response has no choices');
    const res: InferenceResponse = { protocol: 'openai', model: req.model, status, stream: false, body, tensors: [], usage: usageOf(body) };
    if (status < 300) withLogprobs(res, body, req.operation);
    return res;
  },

  parseEvent(data: unknown, req: InferenceRequest): InferenceResponse {
    if (!isObject(data)) throw badResponse('stream event is not a JSON object');
    if (data.choices !== undefined && !Array.isArray(data.choices)) throw badResponse('stream event choices is not an array');
    const res: InferenceResponse = { protocol: 'openai', model: req.model, status: 200, stream: true, body: data, tensors: [], usage: usageOf(data) };
    withLogprobs(res, data, req.operation);
    return res;
  },

  serializeResponse(res: InferenceResponse): string {
    const format = formats.get(res);
    if (format && res.logprobs) writeLogprobs(res.body as Record<string, unknown>, format, res.logprobs);
    return JSON.stringify(res.body);
  },

  // Log-probabilities are the only view of an OpenAI response that stages change.
  writesBack(res: InferenceResponse): boolean {
    return formats.has(res);
  },

  applyParams(req: InferenceRequest, change: Partial<InferenceParams>): void {
    if (req.operation !== 'chat' && req.operation !== 'completions') return;
    const body = mutableBody(req);
    const p = req.params;
    const chat = req.operation === 'chat';
    if (change.logprobs === false) {
      // Chat asks with a flag and a count; completions with the count alone.
      delete body.logprobs;
      delete body.top_logprobs;
      p.logprobs = false;
      p.topLogprobs = undefined;
    } else if (change.topLogprobs !== undefined && p.logprobs) {
      if (chat) body.top_logprobs = change.topLogprobs;
      else body.logprobs = change.topLogprobs;
      p.topLogprobs = change.topLogprobs;
    }
    if (change.echo !== undefined && !chat) {
      body.echo = change.echo;
      p.echo = change.echo;
    }
    if (change.n !== undefined) {
      body.n = change.n;
      p.n = change.n;
    }
  },

  requestStreamUsage(req: InferenceRequest): void {
    if (!req.params.stream || !isObject(req.body)) return;
    const body = mutableBody(req);
    const so = body.stream_options;
    // A final chunk with `usage` (and `choices: []`), as OpenAI and vLLM send it.
    if (isObject(so)) so.include_usage = true;
    else body.stream_options = { include_usage: true };
  },
};

/** The logprobs wire format of each parsed response, for serializeResponse. */
const formats = new WeakMap<InferenceResponse, LogprobsFormat>();

function withLogprobs(res: InferenceResponse, body: Record<string, unknown>, operation: string): void {
  if (operation !== 'chat' && operation !== 'completions') return;
  const view = readLogprobs(body, operation);
  if (view) {
    res.logprobs = view;
    formats.set(res, operation);
  }
}

function usageOf(body: Record<string, unknown>): TokenUsage | undefined {
  const u = body.usage;
  if (!isObject(u)) return undefined;
  const input = typeof u.prompt_tokens === 'number' ? u.prompt_tokens : undefined;
  const output = typeof u.completion_tokens === 'number' ? u.completion_tokens : undefined;
  return { inputTokens: input, outputTokens: output };
}

function chatTexts(messages: unknown, out: InferenceText[]): void {
  if (!Array.isArray(messages) || messages.length === 0) throw badRequest('messages must be a non-empty array');
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (!isObject(m)) throw badRequest(`messages[${i}] must be an object`);
    const role = m.role;
    if (typeof role !== 'string') throw badRequest(`messages[${i}].role must be a string`);
    const c = m.content;
    if (typeof c === 'string') out.push({ role, text: c, path: `messages[${i}].content` });
    else if (Array.isArray(c)) {
      for (let j = 0; j < c.length; j++) {
        const part = c[j];
        if (!isObject(part) || typeof part.type !== 'string') throw badRequest(`messages[${i}].content[${j}] must be a typed part`);
        if (part.type === 'text') {
          if (typeof part.text !== 'string') throw badRequest(`messages[${i}].content[${j}].text must be a string`);
          out.push({ role, text: part.text, path: `messages[${i}].content[${j}].text` });
        }
      }
    } else if (c !== undefined && c !== null) throw badRequest(`messages[${i}].content must be a string or an array of parts`);
    // Tool call arguments are model-visible text too (and a classic injection carrier).
    if (Array.isArray(m.tool_calls)) {
      m.tool_calls.forEach((tc, j) => {
        const fn = isObject(tc) && isObject(tc.function) ? tc.function : undefined;
        if (fn && typeof fn.arguments === 'string') {
          out.push({ role, text: fn.arguments, path: `messages[${i}].tool_calls[${j}].function.arguments` });
        }
      });
    }
  }
}

function promptTexts(v: unknown, role: string, path: string, out: InferenceText[]): void {
  if (typeof v === 'string') out.push({ role, text: v, path });
  else if (Array.isArray(v)) {
    if (v.length === 0) throw badRequest(`${path} must not be empty`);
    if (v.every((x) => typeof x === 'string')) v.forEach((x, i) => out.push({ role, text: x as string, path: `${path}[${i}]` }));
    // Token-id prompts carry no text the gateway can read, and what it cannot read it
    // does not forward (inspect what you forward).
    else throw badRequest(`${path} must be a string or an array of strings (token ids cannot be inspected)`);
  } else throw badRequest(`${path} is required`);
}
