import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtinFeaturizers } from '../../src/detect/featurizers/registry.js';
import { loadPackage, PackageError, signPackage } from '../../src/detect/package.js';
import { generateSigningKey, readTrustedKey, trustedKeyFromJwk } from '../../src/detect/signing.js';
import { copyPackage, DEMO_PUBLIC_KEY, PACKAGE_DIR, tempDir } from './helpers.js';

const featurizers = builtinFeaturizers();
const trusted = async () => [await readTrustedKey(DEMO_PUBLIC_KEY)];

async function refused(dir: string, opts: Partial<Parameters<typeof loadPackage>[1]> = {}): Promise<PackageError> {
  try {
    await loadPackage(dir, { trustedKeys: await trusted(), featurizers, ...opts });
  } catch (err) {
    assert.ok(err instanceof PackageError, String(err));
    return err;
  }
  assert.fail('the package loaded');
}

test('the shipped package loads: signature, digest and featurizer verify', async () => {
  const pkg = await loadPackage(PACKAGE_DIR, { trustedKeys: await trusted(), featurizers });
  assert.equal(pkg.manifest.name, 'prompt-injection');
  assert.equal(pkg.manifest.kind, 'text');
  assert.match(pkg.signedBy!, /^palisade-demo-/);
  assert.equal(pkg.sha256, pkg.manifest.model.sha256);
});

test('a tampered model.onnx is refused at load (digest)', async () => {
  const t = tempDir();
  try {
    const dir = copyPackage(t.dir);
    const model = readFileSync(join(dir, 'model.onnx'));
    model[model.length - 10] ^= 0x01; // one bit of one weight
    writeFileSync(join(dir, 'model.onnx'), model);
    const err = await refused(dir);
    assert.equal(err.reason, 'digest');
    assert.match(err.message, /model\.onnx has sha256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}/);
  } finally {
    t.cleanup();
  }
});

test('a tampered manifest is refused at load (signature)', async () => {
  const t = tempDir();
  try {
    const dir = copyPackage(t.dir);
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    m.threshold = 0.99; // a lenient threshold is what an attacker would want
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 2));
    const err = await refused(dir);
    assert.equal(err.reason, 'bad-signature');
    assert.match(err.message, /does not verify: manifest\.json was changed after signing/);
  } finally {
    t.cleanup();
  }
});

test('a package signed by a key the config does not trust is refused', async () => {
  const t = tempDir();
  try {
    const dir = copyPackage(t.dir);
    const other = await generateSigningKey('someone-else');
    await signPackage(dir, other.privateJwk);
    const err = await refused(dir);
    assert.equal(err.reason, 'untrusted-key');
    assert.match(err.message, /signed by key "someone-else-[^"]+", which is not among the trusted keys \(palisade-demo-/);
    // Trusting that key makes it load.
    const pkg = await loadPackage(dir, { trustedKeys: [await trustedKeyFromJwk(other.publicJwk)], featurizers });
    assert.equal(pkg.signedBy, other.publicJwk.kid);
  } finally {
    t.cleanup();
  }
});

test('an unsigned package is refused unless allowUnsigned, which warns', async () => {
  const t = tempDir();
  try {
    const dir = copyPackage(t.dir);
    rmSync(join(dir, 'manifest.jws'));
    const err = await refused(dir);
    assert.equal(err.reason, 'unsigned');
    assert.match(err.message, /not signed \(no manifest\.jws\); set allowUnsigned: true/);
    const warnings: string[] = [];
    const pkg = await loadPackage(dir, { trustedKeys: [], featurizers, allowUnsigned: true, warn: (m) => warnings.push(m) });
    assert.equal(pkg.signedBy, undefined);
    assert.match(warnings.join(), /is not signed and is loaded because allowUnsigned is set/);
  } finally {
    t.cleanup();
  }
});

test('a featurizer name or version the runtime does not know is refused at load', async () => {
  const t = tempDir();
  try {
    const key = await generateSigningKey('test');
    const trustedKeys = [await trustedKeyFromJwk(key.publicJwk)];
    for (const [patch, re] of [
      [{ version: 99 }, /featurizer text-hashed-ngrams version 99 is unknown to this gateway \(it knows versions 1, 2\)/],
      [{ name: 'bpe-tokens' }, /featurizer "bpe-tokens" is unknown to this gateway/],
    ] as const) {
      const dir = copyPackage(t.dir, `pkg-${Object.keys(patch)[0]}`);
      const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
      Object.assign(m.featurizer, patch);
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 2));
      await signPackage(dir, key.privateJwk);
      const err = await refused(dir, { trustedKeys });
      assert.equal(err.reason, 'featurizer');
      assert.match(err.message, re);
    }
  } finally {
    t.cleanup();
  }
});

test('a private key is refused as a trusted key', async () => {
  const key = await generateSigningKey('test');
  await assert.rejects(trustedKeyFromJwk(key.privateJwk), /must be a public key/);
});
