/**
 * The in-process StateStore: Maps with expiry, bounded in size (least recently written
 * keys go first), so a flood of distinct keys cannot grow memory without limit.
 */
import { decayed, type StateStore } from './store.js';

interface Entry {
  v: string | number | string[];
  exp: number;
  /** For decaying scores: when v was computed. */
  at?: number;
}

export class MemoryStore implements StateStore {
  readonly kind = 'memory' as const;
  private readonly map = new Map<string, Entry>();

  constructor(
    private readonly maxKeys = 1_000_000,
    private readonly now: () => number = Date.now,
  ) {}

  private live(key: string): Entry | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.exp <= this.now()) {
      this.map.delete(key);
      return undefined;
    }
    return e;
  }

  private put(key: string, e: Entry): void {
    // Re-insert so that Map order is write order; evict the oldest past the bound.
    this.map.delete(key);
    this.map.set(key, e);
    if (this.map.size > this.maxKeys) {
      // Down to 90% in one walk: a V8 Map walk from the head skips the holes earlier
      // head deletions left (until its next rehash), so one eviction per write would
      // cost O(holes) per write under a flood of new keys.
      const target = Math.floor(this.maxKeys * 0.9);
      for (const k of this.map.keys()) {
        if (this.map.size <= target) break;
        this.map.delete(k);
      }
    }
  }

  async get(key: string): Promise<string | undefined> {
    return this.peek(key);
  }

  peek(key: string): string | undefined {
    const e = this.live(key);
    return e === undefined ? undefined : String(e.v);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.put(key, { v: value, exp: this.now() + ttlMs });
  }

  async del(key: string): Promise<void> {
    this.map.delete(key);
  }

  async incr(key: string, by: number, ttlMs: number): Promise<number> {
    const e = this.live(key);
    const v = (e ? Number(e.v) : 0) + by;
    if (e) e.v = v;
    else this.put(key, { v, exp: this.now() + ttlMs });
    return v;
  }

  async addDecaying(key: string, delta: number, halfLifeMs: number, now: number, max = 1): Promise<number> {
    const e = this.live(key);
    const cur = e ? decayed(Number(e.v), e.at ?? now, now, halfLifeMs) : 0;
    const v = Math.min(max, Math.max(0, cur + delta));
    if (delta !== 0 || e) {
      // Kept until it has decayed below 1e-3 of its value: ten half-lives.
      this.put(key, { v, at: now, exp: now + halfLifeMs * 10 });
    }
    return v;
  }

  async pushBounded(key: string, item: string, maxLen: number, ttlMs: number): Promise<void> {
    const e = this.live(key);
    const list = e && Array.isArray(e.v) ? e.v : [];
    list.push(item);
    if (list.length > maxLen) list.splice(0, list.length - maxLen);
    this.put(key, { v: list, exp: this.now() + ttlMs });
  }

  async list(key: string): Promise<string[]> {
    const e = this.live(key);
    return e && Array.isArray(e.v) ? [...e.v] : [];
  }

  /** Number of keys held (for tests of the memory bound). */
  get size(): number {
    return this.map.size;
  }

  async close(): Promise<void> {
    this.map.clear();
  }
}
