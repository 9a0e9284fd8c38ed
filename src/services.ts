/**
 * Long-lived services shared by every runtime across reloads (a reload rebuilds routes,
 * pools and stages, not these): the logger, and the telemetry observer.
 */
import type { StageObserver } from './pipeline/stage.js';

export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
}

export interface Services {
  logger: Logger;
  observer: StageObserver;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };
