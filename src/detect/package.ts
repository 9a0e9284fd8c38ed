/**
 * Model packages (DESIGN.md, "Detectors"): a folder with `model.onnx`, `manifest.json`
 * and `manifest.jws`. Loading checks, in this order, and refuses with an error that
 * names the package and the cause: the signature (by a trusted key), the manifest, the
 * sha256 of the model, and the featurizer (a name and version this gateway knows, with
 * valid params). Nothing about a package is checked at request time.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { JWK } from 'jose';
import { DETECTOR_KINDS, type Featurizer } from './featurizer.js';
import type { FeaturizerRegistry } from './featurizers/registry.js';
import { signManifest, verifyManifest, type TrustedKey } from './signing.js';

export const MANIFEST_SCHEMA = 'palisade.detector-package/v1';

/** manifest.json. Unknown top-level keys are refused: a field the runtime ignores could be a field it should have honored. */
export const manifestSchema = z.strictObject({
  schema: z.literal(MANIFEST_SCHEMA),
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
  version: z.string().min(1),
  kind: z.enum(DETECTOR_KINDS),
  description: z.string().optional(),
  model: z.strictObject({
    file: z.string().regex(/^[A-Za-z0-9._-]+\.onnx$/),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
  featurizer: z.strictObject({
    name: z.string().min(1),
    version: z.number().int().min(1),
    params: z.record(z.string(), z.unknown()),
  }),
  /** Featurizer input → graph input name. */
  inputs: z.record(z.string(), z.string()),
  /** Graph output that holds the score in [0, 1], shape [B, 1] or [B]. */
  output: z.string(),
  /** Score at or above which the detector fires, unless the config overrides it. */
  threshold: z.number().min(0).max(1),
  /** Evaluation figures (free-form, written by the training code). */
  metrics: z.record(z.string(), z.unknown()).optional(),
  /** Where the training data came from, and under which licenses. */
  provenance: z.record(z.string(), z.unknown()).optional(),
  training: z.record(z.string(), z.unknown()).optional(),
});

export type Manifest = z.infer<typeof manifestSchema>;

/** A package that passed every load check. */
export interface LoadedPackage {
  dir: string;
  manifest: Manifest;
  model: Uint8Array;
  /** sha256 of model.onnx, hex (equal to the manifest's). */
  sha256: string;
  /** sha256 of manifest.json: with the folder, what identifies a loaded package (sessions are shared by it). */
  manifestSha256: string;
  featurizer: Featurizer;
  /** kid of the key whose signature verified; undefined for an unsigned package loaded with allowUnsigned. */
  signedBy?: string;
}

/** A package refused at load. The message names the package and what is wrong. */
export class PackageError extends Error {
  readonly code = 'PALISADE_PACKAGE_REFUSED';
  constructor(
    readonly dir: string,
    readonly reason: 'missing' | 'unsigned' | 'untrusted-key' | 'bad-signature' | 'manifest' | 'digest' | 'featurizer',
    detail: string,
  ) {
    super(`model package ${dir} refused: ${detail}`);
  }
}

export interface LoadPackageOptions {
  trustedKeys: readonly TrustedKey[];
  featurizers: FeaturizerRegistry;
  /** Load a package that has no manifest.jws (with a warning). A signature that fails is refused regardless. */
  allowUnsigned?: boolean;
  warn?: (msg: string) => void;
}

/** Loads and checks a package folder. Throws PackageError. */
export async function loadPackage(dirIn: string, opts: LoadPackageOptions): Promise<LoadedPackage> {
  const dir = resolve(dirIn);
  const manifestFile = join(dir, 'manifest.json');
  if (!existsSync(manifestFile)) throw new PackageError(dir, 'missing', 'no manifest.json');
  const manifestBytes = readFileSync(manifestFile);

  const jwsFile = join(dir, 'manifest.jws');
  let signedBy: string | undefined;
  if (!existsSync(jwsFile)) {
    if (!opts.allowUnsigned) throw new PackageError(dir, 'unsigned', 'it is not signed (no manifest.jws); set allowUnsigned: true to load it anyway');
    opts.warn?.(`model package ${dir} is not signed and is loaded because allowUnsigned is set`);
  } else {
    const v = await verifyManifest(manifestBytes, readFileSync(jwsFile, 'utf8'), opts.trustedKeys);
    if (!v.ok) throw new PackageError(dir, v.reason === 'malformed' ? 'bad-signature' : v.reason, v.detail);
    signedBy = v.kid;
  }

  let manifest: Manifest;
  try {
    const r = manifestSchema.safeParse(JSON.parse(manifestBytes.toString('utf8')));
    if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
    manifest = r.data;
  } catch (err) {
    throw new PackageError(dir, 'manifest', `manifest.json is invalid: ${(err as Error).message}`);
  }

  const modelFile = join(dir, manifest.model.file);
  if (!existsSync(modelFile)) throw new PackageError(dir, 'missing', `no ${manifest.model.file}`);
  const model = readFileSync(modelFile);
  const sha256 = createHash('sha256').update(model).digest('hex');
  if (sha256 !== manifest.model.sha256) {
    throw new PackageError(dir, 'digest', `${manifest.model.file} has sha256 ${sha256}, the manifest says ${manifest.model.sha256}: the model was changed after signing`);
  }

  let featurizer: Featurizer;
  try {
    featurizer = opts.featurizers.create(manifest.featurizer.name, manifest.featurizer.version, manifest.featurizer.params);
  } catch (err) {
    throw new PackageError(dir, 'featurizer', (err as Error).message);
  }
  if (featurizer.kind !== manifest.kind) {
    throw new PackageError(dir, 'featurizer', `featurizer ${featurizer.name} is for ${featurizer.kind} detectors, the package is ${manifest.kind}`);
  }
  const missing = featurizer.inputs.filter((i) => !manifest.inputs[i]);
  if (missing.length) throw new PackageError(dir, 'manifest', `inputs does not map ${missing.join(', ')}`);
  return {
    dir,
    manifest,
    model: new Uint8Array(model.buffer, model.byteOffset, model.byteLength),
    sha256,
    manifestSha256: createHash('sha256').update(manifestBytes).digest('hex'),
    featurizer,
    signedBy,
  };
}

/**
 * Writes a package: model.onnx, manifest.json (with the model's sha256 filled in) and,
 * given a private key, manifest.jws. Used by the training code and by tests.
 */
export async function writePackage(
  dir: string,
  model: Uint8Array,
  manifest: Omit<Manifest, 'model' | 'schema'> & { model?: { file?: string } },
  signingKey?: JWK,
): Promise<Manifest> {
  mkdirSync(dir, { recursive: true });
  const file = manifest.model?.file ?? 'model.onnx';
  const full: Manifest = {
    schema: MANIFEST_SCHEMA,
    ...manifest,
    model: { file, sha256: createHash('sha256').update(model).digest('hex') },
  } as Manifest;
  manifestSchema.parse(full);
  const bytes = Buffer.from(`${JSON.stringify(orderKeys(full), null, 2)}\n`);
  writeFileSync(join(dir, file), model);
  writeFileSync(join(dir, 'manifest.json'), bytes);
  if (signingKey) writeFileSync(join(dir, 'manifest.jws'), `${await signManifest(bytes, signingKey)}\n`);
  return full;
}

/** Re-signs an existing manifest.json with a private key (e.g. an operator's own key). */
export async function signPackage(dir: string, signingKey: JWK): Promise<void> {
  const bytes = readFileSync(join(dir, 'manifest.json'));
  writeFileSync(join(dir, 'manifest.jws'), `${await signManifest(bytes, signingKey)}\n`);
}

/** Puts the identity fields first so that a reader of manifest.json sees what it is at a glance. */
function orderKeys(m: Manifest): Manifest {
  const { schema, name, version, kind, description, model, featurizer, inputs, output, threshold, ...rest } = m;
  return { schema, name, version, kind, description, model, featurizer, inputs, output, threshold, ...rest } as Manifest;
}
