/**
 * KServe v2 / Open Inference Protocol, REST JSON: infer, model metadata, model ready.
 */
import { GatewayError } from '../pipeline/errors.js';
import type { InferenceRequest, InferenceResponse, InferenceTensor, InferenceText } from '../pipeline/types.js';
import { badRequest, badResponse, flattenNumbers, isObject, type ParseInput, type ProtocolAdapter } from './adapter.js';

const NUMERIC = new Set(['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64']);

/** Infer responses whose outputs were parsed into tensors (the only ones serialize rewrites). */
const inferResponses = new WeakSet<InferenceResponse>();

export const kserveV2Adapter: ProtocolAdapter = {
  protocol: 'kserve-v2',

  parseRequest({ route, model, body }: ParseInput): InferenceRequest {
    const base = { protocol: 'kserve-v2' as const, model, operation: route.operation, texts: [], tensors: [], params: { stream: false } };
    if (route.operation !== 'infer') return { ...base, body: undefined };
    if (!isObject(body)) throw badRequest('body must be a JSON object');
    // Some clients repeat the model in the body; it must be the one in the path.
    for (const key of ['model_name', 'model'] as const) {
      if (body[key] !== undefined && body[key] !== route.modelFromPath) {
        throw new GatewayError('PALISADE_MODEL_MISMATCH', `${key} in the body differs from the path`);
      }
    }
    if (!Array.isArray(body.inputs) || body.inputs.length === 0) throw badRequest('inputs must be a non-empty array');
    const tensors: InferenceTensor[] = [];
    const texts: InferenceText[] = [];
    body.inputs.forEach((inp, i) => {
      if (!isObject(inp)) throw badRequest(`inputs[${i}] must be an object`);
      const { name, shape, datatype, data } = inp;
      if (typeof name !== 'string') throw badRequest(`inputs[${i}].name must be a string`);
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
        throw badRequest(`inputs[${i}].shape must be an array of non-negative integers`);
      }
      if (typeof datatype !== 'string') throw badRequest(`inputs[${i}].datatype must be a string`);
      const count = (shape as number[]).reduce((a, b) => a * b, 1);
      if (datatype === 'BYTES') {
        const flat = (Array.isArray(data) ? data.flat(Infinity) : [data]) as unknown[];
        if (!flat.every((x) => typeof x === 'string')) throw badRequest(`inputs[${i}].data must hold strings for BYTES`);
        if (flat.length !== count) throw badRequest(`inputs[${i}].data has ${flat.length} elements, shape says ${count}`);
        flat.forEach((t, j) => texts.push({ role: 'input', text: t as string, path: `inputs[${i}].data[${j}]` }));
        return;
      }
      if (!NUMERIC.has(datatype)) throw badRequest(`inputs[${i}].datatype ${datatype} is not supported`);
      const flat = flattenNumbers(data, `inputs[${i}].data`);
      if (flat.length !== count) throw badRequest(`inputs[${i}].data has ${flat.length} elements, shape says ${count}`);
      tensors.push({ name, shape: shape as number[], datatype, data: flat });
    });
    return { ...base, texts, tensors, body };
  },

  parseResponse(body: unknown, req: InferenceRequest, status: number): InferenceResponse {
    if (!isObject(body)) throw badResponse('response is not a JSON object');
    const tensors: InferenceTensor[] = [];
    if (status < 300 && req.operation === 'infer') {
      if (!Array.isArray(body.outputs)) throw badResponse('response has no outputs');
      const names = new Set<string>();
      body.outputs.forEach((out, i) => {
        if (!isObject(out) || typeof out.name !== 'string' || !Array.isArray(out.shape) || typeof out.datatype !== 'string') {
          throw badResponse(`outputs[${i}] is not a tensor`);
        }
        // Outputs are written back by name: two of one name would leave one of them
        // holding the other's (changed) values.
        if (names.has(out.name)) throw badResponse(`outputs[${i}].name is not unique`);
        names.add(out.name);
        if (out.datatype === 'BYTES') return;
        if (!out.shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) throw badResponse(`outputs[${i}].shape is not a shape`);
        let data: number[];
        try {
          data = flattenNumbers(out.data, `outputs[${i}].data`);
        } catch {
          throw badResponse(`outputs[${i}].data is not numeric`);
        }
        // Output defenses work row by row on the shape: it must describe the data.
        if ((out.shape as number[]).reduce((a, b) => a * b, 1) !== data.length) throw badResponse(`outputs[${i}].data does not match its shape`);
        tensors.push({ name: out.name, shape: out.shape as number[], datatype: out.datatype, data });
      });
    }
    const res: InferenceResponse = { protocol: 'kserve-v2', model: req.model, status, stream: false, body, tensors };
    if (status < 300 && req.operation === 'infer') inferResponses.add(res);
    return res;
  },

  parseEvent(): InferenceResponse {
    throw badResponse('KServe v2 REST does not stream');
  },

  serializeResponse(res: InferenceResponse): string {
    const body = res.body as Record<string, unknown>;
    // Numeric outputs a stage removed (a defense that drops logits) leave the body too,
    // even when none is left.
    if (inferResponses.has(res) && Array.isArray(body.outputs)) {
      const byName = new Map(res.tensors.map((t) => [t.name, t]));
      body.outputs = (body.outputs as Record<string, unknown>[])
        .filter((o) => o.datatype === 'BYTES' || byName.has(o.name as string))
        .map((o) => {
          const t = byName.get(o.name as string);
          return t ? { ...o, shape: t.shape, datatype: t.datatype, data: Array.from(t.data) } : o;
        });
    }
    return JSON.stringify(body);
  },
};
