/**
 * Builds the state store a config asks for (once per process: state outlives reloads).
 */
import type { Logger } from '../services.js';
import type { StateConfig } from './config.js';
import { FailoverStore, type StateHealth } from './failover.js';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
import type { StateStore } from './store.js';

/**
 * `memory` → a bounded MemoryStore; `redis` → Redis with a local fallback. For Redis it
 * waits up to `connectTimeout` for the first connection, so that a gateway that starts
 * next to a healthy Redis shares limits from its first request.
 */
export async function createStateStore(config: StateConfig, logger: Logger): Promise<StateStore> {
  if (config.kind === 'memory') return new MemoryStore(config.maxKeys);
  const store = new FailoverStore(
    new RedisStore({
      url: config.url,
      keyPrefix: config.keyPrefix,
      connectTimeoutMs: config.connectTimeout,
      commandTimeoutMs: config.commandTimeout,
    }),
    new MemoryStore(config.maxKeys),
    config.onStoreFailure,
    logger,
  );
  await store.waitReady(config.connectTimeout);
  return store;
}

/** Health of any store: a FailoverStore reports its backend; memory is always up. */
export function stateHealth(store: StateStore): StateHealth {
  if (store instanceof FailoverStore) return store.health();
  return { kind: store.kind, backend: 'local', up: 1, since: 0, failovers: 0, onStoreFailure: 'local' };
}
