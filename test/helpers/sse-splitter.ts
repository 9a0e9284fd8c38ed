/**
 * An upstream that sends a real model's SSE stream in awkward pieces, to test the
 * gateway's SSE path over real TCP: it relays each POST to a real OpenAI-compatible
 * server (`--relay URL`, the demo LLM server), then writes the answer back in pieces of
 * the sizes the request header `x-split` lists (cycled; e.g. `1` is every byte its own
 * write; `awkward` cuts inside UTF-8 sequences, CRLFs, `data:` and numbers), with the line ends `x-eol` asks for (`lf`, `crlf`, `cr`), each piece flushed
 * before the next. `x-bulk: BYTES` instead streams that many bytes of synthetic chat
 * chunks with logprobs, honouring backpressure; GET /__progress says how far it got.
 *
 * Run: `node --import tsx test/helpers/sse-splitter.ts --port 0 --relay http://...`
 * prints `{"listening":"http://127.0.0.1:PORT"}`.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, relay: { type: 'string' } } });

interface Progress {
  written: number;
  total: number;
  /** The client (the gateway) went away before the end. */
  closedEarly: boolean;
  done: boolean;
}
let progress: Progress = { written: 0, total: 0, closedEarly: false, done: false };

const turn = () => new Promise<void>((r) => setImmediate(r));

async function writePieces(res: http.ServerResponse, body: Buffer, sizes: number[], pause: () => Promise<void>): Promise<void> {
  res.socket?.setNoDelay(true);
  for (let i = 0, k = 0; i < body.length && !res.destroyed; k++) {
    const piece = body.subarray(i, i + sizes[k % sizes.length]);
    i += piece.length;
    // Each piece reaches the socket, and a pause passes, before the next: separate TCP
    // segments, so the gateway reads the stream in these pieces (or a few of them).
    await new Promise<void>((r) => res.write(piece, () => r()));
    await pause();
  }
  res.end();
}

/**
 * Piece sizes that cut the stream where a parser is most likely to slip: inside every
 * UTF-8 sequence, after every CR (between CR and LF), between the two LFs that end an
 * event, inside every `data:` and inside every log-probability number.
 */
function awkwardSizes(body: Buffer): number[] {
  const cuts = new Set<number>();
  for (let i = 0; i < body.length; i++) {
    const b = body[i];
    if (b >= 0xc0) cuts.add(i + 1);
    if (b === 0x0d) cuts.add(i + 1);
    if (b === 0x0a && body[i + 1] === 0x0a) cuts.add(i + 1);
  }
  const text = body.toString('latin1');
  for (const m of text.matchAll(/data:/g)) cuts.add(m.index + 2);
  for (const m of text.matchAll(/"logprob":-?\d+\.\d/g)) cuts.add(m.index + m[0].length - 1);
  const sorted = [...cuts].filter((c) => c > 0 && c < body.length).sort((a, b) => a - b);
  const sizes: number[] = [];
  let prev = 0;
  for (const c of [...sorted, body.length]) {
    if (c > prev) sizes.push(c - prev);
    prev = c;
  }
  return sizes;
}

const EVENT = (i: number) =>
  `data: {"id":"chatcmpl-bulk","object":"chat.completion.chunk","created":1,"model":"demo-llm","choices":[{"index":0,"delta":{"content":" tok${i}"},` +
  `"logprobs":{"content":[{"token":" tok${i}","logprob":-0.123456789,"bytes":[32],"top_logprobs":[{"token":" tok${i}","logprob":-0.123456789,"bytes":[32]},{"token":" alt","logprob":-2.987654321,"bytes":[32]},{"token":" other","logprob":-4.5678,"bytes":[32]}]}],"refusal":null},"finish_reason":null}]}\n\n`;

async function writeBulk(res: http.ServerResponse, total: number): Promise<void> {
  progress = { written: 0, total, closedEarly: false, done: false };
  res.once('close', () => {
    if (!progress.done) progress.closedEarly = true;
  });
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  let i = 0;
  while (progress.written < total && !res.destroyed) {
    let chunk = '';
    while (chunk.length < 64 * 1024) chunk += EVENT(i++);
    progress.written += chunk.length;
    if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  }
  if (!res.destroyed) {
    progress.done = true;
    res.end('data: [DONE]\n\n');
  }
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.method === 'GET' && req.url === '/__progress') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(progress));
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const bulk = req.headers['x-bulk'];
    if (typeof bulk === 'string') return await writeBulk(res, Number(bulk));
    if (!values.relay) throw new Error('--relay is required');
    const up = await fetch(values.relay + (req.url ?? '/'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.concat(chunks),
    });
    const ct = up.headers.get('content-type') ?? 'application/json';
    let text = await up.text();
    const eol = req.headers['x-eol'];
    if (eol === 'crlf') text = text.replace(/\n/g, '\r\n');
    else if (eol === 'cr') text = text.replace(/\n/g, '\r');
    const split = String(req.headers['x-split'] ?? '1000000');
    const body = Buffer.from(text);
    res.writeHead(up.status, { 'content-type': ct });
    // Awkward cuts are few: a real pause between them makes sure each is its own read.
    if (split === 'awkward') await writePieces(res, body, awkwardSizes(body), () => sleep(2));
    else await writePieces(res, body, split.split(',').map(Number), turn);
  } catch (err) {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: String(err) }));
  }
});

server.listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ listening: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
});
const stop = () => {
  server.close();
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
