/**
 * Counters and histograms for the per-request path. prom-client's labelled children
 * rebuild and validate a label hash on every `inc`/`observe`; these children are plain
 * objects (a number, or a Float64Array of bucket counts) created once per label set, so
 * recording is a few arithmetic operations. They implement prom-client's metric
 * interface (`name`, `help`, `type`, `get()`), so they live in the same Registry and are
 * exposed with everything else.
 */
import type { Registry } from 'prom-client';

interface MetricValue {
  labels: Record<string, string>;
  value: number;
  metricName?: string;
}

interface Options {
  name: string;
  help: string;
  labelNames: string[];
  registers: Registry[];
}

abstract class FastMetric<C> {
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  readonly labelNames: string[];
  protected readonly children = new Map<string, { labels: Record<string, string>; child: C }>();

  constructor(o: Options) {
    this.name = o.name;
    this.help = o.help;
    this.labelNames = o.labelNames;
    for (const r of o.registers) r.registerMetric(this as never);
  }

  /** The child of these label values (in `labelNames` order). Cache it: this builds a key. */
  labels(...values: string[]): C {
    const key = values.join('\u0000');
    let e = this.children.get(key);
    if (!e) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i] ?? ''));
      e = { labels, child: this.make() };
      this.children.set(key, e);
    }
    return e.child;
  }

  remove(...values: string[]): void {
    this.children.delete(values.join('\u0000'));
  }

  reset(): void {
    this.children.clear();
  }

  protected abstract make(): C;
}

/** A counter child. */
export class CounterChild {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

export class FastCounter extends FastMetric<CounterChild> {
  readonly type = 'counter';

  protected make(): CounterChild {
    return new CounterChild();
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    for (const { labels, child } of this.children.values()) values.push({ labels, value: child.value });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** A histogram child: counts per bucket (not cumulative; summed at exposition). */
export class HistogramChild {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }
}

export class FastHistogram extends FastMetric<HistogramChild> {
  readonly type = 'histogram';
  private readonly bounds: readonly number[];

  constructor(o: Options & { buckets: number[] }) {
    super(o);
    this.bounds = [...o.buckets].sort((a, b) => a - b);
  }

  protected make(): HistogramChild {
    return new HistogramChild(this.bounds);
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, child } of this.children.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += child.counts[i];
        values.push({ labels: { ...labels, le: String(this.bounds[i]) }, value: acc, metricName: bucket });
      }
      values.push({ labels: { ...labels, le: '+Inf' }, value: child.count, metricName: bucket });
      values.push({ labels, value: child.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: child.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
