/**
 * The metrics table of docs/telemetry.md and the Grafana dashboard stay in step with the
 * metrics the code registers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { GatewayMetrics } from '../../src/telemetry/metrics.js';

const root = new URL('../../', import.meta.url);

async function registered(process: boolean): Promise<Map<string, string[]>> {
  const m = new GatewayMetrics({ process, auditQueueDepth: () => 0 });
  const out = new Map<string, string[]>();
  for (const x of await m.registry.getMetricsAsJSON()) {
    const labels = (m.registry.getSingleMetric(x.name) as unknown as { labelNames: string[] }).labelNames;
    out.set(x.name, [...labels]);
  }
  return out;
}

test('docs/telemetry.md lists every metric with its labels, and nothing else', async () => {
  const doc = readFileSync(new URL('docs/telemetry.md', root), 'utf8');
  const rows = new Map<string, string[]>();
  for (const m of doc.matchAll(/^\| `([a-z_]+)` \| (?:counter|gauge|histogram) \|([^|]*)\|/gm)) {
    rows.set(m[1], m[2].trim() ? m[2].split(',').map((s) => s.trim()) : []);
  }
  const ours = await registered(false);
  assert.deepEqual([...rows.keys()].sort(), [...ours.keys()].sort());
  for (const [name, labels] of ours) assert.deepEqual(rows.get(name), labels, name);
});

test('the Grafana dashboard is valid JSON and plots only metrics that exist', async () => {
  const dash = JSON.parse(readFileSync(new URL('deploy/grafana/palisade.json', root), 'utf8')) as {
    panels: { id: number; type: string; gridPos: { x: number; w: number }; targets?: { expr: string }[] }[];
  };
  const all = await registered(true);
  const ids = new Set<number>();
  const plotted = new Set<string>();
  for (const p of dash.panels) {
    assert.ok(!ids.has(p.id), `duplicate panel id ${p.id}`);
    ids.add(p.id);
    assert.ok(p.gridPos.x + p.gridPos.w <= 24, `panel ${p.id} fits the grid`);
    for (const t of p.targets ?? []) {
      // Label selectors and grouping clauses name labels, not metrics.
      const expr = t.expr.replace(/\{[^}]*\}/g, '').replace(/\b(by|without) \([^)]*\)/g, '');
      for (const m of expr.matchAll(/\b((?:palisade|gen_ai|process|nodejs)_[a-z0-9_]+)/g)) {
        const name = m[1].replace(/_(bucket|count|sum)$/, '');
        assert.ok(all.has(name), `panel ${p.id} plots ${m[1]}, which is not a metric`);
        plotted.add(name);
      }
    }
  }
  // Every gateway metric that says something on its own is on the dashboard.
  for (const name of (await registered(false)).keys()) {
    if (name === 'palisade_config_last_reload_success_timestamp_seconds') continue;
    assert.ok(plotted.has(name), `${name} is not plotted`);
  }
});
