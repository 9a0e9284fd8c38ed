/**
 * `palisade audit verify`: checks an audit log (its files in order) and says where it
 * stops being trustworthy. It checks every link of the hash chain and every checkpoint
 * signature, names the first record that was edited, removed, reordered or inserted, and
 * says whether the log ends cleanly or may have been truncated after its last checkpoint.
 *
 * Without a pinned key the signatures are checked against the key embedded in each
 * checkpoint, which proves integrity but not authorship; pass the gateway's public key to
 * pin it.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { compactVerify, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import type { KeyObject } from 'node:crypto';
import { GENESIS, hashLine, type CheckpointPayload } from './chain.js';

type VerifyKey = KeyObject | Awaited<ReturnType<typeof importJWK>>;

export type ProblemKind = 'edited' | 'removed' | 'reordered' | 'inserted' | 'bad-signature' | 'malformed';

export interface Problem {
  kind: ProblemKind;
  /** The record the problem is about (its sequence number as written, when readable). */
  seq?: number;
  file: string;
  /** 1-based line in `file`. */
  line: number;
  message: string;
}

export interface Verdict {
  /** No problem in the chain or the signatures (see `tail` for the end of the log). */
  ok: boolean;
  problem?: Problem;
  records: number;
  firstSeq?: number;
  lastSeq?: number;
  /** Whether the first record is the start of the chain, or the files begin later in it. */
  startsAt: 'genesis' | 'mid-chain' | 'empty';
  /** Checkpoints whose signature verified (before the first problem). */
  checkpoints: number;
  lastCheckpoint?: { seq: number; file: string; line: number; reason: string };
  /** Key ids that signed the checkpoints. */
  keyIds: string[];
  /** Whether signatures were checked against a key given by the caller. */
  pinned: boolean;
  tail: {
    /** closed: ends with a closing checkpoint; checkpoint: ends with another checkpoint;
     * unsigned: records after the last checkpoint; torn: the last line is cut. */
    state: 'closed' | 'checkpoint' | 'unsigned' | 'torn' | 'empty';
    /** Records after the last checkpoint (not covered by a signature). */
    unsigned: number;
    tornBytes?: number;
    /** Whether records are missing at the end: no, yes, or possible (cannot be ruled out). */
    truncated: 'no' | 'yes' | 'possible';
    message: string;
  };
}

export interface VerifyOptions {
  /** The gateway's public key (pins the signer). */
  key?: { key: KeyObject; kid: string };
  /** A checkpoint seq known from elsewhere (e.g. palisade_audit_checkpoint_seq): the log must reach it. */
  expectSeq?: number;
}

interface Rec {
  file: string;
  line: number;
  raw: string;
  hash: string;
  seq?: number;
  prev?: string;
  type?: string;
  obj?: Record<string, unknown>;
}

/** Verifies the files of one audit log, in the order given. */
export async function verifyAuditFiles(files: string[], opts: VerifyOptions = {}): Promise<Verdict> {
  const recs: Rec[] = [];
  let problem: Problem | undefined;
  let tornBytes = 0;
  for (let f = 0; f < files.length; f++) {
    const buf = readFileSync(files[f]);
    const name = basename(files[f]);
    let start = 0;
    let lineNo = 0;
    while (start < buf.length) {
      const nl = buf.indexOf(0x0a, start);
      lineNo++;
      if (nl < 0) {
        // A last line without its newline: a write that was cut.
        if (f === files.length - 1) tornBytes = buf.length - start;
        else problem ??= { kind: 'malformed', file: name, line: lineNo, message: `${name}:${lineNo}: incomplete line in the middle of the log` };
        break;
      }
      const raw = buf.subarray(start, nl);
      const r: Rec = { file: name, line: lineNo, raw: raw.toString('utf8'), hash: hashLine(raw) };
      try {
        const o = JSON.parse(r.raw) as Record<string, unknown>;
        if (o && typeof o === 'object' && !Array.isArray(o)) {
          r.obj = o;
          if (typeof o.seq === 'number' && Number.isSafeInteger(o.seq)) r.seq = o.seq;
          if (typeof o.prev === 'string') r.prev = o.prev;
          if (typeof o.type === 'string') r.type = o.type;
        }
      } catch {
        // unparseable: reported below as edited
      }
      recs.push(r);
      start = nl + 1;
    }
  }

  const chainProblem = checkChain(recs);
  if (chainProblem && (!problem || chainProblem.index < indexOfProblem(recs, problem))) problem = chainProblem.problem;
  const limit = problem ? indexOfProblem(recs, problem) : recs.length;

  // Signatures, up to the first chain problem.
  const keyIds = new Set<string>();
  const embedded = new Map<string, VerifyKey>();
  let checkpoints = 0;
  let lastCp: { idx: number; reason: string } | undefined;
  for (let i = 0; i < limit; i++) {
    const r = recs[i];
    if (r.type !== 'checkpoint') continue;
    const bad = await checkCheckpoint(r, opts.key, embedded, keyIds);
    if (bad) {
      problem = { kind: 'bad-signature', seq: r.seq, file: r.file, line: r.line, message: `${r.file}:${r.line}: checkpoint seq ${r.seq}: ${bad}` };
      break;
    }
    checkpoints++;
    lastCp = { idx: i, reason: String(r.obj?.reason ?? '') };
  }

  const first = recs[0];
  const last = recs[recs.length - 1];
  const verdict: Verdict = {
    ok: !problem,
    problem,
    records: recs.length,
    firstSeq: first?.seq,
    lastSeq: last?.seq,
    startsAt: !first ? 'empty' : first.seq === 1 && first.prev === GENESIS ? 'genesis' : 'mid-chain',
    checkpoints,
    lastCheckpoint: lastCp && {
      seq: recs[lastCp.idx].seq!,
      file: recs[lastCp.idx].file,
      line: recs[lastCp.idx].line,
      reason: lastCp.reason,
    },
    keyIds: [...keyIds],
    pinned: !!opts.key,
    tail: tailOf(recs, lastCp?.idx, tornBytes),
  };
  if (!problem && opts.expectSeq !== undefined && (verdict.lastSeq ?? 0) < opts.expectSeq) {
    verdict.tail.truncated = 'yes';
    verdict.tail.message = `the log ends at seq ${verdict.lastSeq ?? 0} but seq ${opts.expectSeq} was signed: records were removed from its end. ${verdict.tail.message}`;
  }
  return verdict;
}

function indexOfProblem(recs: Rec[], p: Problem): number {
  const i = recs.findIndex((r) => r.file === p.file && r.line === p.line);
  return i < 0 ? recs.length : i;
}

/** The first broken link, named as the tampering that explains it. */
function checkChain(recs: Rec[]): { index: number; problem: Problem } | undefined {
  const at = (r: Rec, kind: ProblemKind, message: string, seq = r.seq) => ({ kind, seq, file: r.file, line: r.line, message: `${r.file}:${r.line}: ${message}` });
  const seen = new Map<string, number>();
  for (let i = 0; i < recs.length; i++) {
    const r = recs[i];
    if (r.seq === undefined || r.prev === undefined || r.type === undefined) {
      return { index: i, problem: at(r, 'edited', 'not a valid audit record (edited)') };
    }
    const copyOf = seen.get(r.hash);
    if (copyOf !== undefined) {
      return { index: i, problem: at(r, 'inserted', `record seq ${r.seq} was inserted: it is a copy of line ${recs[copyOf].line} of ${recs[copyOf].file}`) };
    }
    seen.set(r.hash, i);
    if (i === 0) {
      if (r.seq === 1 && r.prev !== GENESIS) return { index: i, problem: at(r, 'edited', 'record seq 1 does not start the chain (edited)') };
      continue;
    }
    const p = recs[i - 1];
    const linkOk = r.prev === p.hash;
    const seqOk = r.seq === p.seq! + 1;
    if (linkOk && seqOk) continue;
    if (linkOk) return { index: i, problem: at(r, 'edited', `record seq ${r.seq} follows seq ${p.seq} in the chain but its seq was changed (edited)`) };
    if (seqOk) {
      return {
        index: i - 1,
        problem: at(p, 'edited', `record seq ${p.seq} was edited: its hash is not the one record seq ${r.seq} (line ${r.line}) chained to`),
      };
    }
    if (r.seq <= p.seq!) {
      if (r.prev === p.prev || (i >= 2 && r.prev === recs[i - 2].hash)) {
        return { index: i - 1, problem: at(p, 'inserted', `record seq ${p.seq} was inserted: the record after it chains to the one before it`) };
      }
      return { index: i, problem: at(r, 'reordered', `record seq ${r.seq} is out of order (it comes after seq ${p.seq})`) };
    }
    // A gap: the missing records are later in the log (moved) or gone.
    const missing = p.seq! + 1;
    const later = recs.findIndex((x, j) => j > i && x.seq === missing);
    if (later >= 0) {
      const m = recs[later];
      return { index: i, problem: at(r, 'reordered', `record seq ${missing} was moved: expected before this line, found at ${m.file}:${m.line}`, missing) };
    }
    const range = r.seq - 1 === missing ? `record seq ${missing} was` : `records seq ${missing}..${r.seq - 1} were`;
    return { index: i, problem: at(r, 'removed', `${range} removed (before this line, after seq ${p.seq})`, missing) };
  }
  return undefined;
}

/** Checks one checkpoint's signature and that it signs this very line's place. Returns what is wrong, or undefined. */
async function checkCheckpoint(
  r: Rec,
  pinned: VerifyOptions['key'],
  embedded: Map<string, VerifyKey>,
  keyIds: Set<string>,
): Promise<string | undefined> {
  const jws = r.obj?.jws;
  if (typeof jws !== 'string') return 'no signature (edited)';
  let header: { kid?: string; jwk?: JWK; alg?: string };
  try {
    header = decodeProtectedHeader(jws) as typeof header;
  } catch {
    return 'unreadable signature (edited)';
  }
  let key: VerifyKey | undefined;
  if (pinned) {
    if (header.kid !== pinned.kid) return `signed by key ${header.kid ?? '(none)'}, not by the given key ${pinned.kid}`;
    key = pinned.key;
  } else {
    const kid = header.kid ?? '';
    key = embedded.get(kid);
    if (!key) {
      if (!header.jwk || !header.alg) return 'no key to check the signature with';
      try {
        key = await importJWK(header.jwk, header.alg);
      } catch {
        return 'unreadable embedded key (edited)';
      }
      embedded.set(kid, key);
    }
  }
  let payload: CheckpointPayload;
  try {
    const v = await compactVerify(jws, key);
    payload = JSON.parse(new TextDecoder().decode(v.payload)) as CheckpointPayload;
  } catch {
    return 'the signature does not verify (the checkpoint or the key was changed)';
  }
  if (header.kid) keyIds.add(header.kid);
  if (payload.seq !== r.seq || payload.prev !== r.prev) {
    return `the signed position (seq ${payload.seq}) is not this line's (edited, or the chain before it was rewritten)`;
  }
  if (payload.reason !== r.obj?.reason || payload.records !== r.obj?.records || payload.time !== r.obj?.time) {
    return 'its fields differ from what was signed (edited)';
  }
  return undefined;
}

function tailOf(recs: Rec[], lastCp: number | undefined, tornBytes: number): Verdict['tail'] {
  const unsigned = recs.length - 1 - (lastCp ?? -1);
  if (tornBytes > 0) {
    return {
      state: 'torn',
      unsigned,
      tornBytes,
      truncated: 'yes',
      message: `the last line is cut (${tornBytes} bytes without a newline): a write was interrupted (crash) or the file was truncated; a restarted gateway cuts it off and continues`,
    };
  }
  if (recs.length === 0) return { state: 'empty', unsigned: 0, truncated: 'possible', message: 'no records' };
  if (unsigned === 0) {
    const reason = String(recs[lastCp!].obj?.reason ?? '');
    if (reason === 'close') return { state: 'closed', unsigned: 0, truncated: 'no', message: 'ends with a closing checkpoint: the gateway closed the log cleanly' };
    return {
      state: 'checkpoint',
      unsigned: 0,
      truncated: 'possible',
      message: `ends with a ${reason} checkpoint, not a closing one: the gateway is still writing or stopped abruptly, or records after the checkpoint were removed`,
    };
  }
  return {
    state: 'unsigned',
    unsigned,
    truncated: 'possible',
    message: `${unsigned} record${unsigned === 1 ? '' : 's'} after the last checkpoint ${unsigned === 1 ? 'is' : 'are'} chained but not signed yet; truncation after the last checkpoint cannot be ruled out`,
  };
}

/** A human report of a verdict (what the CLI prints). */
export function formatVerdict(v: Verdict): string {
  const lines: string[] = [];
  if (v.problem) lines.push(`FAIL ${v.problem.kind}: ${v.problem.message}`);
  else lines.push(`OK chain of ${v.records} records${v.firstSeq !== undefined ? ` (seq ${v.firstSeq}..${v.lastSeq})` : ''} verifies`);
  if (v.startsAt === 'mid-chain') lines.push(`note: the files start at seq ${v.firstSeq}, not at the start of the chain; earlier files were not given`);
  lines.push(
    `checkpoints: ${v.checkpoints} signature${v.checkpoints === 1 ? '' : 's'} verified` +
      (v.lastCheckpoint ? `, last at seq ${v.lastCheckpoint.seq} (${v.lastCheckpoint.file}:${v.lastCheckpoint.line}, ${v.lastCheckpoint.reason})` : '') +
      (v.keyIds.length ? `; key ${v.keyIds.join(', ')}${v.pinned ? ' (pinned)' : ' (embedded in the log, not pinned: pass --key to pin)'}` : ''),
  );
  if (v.keyIds.length > 1) lines.push('warning: checkpoints are signed by more than one key');
  if (!v.problem) lines.push(`end: ${v.tail.message} (truncated: ${v.tail.truncated})`);
  return `${lines.join('\n')}\n`;
}
