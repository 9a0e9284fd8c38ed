/**
 * onnxruntime-node's telemetry stays off in a gateway process (src/detect/ort.ts): a
 * gateway that loads detector packages and serves the demo ONNX model writes nothing
 * under its home directory's .cache/Microsoft, where onnxruntime-node 1.30 queues an
 * event per session for Microsoft's collector. The control shows that a plain
 * onnxruntime-node session, outside palisade, does write there in the same setting, so
 * that the first check means something.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawnGateway } from '../helpers/gateway-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};

/**
 * onnxruntime-node 1.30 records nothing when it sees a CI service's variable (CI, and
 * these, read from the strings of libonnxruntime.so), and writes under XDG_CACHE_HOME
 * when that is set. Without them a process here behaves as on a user's machine.
 */
const CI_VARIABLES = [
  'CI',
  'TF_BUILD',
  'GITHUB_ACTIONS',
  'GITLAB_CI',
  'CIRCLECI',
  'TRAVIS',
  'JENKINS_URL',
  'CODEBUILD_BUILD_ID',
  'BUILDKITE',
  'TEAMCITY_VERSION',
  'APPVEYOR',
  'BITBUCKET_BUILD_NUMBER',
];

/**
 * This process's environment as on a user's machine, with another HOME: without
 * ORT_DISABLE_TELEMETRY (the test runner sets it) and the CI variables, and with the
 * cache directory under that HOME.
 */
function envWithHome(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CACHE_HOME: join(home, '.cache') };
  delete env.ORT_DISABLE_TELEMETRY;
  for (const name of CI_VARIABLES) delete env[name];
  return env;
}
const telemetryDir = (home: string) => join(home, '.cache', 'Microsoft');
const filesUnder = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : []);

test('control: a plain onnxruntime-node session records telemetry under HOME', () => {
  const home = tempDir('palisade-ort-control-');
  const model = join(ROOT, 'models/prompt-injection/model.onnx');
  const r = spawnSync(
    process.execPath,
    ['-e', `require('onnxruntime-node').InferenceSession.create(${JSON.stringify(model)}).then((s) => s.release()).then(() => console.log('ok'))`],
    { cwd: ROOT, env: envWithHome(home), encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.ok(filesUnder(telemetryDir(home)).length > 0, 'onnxruntime-node wrote no telemetry: if a new version stopped, src/detect/ort.ts may go');
});

test('a gateway with detectors and the demo ONNX model writes no telemetry', async () => {
  const home = tempDir('palisade-ort-home-');
  const dir = tempDir('palisade-ort-config-');
  const config = join(dir, 'palisade.yaml');
  writeFileSync(
    config,
    `server:
  listen: 127.0.0.1:0
  admin: { listen: 127.0.0.1:0 }
demo:
  kserve: { listen: 127.0.0.1:0 }
detectors:
  trustedKeys: [${join(ROOT, 'models/keys/palisade-models.pub.jwk')}]
  packages:
    prompt-injection: { path: ${join(ROOT, 'models/prompt-injection')}, action: block, mode: enforce }
    mnist-adversarial: { path: ${join(ROOT, 'models/mnist-adversarial')}, action: block, mode: enforce }
upstreams:
  llm: { protocol: openai, url: http://127.0.0.1:9 }
  kserve: { protocol: kserve-v2, url: http://127.0.0.1:9 }
models:
  - { name: demo-llm, upstream: llm, detectors: [prompt-injection] }
  - { name: mnist, upstream: kserve, detectors: [mnist-adversarial] }
`,
  );
  const gw = await spawnGateway(config, 30_000, envWithHome(home));
  try {
    const loaded = gw.logs.filter((l) => l.msg === 'detector loaded').map((l) => l.detector);
    assert.deepEqual(loaded.sort(), ['mnist-adversarial', 'prompt-injection']);
  } finally {
    await gw.stop();
  }
  assert.deepEqual(filesUnder(telemetryDir(home)), []);
});
