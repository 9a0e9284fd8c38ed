/**
 * The gateway process: the main listener (fastify, HTTPS when configured), the admin
 * listener, hot reload (SIGHUP and file change) with an atomic runtime swap, and the
 * drain on SIGTERM.
 */
import { watch, type FSWatcher } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Server as HttpsServer } from 'node:https';
import { basename, dirname } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { registerAdminAuthRoutes, registerAuthRoutes } from '../auth/routes.js';
import { formatProblem, loadConfigFile, resolveConfigPath, type LoadedConfig } from '../config/load.js';
import { DetectorSessions } from '../detect/sessions.js';
import { errorBody, errorSpec } from '../pipeline/errors.js';
import { HTTP_METHODS } from '../protocols/routes.js';
import { requestIdFrom } from '../proxy/headers.js';
import { Runtime } from '../runtime.js';
import { createLimiterRegistry } from '../limits/limiters.js';
import { createStateStore, stateHealth } from '../state/create.js';
import { FailoverStore } from '../state/failover.js';
import type { StateStore } from '../state/store.js';
import { Telemetry } from '../telemetry/telemetry.js';
import type { Logger, Services } from '../services.js';
import { TrustedProxies } from './client-address.js';
import { ConnectionLimiter } from './connection-limit.js';
import { handleRequest, type HandlerHost } from './handler.js';
import { Admission } from './overload.js';
import { ReadinessProbe } from './readiness.js';
import { sendError } from './respond.js';
import { readListenerTls } from './tls.js';

export interface GatewayOptions {
  /** Path of the YAML config. */
  configFile: string;
  /** Logger (default: pino to stdout at `info`). */
  logger?: Logger;
  /** Watch the config file and reload on change (default true). */
  watch?: boolean;
  /** Override listen addresses (tests use port 0). */
  listen?: { host: string; port: number };
  adminListen?: { host: string; port: number };
}

export type ReloadResult = { ok: true } | { ok: false; problems: string[] };


export class Gateway implements HandlerHost {
  private runtime!: Runtime;
  private app!: FastifyInstance;
  private admin!: FastifyInstance;
  private watcher?: FSWatcher;
  private reloadChain: Promise<ReloadResult> = Promise.resolve({ ok: true });
  private draining = false;
  /** Overload protection of the main listener; survives reloads (bounds are re-applied). */
  admission!: Admission;
  connections!: ConnectionLimiter;
  private readonly readiness = new ReadinessProbe();
  readonly logger: Logger;
  trustedProxies!: TrustedProxies;
  readonly services: Services;
  /** Metrics, traces and the audit log (long-lived: kept across reloads). */
  telemetry!: Telemetry;
  /** Bound addresses once listening. */
  url = '';
  adminUrl = '';

  private constructor(private readonly opts: GatewayOptions, loaded: LoadedConfig, logger: Logger, state: StateStore) {
    this.logger = logger;
    this.services = { logger, observer: {}, state, limiters: createLimiterRegistry(state), detectors: new DetectorSessions() };
    this.loadedAtStart = loaded;
  }
  private readonly loadedAtStart: LoadedConfig;

  get current(): Runtime {
    return this.runtime;
  }

  /** Whether the gateway is draining (new requests get 503 PALISADE_SHUTTING_DOWN). */
  get closing(): boolean {
    return this.draining;
  }

  /** Loads the config, builds the runtime and starts both listeners. Throws ConfigError-like errors. */
  static async start(opts: GatewayOptions): Promise<Gateway> {
    const r = loadConfigFile(opts.configFile);
    if (!r.ok) {
      const err = new Error(`invalid config ${opts.configFile}:\n${r.problems.map(formatProblem).join('\n')}`);
      throw Object.assign(err, { code: 'PALISADE_CONFIG_INVALID', problems: r.problems });
    }
    const logger = opts.logger ?? (pino({ name: 'palisade' }) as unknown as Logger);
    // State outlives reloads: built once, from the config at start.
    const state = await createStateStore(r.loaded.config.state, logger);
    const gw = new Gateway(opts, r.loaded, logger, state);
    try {
      await gw.listen();
    } catch (err) {
      await state.close();
      throw err;
    }
    return gw;
  }

  private async listen(): Promise<void> {
    const loaded = this.loadedAtStart;
    const server = loaded.config.server;
    this.trustedProxies = new TrustedProxies(server.trustedProxies);
    this.telemetry = await Telemetry.create(loaded.config.telemetry, {
      resolvePath: (p) => resolveConfigPath(loaded, p),
      logger: this.logger,
      auditStartInfo: { config: loaded.file },
    });
    this.services.observer = this.telemetry;
    this.services.events = this.telemetry;
    const state = this.services.state;
    if (state instanceof FailoverStore) {
      // The fallback gauge: Redis lost (serving on local memory) and back.
      this.telemetry.onStateFallback(state.health().backend !== 'redis');
      state.onChange((h) => this.telemetry.onStateFallback(h.backend !== 'redis'));
    }
    try {
      await this.listenWith(loaded);
    } catch (err) {
      await this.telemetry.close();
      throw err;
    }
  }

  private async listenWith(loaded: LoadedConfig): Promise<void> {
    const server = loaded.config.server;
    this.runtime = await Runtime.build(loaded, this.services);
    this.admission = new Admission(server.overload);
    this.connections = new ConnectionLimiter(server.maxConnectionsPerClient, () => this.trustedProxies);
    this.telemetry.activeUpstreams(this.runtime.upstreams);
    const tls = readListenerTls(loaded);
    // Node checks header and request timeouts only every connectionsCheckingInterval
    // (30 s by default): check every second so the configured bounds hold. A missing
    // Host is answered by the handler, in the one error shape. A TLS handshake gets the
    // time the headers get.
    const httpOpts = { maxHeaderSize: server.maxHeaderSize, connectionsCheckingInterval: 1000, requireHostHeader: false };
    const onRequest = (req: IncomingMessage, res: ServerResponse) => handleRequest(this, req, res);
    this.app = Fastify({
      https: tls ? { ...tls, ...httpOpts, handshakeTimeout: server.headersTimeout } : null,
      http: httpOpts,
      requestTimeout: server.requestTimeout,
      keepAliveTimeout: server.keepAliveTimeout,
      connectionTimeout: 0,
      // The handler answers requests that arrive while draining (PALISADE_SHUTTING_DOWN).
      return503OnClosing: false,
      // Paths the router cannot decode go to the handler too: it routes on the raw path.
      frameworkErrors: (_err: Error, request: { raw: IncomingMessage }, reply: { raw: ServerResponse; hijack(): void }) => {
        reply.hijack();
        return onRequest(request.raw, reply.raw);
      },
      forceCloseConnections: 'idle',
      logger: false,
      routerOptions: { ignoreTrailingSlash: false, maxParamLength: 500 },
      clientErrorHandler: (err: Error, socket: Socket) => {
        // Malformed HTTP, header overflow, request timeout: answer in the one error shape.
        const code = (err as { code?: string }).code;
        const [status, pcode] =
          code === 'HPE_HEADER_OVERFLOW'
            ? [431, 'PALISADE_HEADERS_TOO_LARGE']
            : code === 'ERR_HTTP_REQUEST_TIMEOUT'
              ? [408, 'PALISADE_REQUEST_TIMEOUT']
              : [400, 'PALISADE_BAD_REQUEST'];
        if (socket.writable) {
          const body = errorBody(pcode, status === 400 ? 'The request is malformed.' : status === 431 ? 'The request headers are too large.' : 'The request was not received in time.', '');
          socket.end(`HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : status === 431 ? 'Request Header Fields Too Large' : 'Request Timeout'}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
        } else socket.destroy();
      },
    } as never) as unknown as FastifyInstance;
    const http = this.app.server as Server;
    http.headersTimeout = server.headersTimeout;
    // One over the bound, so that the handler sees a request past it and refuses it.
    http.maxHeadersCount = server.maxHeaderCount + 1;
    if (server.maxConnections > 0) http.maxConnections = server.maxConnections;
    this.connections.attach(http);
    // Node would answer these itself, outside the one error shape.
    http.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
      res.setHeader('connection', 'close');
      sendError(res, requestIdFrom(req.headers['x-request-id'], randomUUID), 'PALISADE_EXPECTATION_FAILED');
    });
    http.on('connect', (_req: IncomingMessage, socket: Socket) => {
      const body = errorBody('PALISADE_METHOD_NOT_ALLOWED', errorSpec('PALISADE_METHOD_NOT_ALLOWED').message, '');
      socket.on('error', () => {});
      socket.end(`HTTP/1.1 405 Method Not Allowed\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
    this.app.removeAllContentTypeParsers();
    // The handler reads bodies itself, with the limit of the model it is for.
    this.app.addContentTypeParser('*', (_req, _payload, done) => done(null));
    // Gateway-answered routes (token exchange, JWKS) before the proxy's catch-all.
    registerAuthRoutes(this.app, this);
    // The pipeline takes over at onRequest: fastify's content-type parsing, body
    // handling and handler wrapping never run for proxied requests (the handler reads
    // bodies itself, with the limit of the model it is for). The hook never calls
    // `done`: the hijacked reply is the handler's.
    const takeOver = (request: { raw: IncomingMessage }, reply: { raw: ServerResponse; hijack(): void }): void => {
      reply.hijack();
      void handleRequest(this, request.raw, reply.raw);
    };
    const unreachable = (): void => {};
    this.app.route({ method: [...HTTP_METHODS], url: '/*', onRequest: takeOver, handler: unreachable });
    this.app.route({ method: [...HTTP_METHODS], url: '/', onRequest: takeOver, handler: unreachable });
    // Fastify's own checks before the handler (an empty or malformed Content-Type) would
    // answer outside the one error shape; the handler never throws, so any error here is
    // one of those, and the handler answers it in its place.
    this.app.setErrorHandler((_err, request, reply) => {
      reply.hijack();
      return onRequest(request.raw, reply.raw);
    });
    // Methods outside HTTP_METHODS (PROPFIND, TRACE, ...): the handler answers 404/405.
    this.app.setNotFoundHandler((request, reply) => {
      reply.hijack();
      return onRequest(request.raw, reply.raw);
    });

    this.admin = Fastify({ logger: false });
    // `state.up` is 0 while a Redis-backed gateway runs on local state (the gauge to alert on).
    this.admin.get('/healthz', async () => ({ status: 'ok', state: stateHealth(this.services.state) }));
    this.admin.get('/readyz', async (_req, reply) => {
      const r = await this.readiness.check(this.runtime, this.draining);
      reply.code(r.ready ? 200 : 503);
      return r;
    });
    this.admin.get('/metrics', async (_req, reply) => {
      const m = await this.telemetry.exposeMetrics();
      if (!m) return reply.code(404).send({ error: { code: 'PALISADE_NOT_FOUND', message: 'Metrics are off (telemetry.metrics.enabled).' } });
      return reply.type(m.contentType).send(m.body);
    });
    registerAdminAuthRoutes(this.admin, this);

    const l = this.opts.listen ?? server.listen;
    const a = this.opts.adminListen ?? server.admin.listen;
    await this.app.listen({ host: l.host, port: l.port });
    try {
      await this.admin.listen({ host: a.host, port: a.port });
    } catch (err) {
      await this.app.close();
      throw err;
    }
    this.url = addressUrl(this.app.server, tls ? 'https' : 'http');
    this.adminUrl = addressUrl(this.admin.server, 'http');
    if (this.opts.watch ?? true) this.watchConfig();
    // url/admin: where a client on this host reaches it (a wildcard bind shows as 127.0.0.1);
    // listen/adminListen: the addresses actually bound.
    this.logger.info(
      { url: this.url, admin: this.adminUrl, listen: boundAddress(this.app.server), adminListen: boundAddress(this.admin.server), models: [...this.runtime.models.keys()] },
      'palisade listening',
    );
  }

  /**
   * Loads the config file again and swaps it in atomically when it is valid and fully
   * built. A bad config is refused and logged; the old one keeps serving. Reloads run
   * one at a time.
   */
  reload(): Promise<ReloadResult> {
    // Never rejects: a reload that fails in any way is refused and the chain goes on.
    this.reloadChain = this.reloadChain.then(() =>
      this.doReload().catch((err: unknown) => {
        this.logger.error({ err }, 'config reload refused: the old config keeps serving');
        return { ok: false as const, problems: [(err as Error)?.message ?? String(err)] };
      }),
    );
    return this.reloadChain;
  }

  private async doReload(): Promise<ReloadResult> {
    if (this.draining) return { ok: false, problems: ['draining'] };
    const r = loadConfigFile(this.opts.configFile);
    if (!r.ok) {
      const problems = r.problems.map(formatProblem);
      this.logger.error({ problems }, 'config reload refused: the old config keeps serving');
      this.reloaded(false, problems);
      return { ok: false, problems };
    }
    let next: Runtime;
    let tls;
    let proxies;
    try {
      tls = readListenerTls(r.loaded);
      proxies = new TrustedProxies(r.loaded.config.server.trustedProxies);
      next = await Runtime.build(r.loaded, this.services);
    } catch (err) {
      this.logger.error({ err }, 'config reload refused: building it failed; the old config keeps serving');
      this.reloaded(false, [(err as Error).message]);
      return { ok: false, problems: [(err as Error).message] };
    }
    const restartOnly = restartOnlyChanges(this.runtime.loaded, r.loaded);
    if (restartOnly.length) this.logger.warn({ keys: restartOnly }, 'these settings take effect only at restart');
    if (tls && 'setSecureContext' in this.app.server) {
      (this.app.server as HttpsServer).setSecureContext(tls);
    }
    const old = this.runtime;
    this.runtime = next;
    this.trustedProxies = proxies;
    this.admission.configure(r.loaded.config.server.overload);
    this.logger.info({ models: [...next.models.keys()] }, 'config reloaded');
    this.telemetry.activeUpstreams(next.upstreams, old.upstreams.keys());
    this.reloaded(true);
    void old.retire().catch((err) => this.logger.error({ err }, 'retiring the old runtime failed'));
    return { ok: true };
  }

  private reloaded(ok: boolean, problems?: string[]): void {
    this.services.events?.onReload?.(ok);
    this.telemetry.auditEvent({ type: 'config', time: new Date().toISOString(), result: ok ? 'reloaded' : 'refused', file: this.opts.configFile, problems });
  }

  private watchConfig(): void {
    const file = this.opts.configFile;
    let timer: NodeJS.Timeout | undefined;
    // Watch the directory: editors and ConfigMap updates replace the file rather than write it.
    this.watcher = watch(dirname(file), (_ev, name) => {
      if (name && name !== basename(file) && !name.startsWith('..')) return;
      clearTimeout(timer);
      timer = setTimeout(() => void this.reload(), 200);
      timer.unref();
    });
    this.watcher.unref();
  }

  /**
   * Drains: stops accepting, lets in-flight requests finish until the deadline, then
   * closes everything. Resolves when done.
   */
  async stop(deadlineMs = this.runtime.config.server.drainTimeout): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.watcher?.close();
    const deadline = setTimeout(() => {
      this.logger.warn('drain deadline reached: closing remaining connections');
      (this.app.server as Server).closeAllConnections();
    }, deadlineMs);
    deadline.unref();
    try {
      await this.app.close();
    } finally {
      clearTimeout(deadline);
      await this.admin.close();
      await this.reloadChain;
      this.admission.close();
      await this.runtime.destroy();
      await this.services.detectors?.close();
      await this.services.state.close();
      await this.telemetry.close();
    }
  }
}

/** The address a server is bound to, as host:port (`0.0.0.0:8080`, `[::]:8080`). */
function boundAddress(server: { address(): unknown }): string {
  const a = server.address() as { address: string; port: number } | null;
  if (!a) return '';
  return `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
}

function addressUrl(server: { address(): unknown }, scheme: string): string {
  const a = server.address() as { address: string; port: number } | null;
  if (!a) return '';
  const host = a.address === '0.0.0.0' || a.address === '::' ? '127.0.0.1' : a.address.includes(':') ? `[${a.address}]` : a.address;
  return `${scheme}://${host}:${a.port}`;
}

function restartOnlyChanges(a: LoadedConfig, b: LoadedConfig): string[] {
  const sa = a.config.server;
  const sb = b.config.server;
  const keys: string[] = [];
  for (const k of ['listen', 'admin', 'maxHeaderSize', 'maxHeaderCount', 'headersTimeout', 'requestTimeout', 'keepAliveTimeout', 'maxConnections', 'maxConnectionsPerClient'] as const) {
    if (JSON.stringify(sa[k]) !== JSON.stringify(sb[k])) keys.push(`server.${k}`);
  }
  if (JSON.stringify(a.config.state) !== JSON.stringify(b.config.state)) keys.push('state');
  if (Boolean(sa.tls) !== Boolean(sb.tls)) keys.push('server.tls (on/off)');
  if (JSON.stringify(a.config.telemetry) !== JSON.stringify(b.config.telemetry)) keys.push('telemetry');
  return keys;
}
