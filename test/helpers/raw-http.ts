/**
 * HTTP over a bare TCP socket (node:net), so that the bytes a test writes are the bytes
 * the gateway reads: nothing normalizes header case, framing, or the request target.
 */
import { connect } from 'node:net';

/** What came back on the socket. */
export interface RawReply {
  /** Everything received, as latin1 (byte for byte). */
  raw: string;
  /** Status of the first response, if one was received. */
  status?: number;
  /** The first response's headers, lower-cased names. */
  headers: Record<string, string>;
  /** The first response's body (what followed the head). */
  body: string;
  /** Whether the server closed the connection (false: the wait ran out). */
  closed: boolean;
}

/**
 * Writes `parts` to a new connection (each part as its own write, `gapMs` apart) and
 * collects what comes back until the server closes or `timeoutMs` passes.
 *
 * @example
 * const r = await rawExchange(gw.url, 'GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
 * r.status; // 200
 */
export function rawExchange(
  url: string,
  parts: string | Buffer | (string | Buffer)[],
  opts: { timeoutMs?: number; gapMs?: number } = {},
): Promise<RawReply> {
  const { hostname, port } = new URL(url);
  const list = Array.isArray(parts) ? parts : [parts];
  return new Promise((resolve) => {
    const sock = connect(Number(port), hostname.replace(/^\[|\]$/g, ''));
    let raw = '';
    let closed = false;
    const timers: NodeJS.Timeout[] = [];
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (raw += d));
    sock.on('error', () => {});
    const finish = () => {
      for (const t of timers) clearTimeout(t);
      sock.destroy();
      resolve(parse(raw, closed));
    };
    sock.on('close', () => {
      closed = true;
      finish();
    });
    timers.push(setTimeout(finish, opts.timeoutMs ?? 5000));
    sock.once('connect', () => {
      list.forEach((p, i) => {
        if (!opts.gapMs || i === 0) sock.write(p);
        else timers.push(setTimeout(() => !sock.destroyed && sock.write(p), i * opts.gapMs));
      });
    });
  });
}

function parse(raw: string, closed: boolean): RawReply {
  const end = raw.indexOf('\r\n\r\n');
  const head = end < 0 ? raw : raw.slice(0, end);
  const lines = head.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
  }
  return { raw, status: m ? Number(m[1]) : undefined, headers, body: end < 0 ? '' : raw.slice(end + 4), closed };
}

/** The error code in a raw reply's JSON body, if any. */
export function errorCode(r: RawReply): string | undefined {
  return /"code":"(PALISADE_[A-Z_]+)"/.exec(r.body)?.[1];
}
