/**
 * An incremental Server-Sent Events parser. It is fed the upstream's chunks as they
 * arrive (events may be split anywhere, even inside a UTF-8 sequence or a CRLF), yields
 * each complete event, and never holds more than one event (bounded by maxEventSize).
 */
import { StringDecoder } from 'node:string_decoder';

export interface SseEvent {
  /** `data:` lines joined with `\n`; undefined for an event that is only comments. */
  data?: string;
  event?: string;
  id?: string;
  retry?: string;
  /** Comment lines (without the leading `:`), kept so they can pass through. */
  comments?: string[];
}

export class SseParseError extends Error {
  readonly code = 'PALISADE_SSE_EVENT_TOO_LARGE';
}

// An event ends at an empty line: two line ends in a row, each CRLF, LF or CR. Longer
// forms first, so CRLF CRLF is consumed whole; a form cut short at the end of a chunk
// (CRLF CR, then LF) leaves an LF that the next block ignores as an empty line.
const BOUNDARY = /\r\n\r\n|\r\n\r|\r\n\n|\r\r|\n\n|\n\r\n|\n\r/;

export class SseParser {
  private buf = '';
  private readonly decoder = new StringDecoder('utf8');

  constructor(private readonly maxEventSize = 1024 * 1024) {}

  /** Feeds a chunk; returns the events it completed. Throws SseParseError past maxEventSize. */
  push(chunk: Buffer | string): SseEvent[] {
    this.buf += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const events: SseEvent[] = [];
    for (;;) {
      const m = BOUNDARY.exec(this.buf);
      if (!m) break;
      const block = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      const ev = parseBlock(block);
      if (ev) events.push(ev);
    }
    if (this.buf.length > this.maxEventSize) throw new SseParseError(`SSE event larger than ${this.maxEventSize} bytes`);
    return events;
  }

  /** At end of stream: the unterminated rest, if any (an event without its blank line is dropped per spec). */
  end(): string {
    const rest = this.buf + this.decoder.end();
    this.buf = '';
    return rest;
  }
}

function parseBlock(block: string): SseEvent | undefined {
  if (block === '') return undefined;
  const ev: SseEvent = {};
  let data: string[] | undefined;
  for (const line of block.split(/\r\n|\r|\n/)) {
    if (line === '') continue;
    if (line[0] === ':') {
      (ev.comments ??= []).push(line.slice(1));
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'data') (data ??= []).push(value);
    else if (field === 'event') ev.event = value;
    else if (field === 'id') ev.id = value;
    else if (field === 'retry') ev.retry = value;
  }
  if (data) ev.data = data.join('\n');
  return ev;
}

/** Serializes an event (data may hold newlines; each line becomes a data: line). */
export function formatSse(ev: SseEvent): string {
  let out = '';
  if (ev.comments) for (const c of ev.comments) out += `:${c}\n`;
  if (ev.event !== undefined) out += `event: ${ev.event}\n`;
  if (ev.id !== undefined) out += `id: ${ev.id}\n`;
  if (ev.retry !== undefined) out += `retry: ${ev.retry}\n`;
  if (ev.data !== undefined) for (const line of ev.data.split('\n')) out += `data: ${line}\n`;
  return out + '\n';
}

/** The final event the gateway sends when it ends a stream early. */
export function sseErrorEvent(code: string, message: string, requestId: string): string {
  return `event: error\ndata: ${JSON.stringify({ error: { code, message, requestId } })}\n\n`;
}

/**
 * Relays an SSE byte stream unchanged but only up to the end of its last complete
 * event, holding the unterminated rest (at most `maxEventSize` bytes). A stream cut
 * mid-event can then be ended with a clean error event, instead of one glued to half
 * an event that the client would parse as garbage.
 */
export class SseRelay {
  private held: Buffer[] = [];
  private heldSize = 0;
  // Scanner state: the last byte ended a line; that line end was a CR (an LF may follow).
  private afterEol = false;
  private afterCr = false;

  constructor(private readonly maxEventSize = 1024 * 1024) {}

  /** Bytes that may go to the client now (possibly empty). Throws SseParseError past maxEventSize. */
  push(chunk: Buffer): Buffer {
    let cut = -1;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === 10 /* \n */) {
        if (this.afterCr) {
          // The LF of a CRLF: part of the line end already counted.
          this.afterCr = false;
          // If that CR ended an event (here, or as the last byte released before), the LF goes with it.
          if ((cut >= 0 && cut === i - 1) || (i === 0 && this.heldSize === 0)) cut = i;
          continue;
        }
        if (this.afterEol) cut = i;
        this.afterEol = true;
      } else if (b === 13 /* \r */) {
        if (this.afterEol) cut = i;
        this.afterEol = true;
        this.afterCr = true;
      } else {
        this.afterEol = false;
        this.afterCr = false;
      }
    }
    if (cut < 0) {
      this.hold(chunk);
      return EMPTY;
    }
    const ready = this.heldSize ? Buffer.concat([...this.held, chunk.subarray(0, cut + 1)]) : chunk.subarray(0, cut + 1);
    this.held = [];
    this.heldSize = 0;
    if (cut + 1 < chunk.length) this.hold(chunk.subarray(cut + 1));
    return ready;
  }

  /** At the end of the stream: whatever is held (an unterminated last event passes as the upstream sent it). */
  end(): Buffer {
    const rest = this.heldSize ? Buffer.concat(this.held) : EMPTY;
    this.held = [];
    this.heldSize = 0;
    return rest;
  }

  private hold(b: Buffer): void {
    this.held.push(b);
    this.heldSize += b.length;
    if (this.heldSize > this.maxEventSize) throw new SseParseError(`SSE event larger than ${this.maxEventSize} bytes`);
  }
}

const EMPTY = Buffer.alloc(0);
