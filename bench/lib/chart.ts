/**
 * The chart next to the report: two panels of horizontal bars (throughput, and CPU
 * per request of the measured process), as a plain SVG written here, so the bench
 * needs no plotting dependency and the file diffs as text.
 */

export interface Bar {
  label: string;
  value: number;
  /** Bars of the same group share a colour. */
  group: string;
}

const COLORS: Record<string, string> = {
  proxy: '#4e79a7',
  'fixed-rate': '#9c755f',
  sse: '#59a14f',
  tensor: '#f28e2b',
  'long-prompt': '#b07aa1',
  limits: '#76b7b2',
  'full-chain': '#e15759',
};

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function fmt(v: number): string {
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
}

function panel(title: string, unit: string, bars: Bar[], x: number, width: number, rowH: number, top: number): string {
  const labelW = 200;
  const valueW = 70;
  const barW = width - labelW - valueW;
  const max = Math.max(1, ...bars.map((b) => b.value));
  let out = `<text x="${x}" y="${top - 12}" font-weight="bold">${esc(title)} (${esc(unit)})</text>\n`;
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const w = Math.max(1, (b.value / max) * barW);
    out += `<text x="${x + labelW - 6}" y="${y + rowH * 0.65}" text-anchor="end">${esc(b.label)}</text>`;
    out += `<rect x="${x + labelW}" y="${y + 2}" width="${w.toFixed(1)}" height="${rowH - 4}" fill="${COLORS[b.group] ?? '#888'}"/>`;
    out += `<text x="${x + labelW + w + 4}" y="${y + rowH * 0.65}">${fmt(b.value)}</text>\n`;
  });
  return out;
}

/** An SVG with throughput on the left and CPU per request on the right. */
export function barChart(title: string, left: { title: string; unit: string; bars: Bar[] }, right: { title: string; unit: string; bars: Bar[] }, footer: string): string {
  const rowH = 20;
  const panelW = 520;
  const top = 64;
  const rows = Math.max(left.bars.length, right.bars.length);
  const height = top + rows * rowH + 60;
  const width = panelW * 2 + 40;
  const groups = [...new Set([...left.bars, ...right.bars].map((b) => b.group))];
  let legend = '';
  groups.forEach((g, i) => {
    const x = 20 + i * 120;
    legend += `<rect x="${x}" y="${height - 30}" width="12" height="12" fill="${COLORS[g] ?? '#888'}"/><text x="${x + 16}" y="${height - 20}">${esc(g)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="20" y="24" font-size="15" font-weight="bold">${esc(title)}</text>
${panel(left.title, left.unit, left.bars, 20, panelW, rowH, top)}
${panel(right.title, right.unit, right.bars, 20 + panelW + 20, panelW, rowH, top)}
${legend}
<text x="${width - 20}" y="${height - 20}" text-anchor="end" fill="#555">${esc(footer)}</text>
</svg>
`;
}
