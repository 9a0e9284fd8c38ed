/**
 * Long-lived services shared by every runtime across reloads (a reload rebuilds routes,
 * pools and stages, not these): the logger, the telemetry observer, the state store.
 */
import type { StageObserver } from './pipeline/stage.js';
import type { UpstreamEvents } from './proxy/upstream.js';
import type { DetectorSessions } from './detect/sessions.js';
import type { LimiterRegistry } from './limits/limiters.js';
import type { StateStore } from './state/store.js';

export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
}

export interface Services {
  logger: Logger;
  /** Sees every stage call (telemetry). */
  observer: StageObserver;
  /** Per-principal state: limits, risk, stream detectors, revocations. */
  state: StateStore;
  /** Events of long-lived parts (circuit breakers, reloads, the state store) that telemetry counts. */
  events?: GatewayEvents;
  /**
   * Limit counters (rate-limiter-flexible) on the same backend as `state`, kept across
   * reloads. Optional: the limit stage builds its own (not kept across reloads) without it.
   */
  limiters?: LimiterRegistry;
  /**
   * ONNX sessions of detector packages, reused across reloads while a package is
   * unchanged. Optional so that code building Services for a test need not make one
   * (the inspect stage then owns its sessions).
   */
  detectors?: DetectorSessions;
}

/** Events that are not about one request. Every hook is optional; none may throw. */
export interface GatewayEvents extends UpstreamEvents {
  /** A config reload finished: `ok` when the new config serves, else the old one still does. */
  onReload?(ok: boolean): void;
  /** The state store serves from local memory because the shared store is unreachable (`true`), or is back (`false`). */
  onStateFallback?(active: boolean): void;
  /** The token endpoint answered: a token issued, or the exchange refused (for the audit log). */
  onTokenExchange?(e: TokenExchangeEvent): void;
}

/** One answer of the token endpoint (POST /palisade/token). Never holds a token. */
export interface TokenExchangeEvent {
  id: string;
  /** Date.now() at arrival. */
  receivedAt: number;
  clientAddress: string;
  /** The subject's principal, when it authenticated. */
  principal?: string;
  tenant?: string;
  /** The model the token is (or would have been) for. */
  model?: string;
  scope?: string;
  /** jti and lifetime (s) of the token issued. */
  jti?: string;
  expiresIn?: number;
  status: number;
  code?: string;
  /** Why it was refused (the exchange's reason, as in the 401 reasons of docs/auth.md). */
  reason?: string;
  durationMs: number;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };
