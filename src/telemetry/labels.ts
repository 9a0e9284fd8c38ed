/**
 * Label hygiene for metrics: children of a labelled metric cached in nested maps (so
 * the hot path does a few map lookups and builds no label strings), and a cap on the
 * distinct values a label may take (so a misbehaving stage or a config with thousands of
 * models cannot explode the series count).
 */

/** Distinct values kept per label before new ones are folded into `other`. */
export const MAX_LABEL_VALUES = 200;

/** Caps the distinct values of one label. */
export class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly max = MAX_LABEL_VALUES) {}

  /** The value itself while fewer than `max` distinct values were seen, else `other`. */
  value(v: string): string {
    if (this.seen.has(v)) return v;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(v);
    return v;
  }
}

type Key = string | number;

/** Children by two labels. `make` runs once per distinct pair. */
export class Cache2<T> {
  private readonly root = new Map<Key, Map<Key, T>>();
  constructor(private readonly make: (a: Key, b: Key) => T) {}

  get(a: Key, b: Key): T {
    let m = this.root.get(a);
    if (!m) this.root.set(a, (m = new Map()));
    let c = m.get(b);
    if (c === undefined) m.set(b, (c = this.make(a, b)));
    return c;
  }
}

/** Children by four labels. */
export class Cache4<T> {
  private readonly root = new Map<Key, Map<Key, Map<Key, Map<Key, T>>>>();
  constructor(private readonly make: (a: Key, b: Key, c: Key, d: Key) => T) {}

  get(a: Key, b: Key, c: Key, d: Key): T {
    let m1 = this.root.get(a);
    if (!m1) this.root.set(a, (m1 = new Map()));
    let m2 = m1.get(b);
    if (!m2) m1.set(b, (m2 = new Map()));
    let m3 = m2.get(c);
    if (!m3) m2.set(c, (m3 = new Map()));
    let t = m3.get(d);
    if (t === undefined) m3.set(d, (t = this.make(a, b, c, d)));
    return t;
  }
}
