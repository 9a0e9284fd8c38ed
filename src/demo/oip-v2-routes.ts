import type { ModelRegistry } from './model-registry.js';
import type { TensorIn } from './served-model.js';
import { ServerError } from './server-error.js';
import { flattenTensor } from './tensor-json.js';

/**
 * Open Inference Protocol (KServe v2) REST handlers: model metadata, readiness and infer.
 * Each takes parsed parameters and returns the JSON body of a 200 answer, or throws a
 * {@link ServerError}.
 */

/** GET /v2/models/{name}[/versions/{v}] */
export function v2ModelMetadata(registry: ModelRegistry, name: string, version?: string): unknown {
  const model = registry.get(name, version);
  return {
    name: model.name,
    versions: registry.versions(name).map((m) => m.version),
    platform: 'onnxruntime',
    inputs: model.inputs.map(({ name: n, datatype, shape }) => ({ name: n, datatype, shape })),
    outputs: model.outputs.map(({ name: n, datatype, shape }) => ({ name: n, datatype, shape })),
  };
}

/** GET /v2/models/{name}[/versions/{v}]/ready: a loaded model is always ready. */
export function v2ModelReady(registry: ModelRegistry, name: string, version?: string): unknown {
  const model = registry.get(name, version);
  return { name: model.name, version: model.version, ready: true };
}

/** POST /v2/models/{name}[/versions/{v}]/infer */
export async function v2Infer(registry: ModelRegistry, name: string, version: string | undefined, body: unknown): Promise<unknown> {
  const model = registry.get(name, version);
  if (!isObject(body)) throw new ServerError(400, 'request body must be a JSON object');
  if (body.id !== undefined && typeof body.id !== 'string') throw new ServerError(400, 'id must be a string');
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) throw new ServerError(400, 'inputs must be a non-empty array');
  const inputs: TensorIn[] = body.inputs.map((raw, i) => {
    if (!isObject(raw)) throw new ServerError(400, `inputs[${i}] must be an object`);
    const { name: inputName, shape, datatype, data } = raw;
    if (typeof inputName !== 'string') throw new ServerError(400, `inputs[${i}].name must be a string`);
    if (!Array.isArray(shape)) throw new ServerError(400, `inputs[${i}].shape must be an array`);
    if (typeof datatype !== 'string') throw new ServerError(400, `inputs[${i}].datatype must be a string`);
    const spec = model.inputs.find((s) => s.name === inputName);
    if (spec && spec.datatype !== datatype) throw new ServerError(400, `input ${inputName}: datatype ${datatype} does not match the model's ${spec.datatype}`);
    if (isObject(raw.parameters) && raw.parameters.binary_data_size !== undefined) {
      throw new ServerError(400, 'binary tensor data is not supported; send data as JSON');
    }
    return { name: inputName, shape: shape as number[], data: flattenTensor(data, `input ${inputName}`) };
  });
  let outputNames: string[] | undefined;
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs)) throw new ServerError(400, 'outputs must be an array');
    outputNames = body.outputs.map((o, i) => {
      if (!isObject(o) || typeof o.name !== 'string') throw new ServerError(400, `outputs[${i}].name must be a string`);
      return o.name;
    });
  }
  const outputs = await model.infer(inputs, outputNames);
  return {
    model_name: model.name,
    model_version: model.version,
    ...(body.id !== undefined ? { id: body.id } : {}),
    outputs,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
