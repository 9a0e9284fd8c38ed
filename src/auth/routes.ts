/**
 * The routes the gateway answers itself for auth: on the main listener the token
 * endpoint (POST /palisade/token) and the gateway's public keys
 * (GET /.well-known/jwks.json); on the admin listener revocation and a risk read-out.
 * They are registered next to the proxy's catch-all route and call the Auth of the
 * runtime current at arrival.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import { parseDuration } from '../config/units.js';
import { GatewayError } from '../pipeline/errors.js';
import { requestIdFrom } from '../proxy/headers.js';
import type { Runtime } from '../runtime.js';
import { readBody } from '../server/body.js';
import { httpInfo, withAdmission, type HandlerHost } from '../server/handler.js';
import { sendError } from '../server/respond.js';
import type { Services, TokenExchangeEvent } from '../services.js';
import { Revocations } from './revocation.js';
import { RiskEngine } from './risk.js';
import { MODEL_RESOURCE_PREFIX } from './issuers.js';
import { ExchangeError, exchangeToken } from './token-exchange.js';

export const TOKEN_PATH = '/palisade/token';
export const JWKS_PATH = '/.well-known/jwks.json';
const MAX_FORM = 16 * 1024;
const DEFAULT_REVOCATION_TTL = 24 * 3_600_000;

/** What the auth routes need of the gateway: the request handling host and its services (audit). */
type AuthRoutesHost = HandlerHost & { readonly services: Services };

/** Registers POST /palisade/token and GET /.well-known/jwks.json (404 while auth.tokenExchange is off). */
export function registerAuthRoutes(app: FastifyInstance, host: AuthRoutesHost): void {
  app.post(TOKEN_PATH, (request, reply) => {
    reply.hijack();
    return withAdmission(host, request.raw, reply.raw, () => handleToken(host, request.raw, reply.raw));
  });
  // Behind admission like every route (cheap, but a flood of it is still work).
  app.get(JWKS_PATH, (request, reply) => {
    reply.hijack();
    return withAdmission(host, request.raw, reply.raw, async () => {
      const res = reply.raw;
      const requestId = requestIdFrom(request.headers['x-request-id'], randomUUID);
      const issuer = host.current.auth?.gatewayIssuer;
      if (!issuer) return sendError(res, requestId, 'PALISADE_NOT_FOUND');
      const body = JSON.stringify(issuer.keys.jwks);
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        // Short: a rotation must reach relying parties well within a token lifetime.
        'cache-control': 'public, max-age=60',
        'x-request-id': requestId,
      });
      res.end(body);
    });
  });
}

async function handleToken(host: AuthRoutesHost, req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
  const rt: Runtime = host.current;
  rt.enter();
  const requestId = requestIdFrom(req.headers['x-request-id'], randomUUID);
  const receivedAt = Date.now();
  const started = performance.now();
  let form: URLSearchParams | undefined;
  // The audit record of this answer (the token itself is never recorded).
  const audit = (e: Partial<TokenExchangeEvent> & { status: number }) => {
    const events = host.services.events;
    if (!events?.onTokenExchange || !rt.auth?.gatewayIssuer) return;
    const name = form && modelOf(form);
    events.onTokenExchange({
      id: requestId,
      receivedAt,
      clientAddress: httpInfo(host, req).clientAddress,
      model: name !== undefined && rt.models.has(name) ? name : undefined,
      durationMs: performance.now() - started,
      ...e,
    });
  };
  try {
    const auth = rt.auth;
    if (!auth?.gatewayIssuer) throw new GatewayError('PALISADE_NOT_FOUND');
    const ct = req.headers['content-type'];
    if (typeof ct !== 'string' || ct.split(';')[0].trim().toLowerCase() !== 'application/x-www-form-urlencoded') {
      throw new GatewayError('PALISADE_UNSUPPORTED_MEDIA_TYPE', 'the token endpoint takes application/x-www-form-urlencoded');
    }
    const buf = await readBody(req, MAX_FORM);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
    } catch {
      throw new GatewayError('PALISADE_BAD_REQUEST');
    }
    form = new URLSearchParams(text);
    const out = await exchangeToken(auth, rt.models, form, httpInfo(host, req));
    const body = JSON.stringify(out);
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      pragma: 'no-cache',
      'x-request-id': requestId,
    });
    res.end(body);
    const claims = decodeJwt(out.access_token);
    audit({
      status: 200,
      principal: claims.sub,
      tenant: typeof claims.tenant === 'string' ? claims.tenant : undefined,
      scope: out.scope,
      jti: claims.jti,
      expiresIn: out.expires_in,
    });
  } catch (err) {
    const e = err instanceof GatewayError ? err : undefined;
    if (!e) host.logger.error({ err, requestId }, 'token exchange failed');
    else if (e instanceof ExchangeError && e.status !== 400) {
      host.logger.info({ requestId, code: e.code, reason: e.reason, principal: e.principal }, 'token exchange refused');
    }
    const code = e?.code ?? 'PALISADE_INTERNAL';
    if (!res.destroyed) sendError(res, requestId, code, e?.message, e?.status, e?.headers);
    audit({ status: e?.status ?? 500, code, reason: e instanceof ExchangeError ? e.reason : undefined, principal: e instanceof ExchangeError ? e.principal : undefined });
  } finally {
    rt.leave();
  }
}

/** The model a token request names (resource wins; validated by the exchange, this is for the record). */
function modelOf(form: URLSearchParams): string | undefined {
  const resource = form.get('resource');
  if (resource !== null && resource.startsWith(MODEL_RESOURCE_PREFIX)) return resource.slice(MODEL_RESOURCE_PREFIX.length);
  return form.get('audience') ?? undefined;
}

const revokeBody = z.strictObject({
  jti: z.string().min(1).max(512).optional(),
  principal: z.string().min(1).max(512).optional(),
  ttl: z.union([z.string(), z.number()]).optional(),
});

/**
 * Registers on the admin listener:
 * - POST /admin/revoke   {"jti"?, "principal"?, "ttl"?}: refuse that token / principal at once
 * - POST /admin/unrevoke {"jti"?, "principal"?}: lift it
 * - GET  /admin/risk?principal=ID | ?address=IP: the current risk score
 */
export function registerAdminAuthRoutes(admin: FastifyInstance, host: { readonly current: Runtime; readonly services: Services }): void {
  const revocations = new Revocations(host.services.state);
  const parse = (body: unknown) => {
    const r = revokeBody.safeParse(body);
    if (!r.success || (r.data.jti === undefined && r.data.principal === undefined)) return undefined;
    return r.data;
  };
  admin.post('/admin/revoke', async (request, reply) => {
    const b = parse(request.body);
    const ttl = b?.ttl === undefined ? (host.current.auth?.config.revocation.ttl ?? DEFAULT_REVOCATION_TTL) : parseDuration(b.ttl);
    if (!b || ttl === undefined || ttl <= 0) {
      reply.code(400);
      return { error: { code: 'PALISADE_BAD_REQUEST', message: 'expected {"jti"?: string, "principal"?: string, "ttl"?: duration} with jti or principal' } };
    }
    const now = Date.now();
    await revocations.revoke(b, ttl, now);
    host.services.logger.info({ jti: b.jti, principal: b.principal, ttl }, 'revoked');
    return { revoked: { jti: b.jti, principal: b.principal }, until: new Date(now + ttl).toISOString() };
  });
  admin.post('/admin/unrevoke', async (request, reply) => {
    const b = parse(request.body);
    if (!b) {
      reply.code(400);
      return { error: { code: 'PALISADE_BAD_REQUEST', message: 'expected {"jti"?: string, "principal"?: string}' } };
    }
    await revocations.restore(b);
    host.services.logger.info({ jti: b.jti, principal: b.principal }, 'revocation lifted');
    return { restored: { jti: b.jti, principal: b.principal } };
  });
  admin.get('/admin/risk', async (request, reply) => {
    const q = request.query as Record<string, unknown>;
    const auth = host.current.auth;
    const principal = typeof q.principal === 'string' ? q.principal : undefined;
    const address = typeof q.address === 'string' ? q.address : undefined;
    if (!auth || (principal === undefined) === (address === undefined)) {
      reply.code(auth ? 400 : 404);
      return { error: { code: auth ? 'PALISADE_BAD_REQUEST' : 'PALISADE_NOT_FOUND', message: 'expected ?principal=ID or ?address=IP' } };
    }
    const risk: RiskEngine = auth.risk;
    return { principal, address, risk: await risk.add(principal !== undefined ? { principal } : { address }, 0) };
  });
}
