/**
 * One upstream: an undici Pool with keep-alive and bounded timeouts, and a circuit
 * breaker. The exchange (src/server/exchange.ts) dispatches on the pool, feeds the
 * breaker and makes the only safe retry (a connection that failed before any byte was
 * sent); `upstreamError` maps a transport failure to the code the client sees.
 */
import { readFileSync } from 'node:fs';
import { Pool, errors as undiciErrors } from 'undici';
import type { UpstreamConfig } from '../config/schema.js';
import { GatewayError } from '../pipeline/errors.js';
import { CircuitBreaker, type CircuitState } from './circuit-breaker.js';

export interface UpstreamEvents {
  onBreakerChange?(upstream: string, state: CircuitState): void;
}

/** Failures before any byte of the request was sent: the only ones retried. */
export const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export class Upstream {
  readonly pool: Pool;
  readonly breaker: CircuitBreaker;
  readonly origin: string;
  /** Path prefix of the upstream URL (no trailing slash). */
  readonly basePath: string;

  constructor(
    readonly name: string,
    readonly config: UpstreamConfig,
    resolvePath: (p: string) => string,
    events: UpstreamEvents = {},
  ) {
    const url = new URL(config.url);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    const tls = config.tls;
    this.pool = new Pool(this.origin, {
      connections: config.pool.connections,
      keepAliveTimeout: config.pool.keepAlive,
      keepAliveMaxTimeout: config.pool.keepAlive,
      headersTimeout: config.timeouts.headers,
      bodyTimeout: config.timeouts.body,
      maxResponseSize: config.maxResponseSize,
      connect: {
        timeout: config.timeouts.connect,
        ...(url.protocol === 'https:'
          ? {
              rejectUnauthorized: tls?.rejectUnauthorized ?? true,
              ca: tls?.ca ? readFileSync(resolvePath(tls.ca)) : undefined,
              cert: tls?.cert ? readFileSync(resolvePath(tls.cert)) : undefined,
              key: tls?.key ? readFileSync(resolvePath(tls.key)) : undefined,
              servername: tls?.servername,
            }
          : {}),
      },
    });
    this.breaker = new CircuitBreaker({
      failureThreshold: config.circuitBreaker.failureThreshold,
      cooldownMs: config.circuitBreaker.cooldown,
      onStateChange: (s) => events.onBreakerChange?.(name, s),
    });
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  async destroy(): Promise<void> {
    await this.pool.destroy();
  }
}

/** Maps a transport failure to the error the client sees. */
export function upstreamError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
    return new GatewayError('PALISADE_UPSTREAM_TIMEOUT');
  }
  if (err instanceof undiciErrors.ResponseExceededMaxSizeError) return new GatewayError('PALISADE_UPSTREAM_RESPONSE_TOO_LARGE');
  return new GatewayError('PALISADE_UPSTREAM_UNAVAILABLE');
}
