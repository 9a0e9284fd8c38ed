/**
 * The `state:` section: where per-principal state (limit counters, risk scores, stream
 * summaries, revocations) lives, and what happens when a shared store is unreachable.
 * State is a long-lived service: changes here take effect at restart, not on reload.
 */
import { z } from 'zod';
import { duration } from '../config/fields.js';

export const STORE_FAILURE_POLICIES = ['local', 'deny', 'allow'] as const;
export type StoreFailurePolicy = (typeof STORE_FAILURE_POLICIES)[number];

export const stateConfigSchema = z
  .strictObject({
    kind: z
      .enum(['memory', 'redis'])
      .default('memory')
      .describe('`memory`: one process keeps its own state. `redis`: replicas share state (and limits) through Redis.'),
    url: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .default('redis://127.0.0.1:6379')
      .describe('Redis URL (redis:// or rediss:// for TLS); a password goes in the URL, e.g. `redis://:${REDIS_PASSWORD}@host:6379/0`.'),
    keyPrefix: z
      .string()
      .max(64)
      .default('palisade:')
      .describe('Prefix of every Redis key the gateway writes, so that several gateways (or tests) can share one Redis.'),
    connectTimeout: duration().prefault('2s').describe('Redis connect timeout; at start the gateway waits this long for Redis before serving on local state.'),
    commandTimeout: duration()
      .prefault('250ms')
      .describe('A Redis command without an answer after this long counts as Redis being down (a hung Redis must not hang requests).'),
    onStoreFailure: z
      .enum(STORE_FAILURE_POLICIES)
      .default('local')
      .describe(
        'While Redis is unreachable: `local` keeps limiting on local memory (each replica enforces its share of every limit, see `replicas`); `deny` refuses limited requests with PALISADE_STATE_UNAVAILABLE; `allow` lets them through unlimited.',
      ),
    replicas: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(1)
      .describe('How many gateway replicas share this Redis. While Redis is down, each replica enforces ceil(limit / replicas) locally.'),
    maxKeys: z
      .number()
      .int()
      .min(1000)
      .default(1_000_000)
      .describe('Most keys the local memory store holds (the memory store, and the fallback while Redis is down); the least recently written go first.'),
  })
  .prefault({})
  .describe('Per-principal state: limit counters, risk scores, detector summaries.');

export type StateConfig = z.output<typeof stateConfigSchema>;
