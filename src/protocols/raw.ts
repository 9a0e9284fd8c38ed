/**
 * `raw`: endpoints no adapter knows. The body is forwarded byte for byte and the
 * response passes unchanged; stages see no texts or tensors.
 */
import type { InferenceRequest, InferenceResponse } from '../pipeline/types.js';
import { badResponse, type ParseInput, type ProtocolAdapter } from './adapter.js';

export const rawAdapter: ProtocolAdapter = {
  protocol: 'raw',
  parseRequest({ route, model }: ParseInput): InferenceRequest {
    return { protocol: 'raw', model, operation: route.operation, texts: [], tensors: [], params: { stream: false }, body: undefined };
  },
  parseResponse(body: unknown, req: InferenceRequest, status: number): InferenceResponse {
    return { protocol: 'raw', model: req.model, status, stream: false, body, tensors: [] };
  },
  parseEvent(data: unknown, req: InferenceRequest): InferenceResponse {
    return { protocol: 'raw', model: req.model, status: 200, stream: true, body: data, tensors: [] };
  },
  serializeResponse(res: InferenceResponse): string {
    if (res.body === undefined) throw badResponse('no body');
    return JSON.stringify(res.body);
  },
};
