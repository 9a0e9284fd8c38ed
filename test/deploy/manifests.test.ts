/**
 * Deployment artifacts stay in step with the code: every config in the repository
 * validates against the schema (or says which stage it waits for), every manifest in
 * deploy/ parses, the Kubernetes examples hold their invariants (the model port only
 * through palisade, selectors that select, ports and paths that match the config), and
 * the Dockerfile copies files that exist.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { formatProblem, loadConfigFile, loadConfigText } from '../../src/config/load.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENV = { ...process.env, REDIS_PASSWORD: 'test-only', PALISADE_NOISE_KEY: 'test-only-0123456789abcdef0123456789', BENCH_LLM_URL: 'http://127.0.0.1:1', BENCH_KSERVE_URL: 'http://127.0.0.1:2' };

/**
 * Bench configs that use stages not merged yet: the key they wait for. Once such a config
 * validates, this test fails so that the entry is removed (and the bench stops skipping it).
 */
const WAITING: Record<string, { key: string; stage: string }> = {};

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out.sort();
}

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: any; data?: Record<string, string> };

function manifests(file: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(join(ROOT, file), 'utf8'));
  for (const d of docs) assert.deepEqual(d.errors, [], `${file}: ${d.errors.map((e) => e.message).join('; ')}`);
  return docs.map((d) => d.toJS() as Doc).filter((d) => d !== null);
}

const one = (docs: Doc[], kind: string, name?: string): Doc => {
  const found = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  assert.equal(found.length, 1, `expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0];
};

const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

test('every palisade config in config/ validates against the schema', () => {
  const files = readdirSync(join(ROOT, 'config')).filter((f) => /\.ya?ml$/.test(f));
  assert.ok(files.includes('sidecar.yaml') && files.includes('edge.yaml') && files.includes('default.yaml'), files.join(', '));
  for (const f of files) {
    const r = loadConfigFile(join(ROOT, 'config', f), ENV);
    assert.ok(r.ok, `config/${f}:\n${r.ok ? '' : r.problems.map(formatProblem).join('\n')}`);
  }
});

test('every bench config validates, or names the stage it waits for', () => {
  for (const file of yamlFiles(join(ROOT, 'bench/configs')).map((f) => relative(ROOT, f))) {
    const r = loadConfigFile(join(ROOT, file), ENV);
    const waiting = WAITING[file];
    if (!waiting) {
      assert.ok(r.ok, `${file}:\n${r.ok ? '' : r.problems.map(formatProblem).join('\n')}`);
      continue;
    }
    assert.ok(!r.ok, `${file} validates now: ${waiting.stage} has landed; remove it from WAITING`);
    // It fails only where it uses the stage it waits for.
    for (const p of r.problems) assert.ok(p.path.includes(waiting.key) || p.path.includes('defense') || p.path.includes('tensor'), `${file}: ${formatProblem(p)}`);
  }
});

test('every YAML file in deploy/ parses, and every Kubernetes object names its kind', () => {
  const files = yamlFiles(join(ROOT, 'deploy')).map((f) => relative(ROOT, f));
  assert.ok(files.includes('deploy/kubernetes/sidecar.yaml') && files.includes('deploy/kubernetes/edge.yaml'));
  for (const f of files) {
    for (const d of manifests(f)) {
      assert.equal(typeof d.apiVersion, 'string', `${f}: a document without apiVersion`);
      assert.equal(typeof d.kind, 'string', `${f}: a document without kind`);
      assert.equal(typeof d.metadata?.name, 'string', `${f}: a ${d.kind} without a name`);
    }
  }
});

/** The palisade container of a pod template, with the config its ConfigMap holds. */
function palisadeOf(docs: Doc[], deployment: string, configFile: string) {
  const dep = one(docs, 'Deployment', deployment);
  const pod = dep.spec.template;
  assert.ok(selects(dep.spec.selector.matchLabels, pod.metadata.labels), `${deployment}: the selector does not select its own pods`);
  const c = pod.spec.containers.find((x: { name: string }) => x.name === 'palisade');
  assert.ok(c, `${deployment}: no palisade container`);
  // The config: a mounted ConfigMap whose palisade.yaml is the file in config/, at the path the args name.
  assert.deepEqual(c.args, ['start', '-c', '/etc/palisade/palisade.yaml']);
  const mount = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/etc/palisade');
  assert.ok(mount && !mount.subPath, 'the config directory is mounted whole (a subPath mount never sees ConfigMap updates)');
  const vol = pod.spec.volumes.find((v: { name: string }) => v.name === mount.name);
  const cm = one(docs, 'ConfigMap', vol.configMap.name);
  const text = cm.data!['palisade.yaml'];
  assert.equal(text, readFileSync(join(ROOT, configFile), 'utf8'), `the ConfigMap ${cm.metadata.name} differs from ${configFile}`);
  // Every ${VAR} the config reads comes from the container's environment.
  const vars = [...text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]);
  const env = new Set((c.env ?? []).map((e: { name: string }) => e.name));
  for (const v of vars) assert.ok(env.has(v), `${configFile} reads \${${v}}, which the ${deployment} container does not set`);
  const r = loadConfigText(text, join(ROOT, configFile), ENV);
  assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
  const config = r.loaded.config;
  // Ports: the container's named ports are the config's listeners; probes hit the admin port.
  const port = (n: string) => c.ports.find((p: { name: string }) => p.name === n)?.containerPort;
  assert.equal(port('http'), config.server.listen.port);
  assert.equal(port('admin'), config.server.admin.listen.port);
  assert.equal(config.server.listen.host, '0.0.0.0');
  for (const probe of [c.readinessProbe, c.livenessProbe]) assert.equal(probe.httpGet.port, 'admin');
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  // Hardening: non-root, read-only root filesystem, writable paths are volumes.
  const sc = c.securityContext;
  assert.equal(sc.runAsNonRoot, true);
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.equal(sc.allowPrivilegeEscalation, false);
  const audit = config.telemetry?.audit?.dir;
  if (audit) assert.ok(c.volumeMounts.some((m: { mountPath: string; readOnly?: boolean }) => audit.startsWith(m.mountPath) && !m.readOnly), `the audit dir ${audit} is not on a writable volume`);
  assert.ok(Number(pod.spec.terminationGracePeriodSeconds) * 1000 > config.server.drainTimeout, 'the grace period must outlast the drain');
  return { dep, pod, container: c, config };
}

test('sidecar: the model port is reachable only through palisade', () => {
  const docs = manifests('deploy/kubernetes/sidecar.yaml');
  const { pod, config } = palisadeOf(docs, 'chat-model', 'config/sidecar.yaml');
  // The upstream is the model container on loopback.
  const up = new URL(Object.values(config.upstreams)[0].url);
  assert.equal(up.hostname, '127.0.0.1');
  const modelPort = Number(up.port);
  const model = pod.spec.containers.find((x: { name: string }) => x.name === 'model');
  assert.ok(model, 'no model container');
  const args: string[] = model.args;
  assert.equal(args[args.indexOf('--host') + 1], '127.0.0.1', 'the model server must listen on loopback only');
  assert.equal(Number(args[args.indexOf('--port') + 1]), modelPort);
  assert.ok(!(model.ports ?? []).length, 'the model container exposes no port');
  // The Service forwards to palisade's port, never to the model's.
  const svc = one(docs, 'Service');
  assert.ok(selects(svc.spec.selector, pod.metadata.labels));
  for (const p of svc.spec.ports) assert.equal(p.targetPort, 'http');
  // A NetworkPolicy selects the pod and admits only palisade's ports.
  const np = one(docs, 'NetworkPolicy');
  assert.ok(selects(np.spec.podSelector.matchLabels, pod.metadata.labels), 'the NetworkPolicy does not select the model pod');
  assert.ok(np.spec.policyTypes.includes('Ingress'));
  const admitted = np.spec.ingress.flatMap((r: { ports?: { port: number }[] }) => {
    assert.ok(r.ports?.length, 'an ingress rule without ports admits every port');
    return r.ports!.map((p) => p.port);
  });
  assert.deepEqual([...new Set(admitted)].sort(), [config.server.listen.port, config.server.admin.listen.port].sort());
  assert.ok(!admitted.includes(modelPort));
});

test('edge: Deployment, Service, HPA, PDB, ConfigMap and Redis hold together', () => {
  const docs = manifests('deploy/kubernetes/edge.yaml');
  for (const kind of ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'ConfigMap', 'NetworkPolicy']) {
    assert.ok(docs.some((d) => d.kind === kind), `no ${kind}`);
  }
  const { dep, pod, config, container } = palisadeOf(docs, 'palisade', 'config/edge.yaml');
  const ns = dep.metadata.namespace;
  for (const d of docs) assert.equal(d.metadata.namespace, ns, `${d.kind} ${d.metadata.name} is in another namespace`);
  const svc = one(docs, 'Service', 'palisade');
  assert.ok(selects(svc.spec.selector, pod.metadata.labels));
  const hpa = one(docs, 'HorizontalPodAutoscaler');
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'palisade' });
  assert.ok(container.resources.requests.cpu, 'CPU utilization targets need a CPU request');
  const pdb = one(docs, 'PodDisruptionBudget');
  assert.ok(selects(pdb.spec.selector.matchLabels, pod.metadata.labels));
  assert.ok(hpa.spec.minReplicas > pdb.spec.minAvailable, 'the PDB must leave room to drain a node at minReplicas');
  // Shared state: Redis in the same namespace, named by the config's URL, and told how many share it.
  assert.equal(config.state.kind, 'redis');
  const redisUrl = new URL(config.state.url);
  const redisSvc = one(docs, 'Service', 'redis');
  assert.equal(redisUrl.hostname, `${redisSvc.metadata.name}.${ns}.svc.cluster.local`);
  assert.equal(Number(redisUrl.port), redisSvc.spec.ports[0].port);
  const redis = one(docs, 'Deployment', 'redis');
  assert.ok(selects(redisSvc.spec.selector, redis.spec.template.metadata.labels));
  assert.equal(config.state.replicas, dep.spec.replicas);
  assert.equal(hpa.spec.minReplicas, dep.spec.replicas);
  // Only the gateway reaches Redis.
  const redisNp = docs.find((d) => d.kind === 'NetworkPolicy' && selects(d.spec.podSelector.matchLabels, redis.spec.template.metadata.labels));
  assert.ok(redisNp, 'no NetworkPolicy for Redis');
  for (const r of redisNp!.spec.ingress) for (const f of r.from) assert.ok(selects(f.podSelector.matchLabels, pod.metadata.labels));
});

test('both examples run the same image; the Dockerfile copies what exists and runs as documented', () => {
  const image = (file: string) =>
    manifests(file)
      .filter((d) => d.kind === 'Deployment')
      .flatMap((d) => d.spec.template.spec.containers)
      .find((c: { name: string }) => c.name === 'palisade').image;
  assert.equal(image('deploy/kubernetes/sidecar.yaml'), image('deploy/kubernetes/edge.yaml'));
  const df = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const lines = df.split('\n').filter((l) => !l.startsWith('#'));
  const from = lines.filter((l) => l.startsWith('FROM '));
  assert.ok(from.length >= 2, 'multi-stage');
  for (const l of lines.filter((x) => x.startsWith('COPY ') && !x.includes('--from='))) {
    const parts = l.split(/\s+/).slice(1, -1);
    for (const p of parts) assert.ok(existsSync(join(ROOT, p)), `the Dockerfile copies ${p}, which does not exist`);
  }
  const runtime = df.slice(df.lastIndexOf('\nFROM '));
  assert.match(runtime, /npm ci --omit=dev/);
  assert.match(runtime, /ONNXRUNTIME_NODE_INSTALL=skip/);
  assert.match(runtime, /\nUSER 1000:1000\n/);
  assert.match(runtime, /\nHEALTHCHECK [^\n]*\n\s+CMD [^\n]*PALISADE_HEALTH_URL/);
  assert.match(runtime, /PALISADE_HEALTH_URL=http:\/\/127\.0\.0\.1:9090\/healthz/);
  assert.match(runtime, /\nCMD \["start", "-c", "\/etc\/palisade\/palisade\.yaml"\]/);
  // The image runs the compiled CLI, which bin/palisade.js prefers when dist/ exists.
  assert.match(runtime, /COPY --from=build \/app\/dist \.\/dist/);
  assert.match(readFileSync(join(ROOT, 'bin/palisade.js'), 'utf8'), /dist\/cli\.js/);
  assert.ok(readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').includes('node_modules'));
});
