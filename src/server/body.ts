/**
 * Reading and parsing a request body: bounded while it streams in, strict UTF-8,
 * bounded nesting, and JSON without prototype poisoning. The object parsed here is the
 * one stages inspect and the one forwarded (re-serialized), so no parser differential
 * (duplicate keys, `__proto__`, odd encodings) can show the upstream something else.
 */
import type { IncomingMessage } from 'node:http';
import sjson from 'secure-json-parse';
import { GatewayError } from '../pipeline/errors.js';

/** Reads the whole body, refusing it past `limit` bytes (before reading, when Content-Length says so). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(new GatewayError('PALISADE_BODY_TOO_LARGE'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(new GatewayError('PALISADE_BODY_TOO_LARGE'));
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(Object.assign(new GatewayError('PALISADE_BAD_REQUEST', 'the request body could not be read'), { cause: err }));
    };
    const onAborted = () => onError(new Error('client aborted'));
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const PARSE_OPTS = { protoAction: 'error', constructorAction: 'error' } as const;

/** Parses a JSON body: strict UTF-8, nesting at most `maxDepth`, no `__proto__` / `constructor.prototype`. */
export function parseJsonBody(buf: Buffer, maxDepth: number): unknown {
  if (buf.length === 0) throw new GatewayError('PALISADE_BAD_REQUEST', 'the request body is empty');
  let text: string;
  try {
    text = utf8.decode(buf);
  } catch {
    throw new GatewayError('PALISADE_BAD_REQUEST', 'the request body is not valid UTF-8');
  }
  if (jsonDepthExceeds(text, maxDepth)) {
    throw new GatewayError('PALISADE_BAD_REQUEST', `the request body is nested deeper than ${maxDepth}`);
  }
  try {
    return sjson.parse(text, undefined, PARSE_OPTS);
  } catch (err) {
    const msg = (err as Error).message.includes('prototype') ? 'the request body has a forbidden key' : 'the request body is not valid JSON';
    throw new GatewayError('PALISADE_BAD_REQUEST', msg);
  }
}

/**
 * Whether JSON text nests deeper than `max`, in one pass and without recursion (a deep
 * body must not cost a stack overflow before it is refused).
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

/** Parses a JSON response body of an upstream (same protections, no depth bound beyond V8's). */
export function parseJsonResponse(buf: Buffer): unknown {
  return sjson.parse(utf8.decode(buf), undefined, PARSE_OPTS);
}

/** Whether a content type is JSON (`application/json`, `application/x+json`, with parameters). */
export function isJsonContentType(ct: string | undefined): boolean {
  if (!ct) return false;
  const base = ct.split(';', 1)[0].trim().toLowerCase();
  return base === 'application/json' || (base.startsWith('application/') && base.endsWith('+json'));
}
