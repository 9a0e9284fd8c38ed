import { ServedModel, type ServedModelSpec } from './served-model.js';
import { ServerError } from './server-error.js';

/**
 * The models a demo server serves, by name and version. A request without a version gets
 * the latest one (versions compared numerically when they are numbers, as "10" > "9").
 */
export class ModelRegistry {
  private readonly byName = new Map<string, ServedModel[]>();

  private constructor(models: ServedModel[]) {
    for (const m of models) {
      const list = this.byName.get(m.name) ?? [];
      list.push(m);
      list.sort((a, b) => a.version.localeCompare(b.version, 'en', { numeric: true }));
      this.byName.set(m.name, list);
    }
  }

  /** Loads every model; if one fails, releases those already loaded and rejects. */
  static async load(specs: ServedModelSpec[]): Promise<ModelRegistry> {
    const seen = new Set<string>();
    for (const s of specs) {
      const key = `${s.name}@${s.version ?? '1'}`;
      if (seen.has(key)) throw new Error(`model ${key} is listed twice`);
      seen.add(key);
    }
    const loaded: ServedModel[] = [];
    try {
      for (const spec of specs) loaded.push(await ServedModel.load(spec));
    } catch (err) {
      await Promise.all(loaded.map((m) => m.release()));
      throw err;
    }
    return new ModelRegistry(loaded);
  }

  /** The model, or a 404 {@link ServerError}. */
  get(name: string, version?: string): ServedModel {
    const list = this.byName.get(name);
    if (!list) throw new ServerError(404, `model ${JSON.stringify(name)} not found`);
    if (version === undefined) return list[list.length - 1];
    const m = list.find((x) => x.version === version);
    if (!m) throw new ServerError(404, `model ${JSON.stringify(name)} has no version ${JSON.stringify(version)}`);
    return m;
  }

  /** All versions of a model, oldest first (404 when the name is unknown). */
  versions(name: string): ServedModel[] {
    this.get(name);
    return [...this.byName.get(name)!];
  }

  /** Frees every onnxruntime session. */
  async release(): Promise<void> {
    await Promise.all([...this.byName.values()].flat().map((m) => m.release()));
  }
}
