import type { ModelRegistry } from './model-registry.js';
import type { ServedModel, TensorIn, TensorOut, TensorSpec } from './served-model.js';
import { ServerError } from './server-error.js';
import { ORT_TO_TF, elementCount, flattenTensor, nestTensor, shapeOfNested } from './tensor-json.js';

/**
 * TF Serving REST handlers: model status, metadata and predict (row and columnar formats).
 * The served model has one signature, `serving_default`, whose inputs are the graph's
 * inputs and whose outputs are the model's `signatureOutputs`.
 */

const SIGNATURE = 'serving_default';

/** GET /v1/models/{name}[/versions/{v}] */
export function tfModelStatus(registry: ModelRegistry, name: string, version?: string): unknown {
  const models = version === undefined ? registry.versions(name) : [registry.get(name, version)];
  return {
    model_version_status: models.map((m) => ({ version: m.version, state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } })),
  };
}

/** GET /v1/models/{name}[/versions/{v}]/metadata */
export function tfModelMetadata(registry: ModelRegistry, name: string, version?: string): unknown {
  const model = registry.get(name, version);
  const info = (t: TensorSpec) => ({
    dtype: ORT_TO_TF[t.ortType],
    tensor_shape: { dim: t.shape.map((d) => ({ size: String(d), name: '' })), unknown_rank: t.shape.length === 0 },
    name: t.name,
  });
  const outputs = model.outputs.filter((o) => model.signatureOutputs.includes(o.name));
  return {
    model_spec: { name: model.name, signature_name: '', version: model.version },
    metadata: {
      signature_def: {
        signature_def: {
          [SIGNATURE]: {
            inputs: Object.fromEntries(model.inputs.map((t) => [t.name, info(t)])),
            outputs: Object.fromEntries(outputs.map((t) => [t.name, info(t)])),
            method_name: 'tensorflow/serving/predict',
          },
        },
      },
    },
  };
}

/**
 * POST /v1/models/{name}[/versions/{v}]:predict. `{"instances": [...]}` (row format) answers
 * `{"predictions": [...]}`, one entry per instance; `{"inputs": ...}` (columnar) answers
 * `{"outputs": ...}`. With one signature output an entry is that output's value, with
 * several it is an object by output name, as TF Serving does.
 */
export async function tfPredict(registry: ModelRegistry, name: string, version: string | undefined, body: unknown): Promise<unknown> {
  const model = registry.get(name, version);
  if (!isObject(body)) throw new ServerError(400, 'request body must be a JSON object');
  if (body.signature_name !== undefined && body.signature_name !== SIGNATURE) {
    throw new ServerError(400, `unknown signature_name ${JSON.stringify(body.signature_name)}; this model has only ${SIGNATURE}`);
  }
  const hasInstances = body.instances !== undefined;
  const hasInputs = body.inputs !== undefined;
  if (hasInstances === hasInputs) throw new ServerError(400, 'the body must have exactly one of "instances" or "inputs"');
  if (hasInstances) {
    const { inputs, batch } = rowInputs(model, body.instances);
    const outputs = await model.infer(inputs, model.signatureOutputs);
    return { predictions: splitRows(outputs, batch) };
  }
  const outputs = await model.infer(columnarInputs(model, body.inputs), model.signatureOutputs);
  const values = outputs.map((o) => nestTensor(o.data, o.shape));
  return { outputs: outputs.length === 1 ? values[0] : Object.fromEntries(outputs.map((o, i) => [o.name, values[i]])) };
}

function rowInputs(model: ServedModel, instances: unknown): { inputs: TensorIn[]; batch: number } {
  if (!Array.isArray(instances) || instances.length === 0) throw new ServerError(400, '"instances" must be a non-empty array');
  const names = model.inputs.map((i) => i.name);
  const perInput = new Map<string, unknown[]>(names.map((n) => [n, []]));
  instances.forEach((instance, i) => {
    // An instance is the value itself for a one-input model, or an object by input name.
    if (isObject(instance)) {
      for (const key of Object.keys(instance)) {
        if (!perInput.has(key)) throw new ServerError(400, `instances[${i}]: unexpected input ${JSON.stringify(key)}`);
      }
      for (const n of names) {
        if (instance[n] === undefined) throw new ServerError(400, `instances[${i}]: missing input ${n}`);
        perInput.get(n)!.push(instance[n]);
      }
    } else if (names.length === 1) {
      perInput.get(names[0])!.push(instance);
    } else {
      throw new ServerError(400, `instances[${i}] must be an object with the inputs ${names.join(', ')}`);
    }
  });
  const inputs = names.map((n) => {
    const values = perInput.get(n)!;
    const shape = shapeOfNested(values[0], `input ${n}`);
    const data: (number | boolean)[] = [];
    values.forEach((v, i) => {
      const s = shapeOfNested(v, `input ${n}`);
      if (s.length !== shape.length || s.some((d, k) => d !== shape[k])) {
        throw new ServerError(400, `instances[${i}]: input ${n} has shape [${s}], instance 0 has [${shape}]`);
      }
      for (const leaf of flattenTensor(v, `input ${n}`)) data.push(leaf);
    });
    return { name: n, shape: [values.length, ...shape], data };
  });
  return { inputs, batch: instances.length };
}

function columnarInputs(model: ServedModel, inputs: unknown): TensorIn[] {
  const names = model.inputs.map((i) => i.name);
  const byName: Record<string, unknown> = isObject(inputs) ? inputs : names.length === 1 ? { [names[0]]: inputs } : {};
  if (!isObject(inputs) && names.length !== 1) throw new ServerError(400, `"inputs" must be an object with the inputs ${names.join(', ')}`);
  return Object.entries(byName).map(([n, value]) => ({ name: n, shape: shapeOfNested(value, `input ${n}`), data: flattenTensor(value, `input ${n}`) }));
}

function splitRows(outputs: TensorOut[], batch: number): unknown[] {
  for (const o of outputs) {
    if (o.shape[0] !== batch) throw new ServerError(500, `output ${o.name} has shape [${o.shape}], not one row per instance`);
  }
  const rows: unknown[] = [];
  for (let r = 0; r < batch; r++) {
    const values = outputs.map((o) => {
      const rowShape = o.shape.slice(1);
      const size = elementCount(rowShape);
      return nestTensor(o.data.slice(r * size, (r + 1) * size), rowShape);
    });
    rows.push(outputs.length === 1 ? values[0] : Object.fromEntries(outputs.map((o, i) => [o.name, values[i]])));
  }
  return rows;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
