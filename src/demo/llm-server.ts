/**
 * A demo OpenAI-compatible LLM server on plain `node:http`: the upstream of `npm start`,
 * the fixture of the gateway's tests and the baseline of its benchmarks. Replies are
 * deterministic (see `llm-fake-model.ts`); a request header `x-demo-fault` makes it
 * misbehave on purpose, and `/__stats` tells tests what it received.
 *
 * Run directly: `node --import tsx src/demo/llm-server.ts --port 0 [--host H]
 * [--token-delay-ms N] [--models a,b]` prints one line `{"listening":"http://H:PORT"}`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  appendLegacyLogprobs, chatLogprob, countTokens, embed, EMBEDDING_DIMS, MAX_LEGACY_LOGPROBS,
  MAX_TOP_LOGPROBS, replyTokens, splitPromptTokens, type LegacyLogprobs,
} from './llm-fake-model.js';

/** Options of {@link startLlmServer}. */
export interface LlmServerOptions {
  /** Address to listen on; default `127.0.0.1`. */
  host?: string;
  /** Port; default 0 (an ephemeral port). */
  port?: number;
  /** Model ids served; default `["demo-llm"]`. Any other model is a 404. */
  models?: string[];
  /** Pause between SSE events in ms; default 0. A request's `x-demo-token-delay-ms` overrides it. */
  tokenDelayMs?: number;
}

/** What the server received since start or the last reset (test hooks excluded). */
export interface LlmServerStats {
  requests: number;
  byPath: Record<string, number>;
  /** Path (without query) of the last request. */
  lastPath?: string;
  /** Last request body: parsed JSON, else the raw text; undefined when it had none. */
  lastBody?: unknown;
  lastHeaders?: Record<string, string | string[] | undefined>;
}

/** A running demo LLM server. */
export interface LlmServer {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url: string;
  port: number;
  /** Stops listening, drops open connections and pending fault timers. Idempotent. */
  close(): Promise<void>;
  stats(): LlmServerStats;
  reset(): void;
}

/** Header that selects a fault; values are listed in {@link parseFaults}. */
export const FAULT_HEADER = 'x-demo-fault';
/** Header that sets the pause between SSE events for one request, in ms. */
export const TOKEN_DELAY_HEADER = 'x-demo-token-delay-ms';

const MAX_BODY_BYTES = 64 * 1024 * 1024;
const MAX_N = 128;
const MAX_DELAY_MS = 600_000;
const MAX_HUGE_BYTES = 512 * 1024 * 1024;
const MAX_EMBEDDING_DIMS = 4096;
// Events written before `die-mid-stream` cuts the connection: the role chunk and a
// couple of tokens, enough for a client to have started relaying.
const DIE_AFTER_EVENTS = 3;
const FINGERPRINT = 'fp_palisade_demo';
const MODEL_CREATED = 1_700_000_000;

const JSON_TYPE = 'application/json';
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };
const DONE_EVENT = 'data: [DONE]\n\n';

type Output =
  | { kind: 'json'; status: number; body: string }
  | { kind: 'sse'; events: string[] };

/** Faults selected by the `x-demo-fault` header (comma-separated values). */
interface Faults {
  status: number;
  slowHeadersMs: number;
  slowBodyMs: number;
  dieMidStream: boolean;
  resetBeforeHeaders: boolean;
  hugeBytes: number;
  garbage: boolean;
  badSse: boolean;
  /** JSON bodies indented (bytes a re-serializing proxy would change). */
  pretty: boolean;
  /** Each choice's logprobs key written twice: the real ones, then `null` (JSON.parse keeps the last). */
  dupLogprobs: boolean;
}

/** How the body goes out: pauses and cuts. */
interface SendPlan {
  tokenDelayMs: number;
  slowBodyMs: number;
  dieMidStream: boolean;
}

function errorOutput(status: number, message: string, type: string, param: string | null = null, code: string | null = null): Output {
  return { kind: 'json', status, body: JSON.stringify({ error: { message, type, param, code } }) };
}

function badRequest(message: string, param: string | null = null): Output {
  return errorOutput(400, message, 'invalid_request_error', param);
}

function ok(value: unknown): Output {
  return { kind: 'json', status: 200, body: JSON.stringify(value) };
}

/** The `pretty` and `dup-logprobs` faults applied to a JSON body. */
function rewriteJson(text: string, f: Faults): string {
  const value = JSON.parse(text) as { choices?: Record<string, unknown>[] };
  if (!f.dupLogprobs) return JSON.stringify(value, null, 2);
  // A unique placeholder per choice, replaced by the duplicated member in the text.
  const dups: string[] = [];
  for (const c of value.choices ?? []) {
    const lp = JSON.stringify(c.logprobs ?? null);
    delete c.logprobs;
    c.__dup = dups.length;
    dups.push(`"logprobs":${lp},"logprobs":null`);
  }
  const out = JSON.stringify(value, null, f.pretty ? 2 : undefined);
  return out.replace(/"__dup":\s*(\d+)/g, (_, i: string) => dups[Number(i)]);
}

function outputBytes(out: Output): number {
  if (out.kind === 'json') return Buffer.byteLength(out.body);
  let n = 0;
  for (const e of out.events) n += Buffer.byteLength(e);
  return n;
}

/**
 * Parses `x-demo-fault`. Values: `status-NNN` (an OpenAI-style JSON error with that
 * 4xx/5xx status; `status-500` and `status-503` are the usual ones), `slow-headers:MS`,
 * `slow-body:MS`, `die-mid-stream`, `reset-before-headers`, `huge:BYTES`, `garbage`,
 * `bad-sse`, `pretty` (JSON bodies indented; SSE event data spaced), `dup-logprobs` (a
 * chat or completion body, or stream event, whose choices carry `logprobs` twice, the
 * real ones first and `null` last: a parser that keeps the first key sees what one that
 * keeps the last does not). Several may be combined with commas. Returns a message for a bad value.
 */
export function parseFaults(value: string): Faults | string {
  const f: Faults = {
    status: 0, slowHeadersMs: 0, slowBodyMs: 0, dieMidStream: false,
    resetBeforeHeaders: false, hugeBytes: 0, garbage: false, badSse: false, pretty: false, dupLogprobs: false,
  };
  for (const raw of value.split(',')) {
    const item = raw.trim();
    const colon = item.indexOf(':');
    const name = colon === -1 ? item : item.slice(0, colon);
    const arg = colon === -1 ? '' : item.slice(colon + 1);
    const num = (max: number): number => {
      const v = /^\d+$/.test(arg) ? Number(arg) : NaN;
      return v <= max ? v : NaN;
    };
    if (name.startsWith('status-') && colon === -1) {
      const s = Number(name.slice(7));
      if (!Number.isInteger(s) || s < 400 || s > 599) return `bad ${FAULT_HEADER} status: ${item}`;
      f.status = s;
    } else if (name === 'slow-headers' && !Number.isNaN(num(MAX_DELAY_MS))) f.slowHeadersMs = num(MAX_DELAY_MS);
    else if (name === 'slow-body' && !Number.isNaN(num(MAX_DELAY_MS))) f.slowBodyMs = num(MAX_DELAY_MS);
    else if (name === 'huge' && !Number.isNaN(num(MAX_HUGE_BYTES))) f.hugeBytes = num(MAX_HUGE_BYTES);
    else if (item === 'die-mid-stream') f.dieMidStream = true;
    else if (item === 'reset-before-headers') f.resetBeforeHeaders = true;
    else if (item === 'garbage') f.garbage = true;
    else if (item === 'bad-sse') f.badSse = true;
    else if (item === 'pretty') f.pretty = true;
    else if (item === 'dup-logprobs') f.dupLogprobs = true;
    else return `unknown ${FAULT_HEADER} value: ${item}`;
  }
  return f;
}

// ---------------------------------------------------------------------------
// Request parameters

interface GenParams {
  model: string;
  n: number;
  /** Imposed reply length in tokens; undefined means the natural reply. */
  maxTokens: number | undefined;
  stream: boolean;
  includeUsage: boolean;
}

interface ChatParams extends GenParams {
  /** Text the reply echoes: the last user message. */
  source: string;
  promptTokens: number;
  logprobs: boolean;
  topLogprobs: number;
}

interface LegacyParams extends GenParams {
  prompts: string[];
  promptTokens: number;
  echo: boolean;
  /** `logprobs` of the request: number of alternatives, or null for none. */
  logprobs: number | null;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/** Common fields of chat and legacy completions; returns an error Output or the params. */
function parseGenCommon(body: Json, models: Set<string>): Output | GenParams {
  const model = body.model;
  if (typeof model !== 'string' || model === '') return badRequest('you must provide a model parameter', 'model');
  if (!models.has(model)) {
    return errorOutput(404, `The model \`${model}\` does not exist or you do not have access to it.`,
      'invalid_request_error', null, 'model_not_found');
  }
  const n = body.n ?? 1;
  if (!isInt(n, 1, MAX_N)) return badRequest(`n must be an integer from 1 to ${MAX_N}`, 'n');
  let maxTokens: number | undefined;
  for (const key of ['max_completion_tokens', 'max_tokens']) {
    const v = body[key];
    if (v === undefined || v === null) continue;
    if (!isInt(v, 1, Number.MAX_SAFE_INTEGER)) return badRequest(`${key} must be a positive integer`, key);
    maxTokens ??= v;
  }
  const stream = body.stream ?? false;
  if (typeof stream !== 'boolean') return badRequest('stream must be a boolean', 'stream');
  const so = body.stream_options;
  if (so !== undefined && so !== null && !isObject(so)) return badRequest('stream_options must be an object', 'stream_options');
  const includeUsage = stream && isObject(so) && so.include_usage === true;
  return { model, n, maxTokens, stream, includeUsage };
}

/** Text of a chat message content: a string, or the text parts of an array. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    if (isObject(part) && typeof part.text === 'string') text += (text ? ' ' : '') + part.text;
  }
  return text;
}

function parseChat(body: Json, models: Set<string>): Output | ChatParams {
  const common = parseGenCommon(body, models);
  if ('kind' in common) return common;
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) return badRequest('messages must be a non-empty array', 'messages');
  let promptTokens = 0;
  let source: string | undefined;
  let last = '';
  for (const m of messages) {
    if (!isObject(m) || typeof m.role !== 'string') return badRequest('each message needs a role', 'messages');
    const text = contentText(m.content);
    promptTokens += countTokens(text);
    last = text;
    if (m.role === 'user') source = text;
  }
  const logprobs = body.logprobs ?? false;
  if (typeof logprobs !== 'boolean') return badRequest('logprobs must be a boolean', 'logprobs');
  const top = body.top_logprobs ?? null;
  if (top !== null) {
    if (!isInt(top, 0, MAX_TOP_LOGPROBS)) return badRequest(`top_logprobs must be an integer from 0 to ${MAX_TOP_LOGPROBS}`, 'top_logprobs');
    if (!logprobs) return badRequest('logprobs must be set to true if top_logprobs is set', 'top_logprobs');
  }
  return { ...common, source: source ?? last, promptTokens, logprobs, topLogprobs: top ?? 0 };
}

function parseLegacy(body: Json, models: Set<string>): Output | LegacyParams {
  const common = parseGenCommon(body, models);
  if ('kind' in common) return common;
  const p = body.prompt;
  let prompts: string[];
  let promptTokens = 0;
  const ids = (a: unknown[]): string | null => (a.every((x) => isInt(x, 0, Number.MAX_SAFE_INTEGER)) ? a.join(' ') : null);
  if (typeof p === 'string') prompts = [p];
  else if (Array.isArray(p) && p.length > 0 && p.every((x) => typeof x === 'string')) prompts = p as string[];
  else if (Array.isArray(p) && p.length > 0 && typeof p[0] === 'number' && ids(p) !== null) prompts = [ids(p)!];
  else if (Array.isArray(p) && p.length > 0 && p.every((x) => Array.isArray(x) && ids(x) !== null)) {
    prompts = (p as unknown[][]).map((x) => ids(x)!);
  } else return badRequest('prompt must be a string, an array of strings or of token ids', 'prompt');
  for (const s of prompts) promptTokens += countTokens(s);
  const echo = body.echo ?? false;
  if (typeof echo !== 'boolean') return badRequest('echo must be a boolean', 'echo');
  const lp = body.logprobs ?? null;
  if (lp !== null && !isInt(lp, 0, MAX_LEGACY_LOGPROBS)) {
    return badRequest(`logprobs must be an integer from 0 to ${MAX_LEGACY_LOGPROBS}`, 'logprobs');
  }
  return { ...common, prompts, promptTokens, echo, logprobs: lp };
}

// ---------------------------------------------------------------------------
// Rendering. `count` forces the reply length (huge faults); otherwise max_tokens.

function usageJson(prompt: number, completion: number): string {
  return `{"prompt_tokens":${prompt},"completion_tokens":${completion},"total_tokens":${prompt + completion}}`;
}

function renderChat(p: ChatParams, id: string, created: number, count: number | undefined): Output {
  const forced = count ?? p.maxTokens;
  const tokens = replyTokens(p.source, forced, false);
  const finish = forced === undefined ? 'stop' : 'length';
  const completionTokens = tokens.length * p.n;
  if (!p.stream) {
    const content = tokens.join('');
    const choices = new Array<unknown>(p.n);
    for (let c = 0; c < p.n; c++) {
      choices[c] = {
        index: c,
        message: { role: 'assistant', content, refusal: null },
        logprobs: p.logprobs
          ? { content: tokens.map((t, i) => chatLogprob(t, i, c, p.topLogprobs)), refusal: null }
          : null,
        finish_reason: finish,
      };
    }
    return {
      kind: 'json',
      status: 200,
      body: `{"id":"${id}","object":"chat.completion","created":${created},"model":${JSON.stringify(p.model)},` +
        `"system_fingerprint":"${FINGERPRINT}","choices":${JSON.stringify(choices)},` +
        `"usage":${usageJson(p.promptTokens, completionTokens)}}`,
    };
  }
  const head = `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},` +
    `"model":${JSON.stringify(p.model)},"system_fingerprint":"${FINGERPRINT}","choices":[`;
  const tail = p.includeUsage ? '],"usage":null}\n\n' : ']}\n\n';
  const events: string[] = [];
  for (let c = 0; c < p.n; c++) {
    events.push(`${head}{"index":${c},"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}${tail}`);
  }
  for (let i = 0; i < tokens.length; i++) {
    const tok = JSON.stringify(tokens[i]);
    for (let c = 0; c < p.n; c++) {
      const lp = p.logprobs
        ? `{"content":[${JSON.stringify(chatLogprob(tokens[i], i, c, p.topLogprobs))}],"refusal":null}`
        : 'null';
      events.push(`${head}{"index":${c},"delta":{"content":${tok}},"logprobs":${lp},"finish_reason":null}${tail}`);
    }
  }
  for (let c = 0; c < p.n; c++) {
    events.push(`${head}{"index":${c},"delta":{},"logprobs":null,"finish_reason":"${finish}"}${tail}`);
  }
  if (p.includeUsage) events.push(`${head}],"usage":${usageJson(p.promptTokens, completionTokens)}}\n\n`);
  events.push(DONE_EVENT);
  return { kind: 'sse', events };
}

function emptyLegacyLogprobs(): LegacyLogprobs {
  return { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
}

function renderLegacy(p: LegacyParams, id: string, created: number, count: number | undefined): Output {
  const forced = count ?? p.maxTokens;
  const finish = forced === undefined ? 'stop' : 'length';
  const k = p.logprobs ?? 0;
  const replies = p.prompts.map((s) => replyTokens(s, forced, true));
  let completionTokens = 0;
  for (const r of replies) completionTokens += r.length * p.n;
  const promptSplits = p.echo && p.logprobs !== null ? p.prompts.map(splitPromptTokens) : undefined;

  if (!p.stream) {
    const choices: unknown[] = [];
    for (let j = 0; j < p.prompts.length; j++) {
      const prompt = p.prompts[j];
      const text = (p.echo ? prompt : '') + replies[j].join('');
      for (let c = 0; c < p.n; c++) {
        let logprobs: LegacyLogprobs | null = null;
        if (p.logprobs !== null) {
          logprobs = emptyLegacyLogprobs();
          if (promptSplits) appendLegacyLogprobs(logprobs, promptSplits[j], c, k, 0, 0, true);
          appendLegacyLogprobs(logprobs, replies[j], c, k, 0, prompt.length, false);
        }
        choices.push({ text, index: j * p.n + c, logprobs, finish_reason: finish });
      }
    }
    return {
      kind: 'json',
      status: 200,
      body: `{"id":"${id}","object":"text_completion","created":${created},"model":${JSON.stringify(p.model)},` +
        `"system_fingerprint":"${FINGERPRINT}","choices":${JSON.stringify(choices)},` +
        `"usage":${usageJson(p.promptTokens, completionTokens)}}`,
    };
  }

  const head = `data: {"id":"${id}","object":"text_completion","created":${created},` +
    `"model":${JSON.stringify(p.model)},"system_fingerprint":"${FINGERPRINT}","choices":[`;
  const tail = p.includeUsage ? '],"usage":null}\n\n' : ']}\n\n';
  const events: string[] = [];
  const choice = (index: number, text: string, logprobs: string, finishReason: string): string =>
    `${head}{"text":${JSON.stringify(text)},"index":${index},"logprobs":${logprobs},"finish_reason":${finishReason}}${tail}`;
  const lpJson = (tokens: string[], c: number, offset: number, unscoredFirst: boolean): string => {
    if (p.logprobs === null) return 'null';
    const lp = emptyLegacyLogprobs();
    appendLegacyLogprobs(lp, tokens, c, k, 0, offset, unscoredFirst);
    return JSON.stringify(lp);
  };
  if (p.echo) {
    for (let j = 0; j < p.prompts.length; j++) {
      for (let c = 0; c < p.n; c++) {
        events.push(choice(j * p.n + c, p.prompts[j], promptSplits ? lpJson(promptSplits[j], c, 0, true) : 'null', 'null'));
      }
    }
  }
  let longest = 0;
  for (const r of replies) longest = Math.max(longest, r.length);
  const offsets = p.prompts.map((s) => s.length);
  for (let i = 0; i < longest; i++) {
    for (let j = 0; j < p.prompts.length; j++) {
      const tok = replies[j][i];
      if (tok === undefined) continue;
      for (let c = 0; c < p.n; c++) {
        let lp = 'null';
        if (p.logprobs !== null) {
          const acc = emptyLegacyLogprobs();
          appendLegacyLogprobs(acc, [tok], c, k, i, offsets[j], false);
          lp = JSON.stringify(acc);
        }
        events.push(choice(j * p.n + c, tok, lp, 'null'));
      }
      offsets[j] += tok.length;
    }
  }
  for (let idx = 0; idx < p.prompts.length * p.n; idx++) events.push(choice(idx, '', 'null', `"${finish}"`));
  if (p.includeUsage) events.push(`${head}],"usage":${usageJson(p.promptTokens, completionTokens)}}\n\n`);
  events.push(DONE_EVENT);
  return { kind: 'sse', events };
}

/** Renders with a reply length chosen so the whole output is about `bytes` long. */
function fitToSize(render: (count: number) => Output, bytes: number): Output {
  const probe = 64;
  const small = render(16);
  const s0 = outputBytes(small);
  if (s0 >= bytes) return small;
  const perToken = (outputBytes(render(16 + probe)) - s0) / probe;
  return render(16 + Math.max(0, Math.round((bytes - s0) / perToken)));
}

function renderEmbeddings(body: Json, models: Set<string>): Output {
  const model = body.model;
  if (typeof model !== 'string' || model === '') return badRequest('you must provide a model parameter', 'model');
  if (!models.has(model)) {
    return errorOutput(404, `The model \`${model}\` does not exist or you do not have access to it.`,
      'invalid_request_error', null, 'model_not_found');
  }
  const input = body.input;
  const idsText = (a: unknown): string | null =>
    Array.isArray(a) && a.length > 0 && a.every((x) => isInt(x, 0, Number.MAX_SAFE_INTEGER)) ? a.join(' ') : null;
  let texts: string[];
  if (typeof input === 'string' && input !== '') texts = [input];
  else if (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'string' && x !== '')) texts = input as string[];
  else if (idsText(input) !== null) texts = [idsText(input)!];
  else if (Array.isArray(input) && input.length > 0 && input.every((x) => idsText(x) !== null)) texts = input.map((x) => idsText(x)!);
  else return badRequest('input must be a non-empty string, an array of them, or token ids', 'input');
  const dims = body.dimensions ?? EMBEDDING_DIMS;
  if (!isInt(dims, 1, MAX_EMBEDDING_DIMS)) return badRequest(`dimensions must be an integer from 1 to ${MAX_EMBEDDING_DIMS}`, 'dimensions');
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') return badRequest("encoding_format must be 'float' or 'base64'", 'encoding_format');
  let tokens = 0;
  const data = texts.map((t, index) => {
    tokens += countTokens(t);
    const v = embed(t, dims);
    const embedding = format === 'float' ? v : Buffer.from(new Float32Array(v).buffer).toString('base64');
    return { object: 'embedding', index, embedding };
  });
  return ok({ object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
}

/** Adds a `padding` member so a JSON object output is about `bytes` long. */
function padJson(out: Output, bytes: number): Output {
  if (out.kind !== 'json' || !out.body.endsWith('}')) return out;
  const room = bytes - Buffer.byteLength(out.body) - ',"padding":""'.length;
  if (room <= 0) return out;
  return { ...out, body: `${out.body.slice(0, -1)},"padding":"${'x'.repeat(room)}"}` };
}

// ---------------------------------------------------------------------------
// Sending

function sendNow(res: http.ServerResponse, out: Output): void {
  if (out.kind === 'json') {
    res.writeHead(out.status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(out.body) });
    res.end(out.body);
  } else {
    res.writeHead(200, SSE_HEADERS);
    res.end(out.events.length === 1 ? out.events[0] : out.events.join(''));
  }
}

/** Destroys the response once `chunk` has reached the socket, so the client sees it first. */
function writeThenDie(res: http.ServerResponse, chunk: string | Buffer): void {
  res.write(chunk, () => res.destroy());
}

/** A pause that the server's shutdown cuts short (rejects). */
type Pause = (ms: number) => Promise<void>;

/**
 * Pauses of all requests in one registry, cut short together at shutdown. (A sleep of
 * node:timers/promises with the shutdown signal would add one 'abort' listener per
 * pause in progress to that one signal: past 10 at once, node warns of a leak.)
 */
function pauses(): { pause: Pause; stopAll(reason: unknown): void } {
  const pending = new Set<{ timer: NodeJS.Timeout; reject(err: unknown): void }>();
  let stopped: { reason: unknown } | undefined;
  return {
    pause(ms) {
      if (stopped) return Promise.reject(stopped.reason);
      return new Promise<void>((resolve, reject) => {
        const p = {
          timer: setTimeout(() => {
            pending.delete(p);
            resolve();
          }, ms),
          reject,
        };
        pending.add(p);
      });
    },
    stopAll(reason) {
      stopped = { reason };
      for (const p of pending) {
        clearTimeout(p.timer);
        p.reject(reason);
      }
      pending.clear();
    },
  };
}

async function sendPaced(res: http.ServerResponse, out: Output, plan: SendPlan, pause: Pause): Promise<void> {
  if (out.kind === 'json') {
    const body = Buffer.from(out.body);
    res.writeHead(out.status, { 'content-type': JSON_TYPE, 'content-length': body.length });
    const half = body.subarray(0, body.length >> 1);
    if (plan.dieMidStream) return writeThenDie(res, half);
    if (plan.slowBodyMs === 0) return void res.end(body);
    res.flushHeaders();
    for (const piece of [half, body.subarray(half.length)]) {
      await pause(plan.slowBodyMs);
      if (res.destroyed) return;
      res.write(piece);
    }
    res.end();
    return;
  }
  res.writeHead(200, SSE_HEADERS);
  res.flushHeaders();
  const dieAt = plan.dieMidStream ? Math.min(DIE_AFTER_EVENTS, out.events.length - 1) : -1;
  for (let i = 0; i < out.events.length; i++) {
    // slow-body pauses before every chunk (headers went alone); the token delay only
    // between events, as a model streams its first chunk as soon as it starts.
    const wait = plan.slowBodyMs > 0 ? plan.slowBodyMs : i > 0 ? plan.tokenDelayMs : 0;
    if (wait > 0) await pause(wait);
    if (res.destroyed) return;
    if (i === dieAt - 1) return writeThenDie(res, out.events[i]);
    res.write(out.events[i]);
  }
  res.end();
}

// ---------------------------------------------------------------------------
// Server

function readBody(req: http.IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? null : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const NO_JSON = Symbol('no-json');

/**
 * Starts the demo LLM server. Endpoints: `GET /v1/models`, `GET /v1/models/{id}`,
 * `POST /v1/chat/completions`, `POST /v1/completions`, `POST /v1/embeddings`, and the
 * test hooks `GET /__stats`, `POST /__stats/reset` (not counted themselves).
 *
 * @example
 * const llm = await startLlmServer({ port: 0 });
 * await fetch(`${llm.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({
 *   model: 'demo-llm', messages: [{ role: 'user', content: 'hi' }] }) });
 * llm.stats().requests; // 1
 * await llm.close();
 */
export async function startLlmServer(opts: LlmServerOptions = {}): Promise<LlmServer> {
  const host = opts.host ?? '127.0.0.1';
  const modelList = opts.models ?? ['demo-llm'];
  if (modelList.length === 0 || modelList.some((m) => typeof m !== 'string' || m === '')) {
    throw new TypeError('models must be a non-empty list of non-empty strings');
  }
  const defaultDelay = opts.tokenDelayMs ?? 0;
  if (!isInt(defaultDelay, 0, MAX_DELAY_MS)) throw new TypeError(`tokenDelayMs must be an integer from 0 to ${MAX_DELAY_MS}`);
  const models = new Set(modelList);
  const modelObjects = new Map(modelList.map((id) => [id, { id, object: 'model', created: MODEL_CREATED, owned_by: 'palisade-demo' }]));
  const modelsBody = JSON.stringify({ object: 'list', data: [...modelObjects.values()] });
  const shutdown = new AbortController();
  const { pause, stopAll } = pauses();

  let requests = 0;
  let byPath = new Map<string, number>();
  let lastPath: string | undefined;
  let lastBody: unknown;
  let lastHeaders: http.IncomingHttpHeaders | undefined;
  let seq = 0;

  const stats = (): LlmServerStats => ({
    requests, byPath: Object.fromEntries(byPath), lastPath, lastBody, lastHeaders,
  });
  const reset = (): void => {
    requests = 0;
    byPath = new Map();
    lastPath = lastBody = lastHeaders = undefined;
  };

  function route(method: string, path: string, body: unknown, hugeBytes: number): Output {
    if (path === '/v1/chat/completions' || path === '/v1/completions') {
      if (method !== 'POST') return errorOutput(405, `Method ${method} not allowed on ${path}`, 'invalid_request_error');
      if (!isObject(body)) return badRequest('We could not parse the JSON body of your request: expected a JSON object.');
      const id = `${path === '/v1/completions' ? 'cmpl' : 'chatcmpl'}-demo${++seq}`;
      const created = Math.floor(Date.now() / 1000);
      if (path === '/v1/chat/completions') {
        const p = parseChat(body, models);
        if ('kind' in p) return p;
        return hugeBytes > 0 ? fitToSize((n) => renderChat(p, id, created, n), hugeBytes) : renderChat(p, id, created, undefined);
      }
      const p = parseLegacy(body, models);
      if ('kind' in p) return p;
      return hugeBytes > 0 ? fitToSize((n) => renderLegacy(p, id, created, n), hugeBytes) : renderLegacy(p, id, created, undefined);
    }
    let out: Output;
    if (path === '/v1/embeddings') {
      if (method !== 'POST') return errorOutput(405, `Method ${method} not allowed on ${path}`, 'invalid_request_error');
      out = isObject(body) ? renderEmbeddings(body, models) : badRequest('We could not parse the JSON body of your request: expected a JSON object.');
    } else if (path === '/v1/models' && method === 'GET') {
      out = { kind: 'json', status: 200, body: modelsBody };
    } else if (path.startsWith('/v1/models/') && method === 'GET') {
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      const m = modelObjects.get(id);
      out = m ? ok(m) : errorOutput(404, `The model \`${id}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model', 'model_not_found');
    } else {
      out = errorOutput(404, `Invalid URL (${method} ${path})`, 'invalid_request_error');
    }
    return hugeBytes > 0 ? padJson(out, hugeBytes) : out;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';

    if (path === '/__stats' && method === 'GET') return sendNow(res, ok(stats()));
    if (path === '/__stats/reset' && method === 'POST') {
      reset();
      return sendNow(res, ok({ reset: true }));
    }

    requests++;
    byPath.set(path, (byPath.get(path) ?? 0) + 1);
    lastPath = path;
    lastHeaders = req.headers;
    lastBody = undefined;

    let body: unknown = NO_JSON;
    if (method !== 'GET' && method !== 'HEAD') {
      const raw = await readBody(req);
      if (raw === null) {
        return sendNow(res, errorOutput(413, `request body larger than ${MAX_BODY_BYTES} bytes`, 'invalid_request_error'));
      }
      if (raw.length > 0) {
        const text = raw.toString('utf8');
        try {
          body = JSON.parse(text);
        } catch {
          lastBody = text;
          return sendNow(res, badRequest('We could not parse the JSON body of your request. The API expects a JSON payload.'));
        }
        lastBody = body;
      }
    }

    const faultHeader = req.headers[FAULT_HEADER];
    const delayHeader = req.headers[TOKEN_DELAY_HEADER];
    if (faultHeader === undefined && delayHeader === undefined && defaultDelay === 0) {
      return sendNow(res, route(method, path, body, 0));
    }

    let tokenDelayMs = defaultDelay;
    if (delayHeader !== undefined) {
      const d = Number(delayHeader);
      if (typeof delayHeader !== 'string' || !/^\d+$/.test(delayHeader) || d > MAX_DELAY_MS) {
        return sendNow(res, badRequest(`${TOKEN_DELAY_HEADER} must be an integer from 0 to ${MAX_DELAY_MS}`));
      }
      tokenDelayMs = d;
    }
    const faults = faultHeader === undefined ? undefined : parseFaults(Array.isArray(faultHeader) ? faultHeader.join(',') : faultHeader);
    if (typeof faults === 'string') return sendNow(res, badRequest(faults));

    if (faults?.resetBeforeHeaders) {
      req.socket.resetAndDestroy();
      return;
    }
    if (faults && faults.slowHeadersMs > 0) {
      await pause(faults.slowHeadersMs);
      if (res.destroyed) return;
    }
    let out: Output;
    if (faults && faults.status > 0) {
      out = errorOutput(faults.status, `demo fault: injected status ${faults.status}`,
        faults.status >= 500 ? 'server_error' : 'invalid_request_error', null, 'demo_fault');
    } else if (faults?.garbage) {
      out = { kind: 'json', status: 200, body: '{"id":"chatcmpl-garbage","object":"chat.completion","choices":[{ this is not JSON' };
    } else if (faults?.badSse) {
      out = { kind: 'sse', events: ['data: {"id":"chatcmpl-bad-sse","choices":[\n\n', 'data: this is not JSON\n\n', 'data: {nor:this}\n\n', DONE_EVENT] };
    } else {
      out = route(method, path, body, faults?.hugeBytes ?? 0);
      if (faults?.pretty || faults?.dupLogprobs) {
        if (out.kind === 'json' && out.status === 200) out = { ...out, body: rewriteJson(out.body, faults) };
        else if (out.kind === 'sse') {
          // Each event's data on one line (SSE data lines cannot hold a newline).
          const f = faults;
          out = { kind: 'sse', events: out.events.map((e) => (e === DONE_EVENT || !e.startsWith('data: {') ? e : `data: ${rewriteJson(e.slice(6, -2), f).replace(/\n */g, ' ')}\n\n`)) };
        }
      }
    }
    const plan: SendPlan = { tokenDelayMs, slowBodyMs: faults?.slowBodyMs ?? 0, dieMidStream: faults?.dieMidStream ?? false };
    if (plan.slowBodyMs === 0 && !plan.dieMidStream && (plan.tokenDelayMs === 0 || out.kind === 'json')) return sendNow(res, out);
    await sendPaced(res, out, plan, pause);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // Aborted sleeps at shutdown, or a client gone mid-write: nothing to answer.
      if (res.headersSent || shutdown.signal.aborted) {
        res.destroy();
        return;
      }
      sendNow(res, errorOutput(500, `demo server error: ${(err as Error)?.message ?? String(err)}`, 'server_error'));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;

  return {
    url: `http://${urlHost}:${port}`,
    port,
    stats,
    reset,
    close() {
      closing ??= new Promise<void>((resolve) => {
        shutdown.abort();
        stopAll(new Error('demo server closing'));
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/** CLI entry: parses flags, starts the server, prints the listening line, stops on SIGTERM/SIGINT. */
export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'token-delay-ms': { type: 'string', default: '0' },
      models: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const port = Number(values.port);
  if (!isInt(port, 0, 65535)) throw new Error(`--port must be an integer from 0 to 65535, got ${values.port}`);
  const tokenDelayMs = Number(values['token-delay-ms']);
  if (!isInt(tokenDelayMs, 0, MAX_DELAY_MS)) throw new Error(`--token-delay-ms must be an integer from 0 to ${MAX_DELAY_MS}`);
  const models = values.models?.split(',').map((m) => m.trim()).filter((m) => m !== '');
  const server = await startLlmServer({ host: values.host, port, tokenDelayMs, models });
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdout.write(`${JSON.stringify({ listening: server.url })}\n`);
}

if (isMain()) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`llm-server: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(1);
  });
}
