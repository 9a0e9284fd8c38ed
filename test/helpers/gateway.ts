/**
 * Starts a real gateway (both listeners on ephemeral ports) on a config written to a
 * temporary directory, for end-to-end tests.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway } from '../../src/server/gateway.js';
import { silentLogger, type Logger } from '../../src/services.js';

export interface TestGateway {
  gw: Gateway;
  url: string;
  adminUrl: string;
  /** The config file (rewrite it and call gw.reload() to test reloads). */
  file: string;
  dir: string;
  stop(): Promise<void>;
}

export async function startGateway(yaml: string, opts: { watch?: boolean; logger?: Logger; files?: Record<string, string | Buffer> } = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-test-'));
  for (const [name, content] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, name), content);
  const file = join(dir, 'palisade.yaml');
  writeFileSync(file, yaml);
  const gw = await Gateway.start({
    configFile: file,
    logger: opts.logger ?? silentLogger,
    watch: opts.watch ?? false,
    listen: { host: '127.0.0.1', port: 0 },
    adminListen: { host: '127.0.0.1', port: 0 },
  });
  return {
    gw,
    url: gw.url,
    adminUrl: gw.adminUrl,
    file,
    dir,
    async stop() {
      await gw.stop(2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** POSTs JSON and returns status, headers and the parsed (or raw) body. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}
