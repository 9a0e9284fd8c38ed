/**
 * Copies config/sidecar.yaml and config/edge.yaml into the ConfigMaps of
 * deploy/kubernetes/*.yaml (test/deploy/manifests.test.ts fails while they differ).
 * Usage: npm run deploy:sync
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PAIRS = [
  ['config/sidecar.yaml', 'deploy/kubernetes/sidecar.yaml'],
  ['config/edge.yaml', 'deploy/kubernetes/edge.yaml'],
] as const;
const START = '  palisade.yaml: |\n';

for (const [config, manifest] of PAIRS) {
  const text = readFileSync(join(ROOT, config), 'utf8');
  const m = readFileSync(join(ROOT, manifest), 'utf8');
  const a = m.indexOf(START);
  const b = m.indexOf('\n---\n', a);
  if (a < 0 || b < 0) throw new Error(`${manifest}: no ConfigMap with palisade.yaml`);
  const block = text
    .split('\n')
    .slice(0, -1)
    .map((l) => (l ? `    ${l}` : ''))
    .join('\n');
  writeFileSync(join(ROOT, manifest), `${m.slice(0, a + START.length)}${block}${m.slice(b)}`);
  process.stdout.write(`${manifest}: ConfigMap set from ${config}\n`);
}
