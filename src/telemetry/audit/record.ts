/**
 * The audit record of one decision, built from the request context and its outcome at
 * the end of the request. Building it is cheap: the prompt digest is computed when the
 * writer serializes the record (toJSON), off the request path.
 *
 * docs/telemetry.md ("Audit record") documents every field.
 */
import { createHash } from 'node:crypto';
import type { RequestContext } from '../../pipeline/context.js';
import type { RejectedRequest } from '../../pipeline/stage.js';
import type { InferenceText, Outcome } from '../../pipeline/types.js';
import type { TokenExchangeEvent } from '../../services.js';
import type { DecisionLabel, NoteSummary } from '../notes.js';
import type { AuditEntry } from './log.js';

export type PromptMode = 'hash' | 'full' | 'none';

/**
 * The prompt of a record: the sha256 of its texts (each text's UTF-8, joined by a NUL
 * byte, in request order), their total byte length and count; with `full`, the texts.
 */
class PromptDigest {
  constructor(
    private readonly texts: readonly InferenceText[],
    private readonly full: boolean,
  ) {}

  toJSON(): unknown {
    const h = createHash('sha256');
    let bytes = 0;
    for (let i = 0; i < this.texts.length; i++) {
      if (i > 0) h.update('\0');
      const t = this.texts[i].text;
      h.update(t);
      bytes += Buffer.byteLength(t);
    }
    const out: Record<string, unknown> = { sha256: h.digest('hex'), bytes, texts: this.texts.length };
    if (this.full) out.content = this.texts.map((t) => ({ role: t.role, text: t.text }));
    return out;
  }
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** The record of a request that went through the pipeline (allowed, denied or failed). */
export function requestRecord(
  ctx: RequestContext,
  outcome: Outcome,
  s: NoteSummary,
  decision: DecisionLabel,
  prompt: PromptMode,
  traceId?: string,
): AuditEntry {
  const p = ctx.principal;
  const rec: AuditEntry = {
    type: 'request',
    time: new Date(ctx.receivedAt).toISOString(),
    id: ctx.id,
    trace: traceId,
    client: ctx.http.clientAddress,
    principal: p?.id,
    tenant: p?.tenant,
    via: p?.via,
    model: ctx.model.name,
    route: ctx.route.operation,
    protocol: ctx.route.protocol,
    decision,
    status: outcome.status,
    code: outcome.code,
    stage: outcome.deniedBy,
    aborted: outcome.aborted || undefined,
    detectors: s.detectors.length ? s.detectors : undefined,
    limits: s.limits.length ? s.limits : undefined,
    upstream: outcome.upstreamStatus !== undefined || outcome.deniedBy === undefined ? { name: ctx.model.upstream.name, status: outcome.upstreamStatus } : undefined,
    latencyMs: round(outcome.durationMs),
    firstByteMs: outcome.firstByteMs === undefined ? undefined : round(outcome.firstByteMs),
    usage: outcome.usage && (outcome.usage.inputTokens !== undefined || outcome.usage.outputTokens !== undefined)
      ? { input: outcome.usage.inputTokens, output: outcome.usage.outputTokens }
      : undefined,
  };
  const texts = ctx.request?.texts;
  if (prompt !== 'none' && texts && texts.length > 0) rec.prompt = new PromptDigest(texts, prompt === 'full');
  return rec;
}

/** A client-chosen string kept in a record, cut at 256 characters. */
function bounded(s: string): string {
  return s.length > 256 ? `${s.slice(0, 256)}…` : s;
}

/** The record of a request refused before any stage (bad route, body or model). */
export function rejectedRecord(r: RejectedRequest): AuditEntry {
  return {
    type: 'request',
    time: new Date(r.receivedAt).toISOString(),
    id: r.id,
    client: r.clientAddress,
    method: r.method,
    // The path is client-chosen: kept, but bounded.
    path: bounded(r.path),
    decision: 'reject',
    status: r.status,
    code: r.code,
    latencyMs: round(r.durationMs),
  };
}

/** The record of an answer of the token endpoint: a token issued (never the token), or a refusal. */
export function tokenRecord(e: TokenExchangeEvent): AuditEntry {
  return {
    type: 'token',
    time: new Date(e.receivedAt).toISOString(),
    id: e.id,
    client: e.clientAddress,
    principal: e.principal,
    tenant: e.tenant,
    // Client-chosen when refused: bounded like a path.
    model: e.model === undefined ? undefined : bounded(e.model),
    scope: e.scope,
    jti: e.jti,
    expiresIn: e.expiresIn,
    decision: e.status === 200 ? 'issue' : 'refuse',
    status: e.status,
    code: e.code,
    reason: e.reason,
    latencyMs: round(e.durationMs),
  };
}
