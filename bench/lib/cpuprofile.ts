/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and sums self and total time per function,
 * so a profile can be read in a terminal and recorded in bench/results/ as text.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionCost {
  name: string;
  where: string;
  selfPct: number;
  totalPct: number;
}

/** Self and total time of each function, as a share of the non-idle samples. */
export function summarizeProfile(file: string, root = process.cwd()): { functions: FunctionCost[]; byFile: { where: string; selfPct: number }[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfTicks = new Map<number, number>();
  for (const s of p.samples) selfTicks.set(s, (selfTicks.get(s) ?? 0) + 1);
  const key = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'}\u0000${shortUrl(n.callFrame.url, root)}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const fileSelf = new Map<string, number>();
  let busy = 0;
  for (const [id, ticks] of selfTicks) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)' || n.callFrame.functionName === '(program)') continue;
    busy += ticks;
    self.set(key(n), (self.get(key(n)) ?? 0) + ticks);
    const f = shortUrl(n.callFrame.url, root) || n.callFrame.functionName;
    fileSelf.set(f, (fileSelf.get(f) ?? 0) + ticks);
    // Total: count once per distinct function on the stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur)!);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + ticks);
    }
  }
  const pct = (t: number) => (100 * t) / Math.max(1, busy);
  const functions = [...total.keys()].map((k) => {
    const [name, where] = k.split('\u0000');
    return { name, where, selfPct: pct(self.get(k) ?? 0), totalPct: pct(total.get(k)!) };
  });
  const byFile = [...fileSelf].map(([where, t]) => ({ where, selfPct: pct(t) })).sort((a, b) => b.selfPct - a.selfPct);
  return { functions, byFile };
}

function shortUrl(url: string, root: string): string {
  let u = url.replace(/^file:\/\//, '');
  if (u.startsWith(root)) u = u.slice(root.length + 1);
  const nm = u.lastIndexOf('node_modules/');
  return nm >= 0 ? u.slice(nm + 13) : u;
}
