/** What the numbers were measured on, written into every result. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { nginxVersion } from './targets.js';

export interface Machine {
  cpuModel: string;
  cores: number;
  memGb: number;
  os: string;
  kernel: string;
  node: string;
  v8: string;
  autocannon: string;
  nginx: string | null;
  loadAverage1m: number;
  commit: string;
}

export function machineInfo(root: string): Machine {
  const cpus = os.cpus();
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bench'], { cwd: root, encoding: 'utf8' }).trim();
    if (dirty) commit += '+dirty';
  } catch {
    // not a git checkout
  }
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.arch()}`,
    kernel: os.release(),
    node: process.version,
    v8: process.versions.v8,
    autocannon: (JSON.parse(readFileSync(join(root, 'node_modules/autocannon/package.json'), 'utf8')) as { version: string }).version,
    nginx: nginxVersion() ?? null,
    loadAverage1m: Math.round(os.loadavg()[0] * 100) / 100,
    commit,
  };
}
