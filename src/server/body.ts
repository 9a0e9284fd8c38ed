/**
 * Reading and parsing a request body: bounded while it streams in, strict UTF-8,
 * bounded nesting, and JSON without prototype poisoning. The object parsed here is the
 * one stages inspect, and it is frozen: a stage that changes the body asks for a copy
 * (`mutableBody`) and the copy is what is forwarded, re-serialized. A body nothing
 * changed is forwarded as the very bytes it was parsed from, but only when those bytes
 * cannot be read differently by the upstream: no duplicate key, no number a double
 * cannot hold exactly, no BOM (otherwise it is re-serialized too). So the upstream
 * always gets what was inspected: no parser differential (duplicate keys, `__proto__`,
 * odd encodings, numbers past the double range) can show it something else.
 *
 * The checks are one byte scan (depth, member count, number tokens; strings are skipped
 * with memchr) and one walk of the parsed value (forbidden keys, member count, freeze),
 * not regexes over the text.
 */
import type { IncomingMessage } from 'node:http';
import { isUtf8 } from 'node:buffer';
import { GatewayError } from '../pipeline/errors.js';

/** Reads the whole body, refusing it past `limit` bytes (before reading, when Content-Length says so). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(new GatewayError('PALISADE_BODY_TOO_LARGE'));
  }
  return new Promise((resolve, reject) => new BodyReader(req, limit, resolve, reject));
}

/** The body being read from a request (for the module-level listeners below). */
const kReader = Symbol('palisade.bodyReader');
type Reading = IncomingMessage & { [kReader]?: BodyReader };

function onBodyData(this: Reading, c: Buffer): void {
  this[kReader]?.data(c);
}
function onBodyEnd(this: Reading): void {
  this[kReader]?.end();
}
function onBodyError(this: Reading, err: Error): void {
  this[kReader]?.error(err);
}
function onBodyAborted(this: Reading): void {
  this[kReader]?.error(new Error('client aborted'));
}

/** One body being read: a class instance and shared listeners, no closures per request. */
class BodyReader {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly req: Reading,
    private readonly limit: number,
    private readonly resolve: (b: Buffer) => void,
    private readonly reject: (e: unknown) => void,
  ) {
    req[kReader] = this;
    req.on('data', onBodyData);
    req.on('end', onBodyEnd);
    req.on('error', onBodyError);
    req.on('aborted', onBodyAborted);
  }

  data(c: Buffer): void {
    this.size += c.length;
    if (this.size > this.limit) {
      this.cleanup();
      this.req.pause();
      this.reject(new GatewayError('PALISADE_BODY_TOO_LARGE'));
      return;
    }
    this.chunks.push(c);
  }

  end(): void {
    this.cleanup();
    const c = this.chunks;
    this.resolve(c.length === 1 ? c[0] : Buffer.concat(c, this.size));
  }

  error(err: Error): void {
    this.cleanup();
    this.reject(Object.assign(new GatewayError('PALISADE_BAD_REQUEST', 'the request body could not be read'), { cause: err }));
  }

  private cleanup(): void {
    const req = this.req;
    req[kReader] = undefined;
    req.off('data', onBodyData);
    req.off('end', onBodyEnd);
    req.off('error', onBodyError);
    req.off('aborted', onBodyAborted);
  }
}

/** A parsed request body. */
export interface ParsedBody {
  /** The parsed value, deeply frozen. */
  value: unknown;
  /**
   * The bytes to forward when no stage changes the body: the bytes parsed, when the
   * upstream cannot read them as anything but `value`; undefined when the body must be
   * re-serialized (duplicate keys, a number a double cannot hold, a BOM).
   */
  exact: Buffer | undefined;
}

/** Parses a JSON body: strict UTF-8, nesting at most `maxDepth`, no `__proto__` / `constructor.prototype`. Frozen. */
export function parseJsonBody(buf: Buffer, maxDepth: number): unknown {
  return parseJsonRequest(buf, maxDepth).value;
}

/** parseJsonBody, also telling whether the bytes may be forwarded as they are. */
export function parseJsonRequest(buf: Buffer, maxDepth: number): ParsedBody {
  if (buf.length === 0) throw new GatewayError('PALISADE_BAD_REQUEST', 'the request body is empty');
  if (!isUtf8(buf)) throw new GatewayError('PALISADE_BAD_REQUEST', 'the request body is not valid UTF-8');
  let exact = true;
  let bytes = buf;
  // A UTF-8 BOM is allowed (and skipped), but not forwarded.
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) {
    bytes = buf.subarray(3);
    exact = false;
  }
  if (!scanJson(bytes, maxDepth)) {
    throw new GatewayError('PALISADE_BAD_REQUEST', `the request body is nested deeper than ${maxDepth}`);
  }
  if (scan.inexactNumber) exact = false;
  const members = scan.members;
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new GatewayError('PALISADE_BAD_REQUEST', 'the request body is not valid JSON');
  }
  if (value !== null && typeof value === 'object') {
    walk.members = 0;
    if (!checkAndFreeze(value)) throw new GatewayError('PALISADE_BAD_REQUEST', 'the request body has a forbidden key');
    // Fewer keys than members: a key was repeated (the last one won). The upstream might
    // take the first: the body goes re-serialized, with one key each.
    if (walk.members !== members) exact = false;
  }
  return { value, exact: exact ? buf : undefined };
}

/** What the last scanJson saw (single-threaded: module state instead of an object per call). */
const scan = { members: 0, inexactNumber: false };
const walk = { members: 0 };

/** Beyond this many characters a number token may not round-trip through a double. */
const MAX_EXACT_NUMBER = 15;

/**
 * One pass over JSON bytes, without recursion: false when nesting exceeds `max`
 * (brackets inside strings do not count). Counts object members (`:` outside strings)
 * and notes number tokens a double may not hold exactly (an exponent, or more than 15
 * characters). Strings are skipped with memchr. Malformed JSON is left to JSON.parse.
 */
export function scanJson(b: Uint8Array, max: number): boolean {
  const n = b.length;
  let depth = 0;
  let members = 0;
  let inexact = false;
  let i = 0;
  while (i < n) {
    const c = b[i];
    if (c === 34 /* " */) {
      // Find the closing quote: one not preceded by an odd run of backslashes.
      let j = i + 1;
      for (;;) {
        // Short strings (keys) inline; long ones by memchr.
        const stop = j + 24 < n ? j + 24 : n;
        while (j < stop && b[j] !== 34) j++;
        if (j === stop) {
          if (stop === n) return depthOk(members, inexact);
          j = (b as Buffer).indexOf(34, j);
          if (j < 0) return depthOk(members, inexact);
        }
        let k = j - 1;
        while (b[k] === 92 /* \ */) k--;
        if (((j - 1 - k) & 1) === 0) break;
        j++;
      }
      i = j + 1;
      continue;
    }
    if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return false;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
    else if (c === 58 /* : */) members++;
    else if ((c >= 48 && c <= 57) || c === 45 /* - */) {
      const start = i;
      i++;
      while (i < n) {
        const d = b[i];
        if ((d >= 48 && d <= 57) || d === 46 /* . */ || d === 45 || d === 43 /* + */) i++;
        else if (d === 101 || d === 69 /* e E */) {
          inexact = true;
          i++;
        } else break;
      }
      if (i - start > MAX_EXACT_NUMBER) inexact = true;
      continue;
    }
    i++;
  }
  return depthOk(members, inexact);
}

function depthOk(members: number, inexact: boolean): true {
  scan.members = members;
  scan.inexactNumber = inexact;
  return true;
}

/**
 * Checks a parsed value for `__proto__` keys and `constructor.prototype`, counts its
 * members into `walk.members`, and freezes it. False on a forbidden key. The depth is
 * bounded by the scan before.
 */
function checkAndFreeze(node: object): boolean {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const v = node[i];
      if (v !== null && typeof v === 'object' && !checkAndFreeze(v)) return false;
    }
  } else {
    let count = 0;
    for (const k in node) {
      count++;
      const v = (node as Record<string, unknown>)[k];
      if (k === '__proto__') return false;
      if (v !== null && typeof v === 'object') {
        if (k === 'constructor' && Object.hasOwn(v, 'prototype')) return false;
        if (!checkAndFreeze(v)) return false;
      }
    }
    walk.members += count;
  }
  Object.freeze(node);
  return true;
}

/**
 * Forbidden keys only (a response body is changed in place by response stages: not
 * frozen); counts object members into `walk.members`.
 */
function checkKeys(node: object): boolean {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const v = node[i];
      if (v !== null && typeof v === 'object' && !checkKeys(v)) return false;
    }
    return true;
  }
  for (const k in node) {
    walk.members++;
    const v = (node as Record<string, unknown>)[k];
    if (k === '__proto__') return false;
    if (v !== null && typeof v === 'object') {
      if (k === 'constructor' && Object.hasOwn(v, 'prototype')) return false;
      if (!checkKeys(v)) return false;
    }
  }
  return true;
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

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** A parsed upstream response body. */
export interface ParsedResponse {
  value: unknown;
  /**
   * Whether the bytes may reach the client as they are when no stage changed the value:
   * no client parser can read them as anything else (no duplicate key, no number a
   * double cannot hold exactly, no BOM), as for request bodies.
   */
  exact: boolean;
}

/** Parses a JSON response body of an upstream (same protections, no depth bound beyond V8's). Throws on bad input. */
export function parseJsonResponse(buf: Buffer): ParsedResponse {
  const bom = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf;
  return parsedResponse(utf8.decode(buf), bom ? undefined : buf);
}

/** The same for the data of one SSE event (text already decoded by the event parser). */
export function parseJsonEvent(data: string): ParsedResponse {
  return parsedResponse(data, Buffer.from(data, 'utf8'));
}

/** `bytes`: what the text was read from, or undefined when they may not be sent as they are. */
function parsedResponse(text: string, bytes: Buffer | undefined): ParsedResponse {
  const v: unknown = JSON.parse(text);
  walk.members = 0;
  if (v !== null && typeof v === 'object' && !checkKeys(v)) throw new SyntaxError('Object contains forbidden prototype property');
  // JSON.parse has read it: the scan only counts members and number tokens.
  const exact = bytes !== undefined && scanJson(bytes, Infinity) && !scan.inexactNumber && scan.members === walk.members;
  return { value: v, exact };
}

/** Whether a content type is JSON (`application/json`, `application/x+json`, with parameters). */
export function isJsonContentType(ct: string | undefined): boolean {
  if (!ct) return false;
  if (ct === 'application/json') return true;
  const base = ct.split(';', 1)[0].trim().toLowerCase();
  return base === 'application/json' || (base.startsWith('application/') && base.endsWith('+json'));
}
