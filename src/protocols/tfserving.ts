/**
 * TensorFlow Serving REST: predict (row `instances` and columnar `inputs` formats),
 * model status and metadata.
 */
import { GatewayError } from '../pipeline/errors.js';
import type { InferenceRequest, InferenceResponse, InferenceTensor } from '../pipeline/types.js';
import { badRequest, badResponse, flattenNumbers, isObject, nest, shapeOf, type ParseInput, type ProtocolAdapter } from './adapter.js';

function tensorOf(name: string, v: unknown, what: string, batched: boolean): InferenceTensor {
  const data = flattenNumbers(v, what);
  const shape = shapeOf(v) ?? [];
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw badRequest(`${what} is not rectangular`);
  return { name, shape: batched || shape.length > 0 ? shape : [1], datatype: 'FP32', data };
}

/**
 * `predictions.scores.v2` → [`predictions`, `scores.v2`]: split at the first dot only,
 * since output names may hold dots (split('.', 2) would drop the rest and write the
 * changed values under another name, leaving the original unchanged).
 */
function outputKey(tensorName: string): [string, string | undefined] {
  const dot = tensorName.indexOf('.');
  return dot < 0 ? [tensorName, undefined] : [tensorName.slice(0, dot), tensorName.slice(dot + 1)];
}
/** Names of the tensors parseResponse found, so serializeResponse can remove those a stage dropped. */
const parsedNames = new WeakMap<InferenceResponse, string[]>();
/** Responses in row format with named outputs (`predictions: [{name: ...}, ...]`). */
const rowOutputs = new WeakSet<InferenceResponse>();

export const tfservingAdapter: ProtocolAdapter = {
  protocol: 'tfserving',

  parseRequest({ route, model, body }: ParseInput): InferenceRequest {
    const base = { protocol: 'tfserving' as const, model, operation: route.operation, texts: [], params: { stream: false } };
    if (route.operation !== 'predict') return { ...base, tensors: [], body: undefined };
    if (!isObject(body)) throw badRequest('body must be a JSON object');
    const spec = body.model_spec;
    if (isObject(spec) && spec.name !== undefined && spec.name !== route.modelFromPath) {
      throw new GatewayError('PALISADE_MODEL_MISMATCH', 'model_spec.name differs from the path');
    }
    const hasInstances = body.instances !== undefined;
    const hasInputs = body.inputs !== undefined;
    if (hasInstances === hasInputs) throw badRequest('exactly one of instances or inputs is required');
    const tensors: InferenceTensor[] = [];
    if (hasInstances) {
      const inst = body.instances;
      if (!Array.isArray(inst) || inst.length === 0) throw badRequest('instances must be a non-empty array');
      if (inst.every((x) => isObject(x))) {
        // Row format with named inputs: gather each name across instances.
        const names = Object.keys(inst[0] as object);
        for (const name of names) {
          tensors.push(tensorOf(name, inst.map((x, i) => {
            const v = (x as Record<string, unknown>)[name];
            if (v === undefined) throw badRequest(`instances[${i}].${name} is missing`);
            return v;
          }), `instances[*].${name}`, true));
        }
      } else {
        tensors.push(tensorOf('instances', inst, 'instances', true));
      }
    } else if (isObject(body.inputs)) {
      for (const [name, v] of Object.entries(body.inputs)) tensors.push(tensorOf(name, v, `inputs.${name}`, true));
    } else {
      tensors.push(tensorOf('inputs', body.inputs, 'inputs', true));
    }
    return { ...base, tensors, body };
  },

  parseResponse(body: unknown, req: InferenceRequest, status: number): InferenceResponse {
    if (!isObject(body)) throw badResponse('response is not a JSON object');
    const tensors: InferenceTensor[] = [];
    const res: InferenceResponse = { protocol: 'tfserving', model: req.model, status, stream: false, body, tensors };
    if (status < 300 && req.operation === 'predict') {
      // Exactly one of them: a second one would pass to the client unread (and undefended).
      if ((body.predictions === undefined) === (body.outputs === undefined)) {
        throw badResponse('response must have exactly one of predictions or outputs');
      }
      const key = body.predictions !== undefined ? 'predictions' : 'outputs';
      const out = body[key];
      try {
        if (isObject(out)) for (const [name, v] of Object.entries(out)) tensors.push(tensorOf(`${key}.${name}`, v, name, true));
        else if (Array.isArray(out) && out.length > 0 && out.every(isObject)) {
          // Row format with named outputs: gather each numeric name across the rows; a
          // non-numeric output (a class name) is no tensor and passes as it is.
          for (const name of Object.keys(out[0] as object)) {
            const column = (out as Record<string, unknown>[]).map((row) => row[name]);
            if (column.some((v) => typeof v === 'string' || (Array.isArray(v) && v.flat(Infinity).some((x) => typeof x === 'string')))) continue;
            tensors.push(tensorOf(`${key}.${name}`, column, name, true));
          }
          rowOutputs.add(res);
        } else tensors.push(tensorOf(key, out, key, true));
      } catch {
        throw badResponse(`${key} is not a numeric tensor`);
      }
      parsedNames.set(res, tensors.map((t) => t.name));
    }
    return res;
  },

  parseEvent(): InferenceResponse {
    throw badResponse('TF Serving REST does not stream');
  },

  serializeResponse(res: InferenceResponse): string {
    const body = res.body as Record<string, unknown>;
    const kept = new Set(res.tensors.map((t) => t.name));
    // Outputs a stage removed (a defense that drops logits) leave the body too.
    for (const gone of parsedNames.get(res) ?? []) {
      if (kept.has(gone)) continue;
      const [key, name] = outputKey(gone);
      if (name === undefined) delete body[key];
      else if (rowOutputs.has(res)) for (const row of body[key] as Record<string, unknown>[]) delete row[name];
      else delete (body[key] as Record<string, unknown>)[name];
    }
    for (const t of res.tensors) {
      const [key, name] = outputKey(t.name);
      const nested = nest(t.data, t.shape);
      if (name === undefined) body[key] = nested;
      else if (rowOutputs.has(res)) {
        const rows = body[key] as Record<string, unknown>[];
        const perRow = t.shape.length > 1 ? (nested as unknown[]) : Array.from(t.data);
        rows.forEach((row, i) => (row[name] = perRow[i]));
      } else (body[key] as Record<string, unknown>)[name] = nested;
    }
    return JSON.stringify(body);
  },
};
