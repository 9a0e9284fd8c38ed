/**
 * Buffers that a featurizer reuses from one `run` of a session to the next, so that a
 * run does not allocate (and later have the GC free) a fresh ArrayBuffer per input.
 * One FeedBuffers belongs to one session and is used by one run at a time: the session's
 * micro-batcher starts a run only after the previous one has ended, and onnxruntime-node
 * reads the feeds during its synchronous native run, keeping no reference once the run
 * has returned.
 *
 * A view handed out holds whatever the previous run left: the featurizer writes every
 * element it feeds. A buffer is new (zero-filled) whenever it grows.
 */
type Ctor<T> = { new (length: number): T; readonly BYTES_PER_ELEMENT: number };

/** Larger requests get a buffer of their own, not kept: a rare huge batch does not pin memory. */
const KEEP_BYTES = 1 << 20;

export class FeedBuffers {
  private readonly bufs = new Map<string, Int32Array | BigInt64Array | Float32Array>();

  /** A view of `length` elements of the buffer named `key` (grown to fit, contents undefined). */
  view<T extends Int32Array | BigInt64Array | Float32Array>(key: string, ctor: Ctor<T>, length: number): T {
    if (length * ctor.BYTES_PER_ELEMENT > KEEP_BYTES) return new ctor(length);
    let buf = this.bufs.get(key) as T | undefined;
    if (!buf || !(buf instanceof ctor) || buf.length < length) {
      const grown = Math.max(length, buf && buf instanceof ctor ? buf.length * 2 : 64);
      buf = new ctor(Math.min(grown, KEEP_BYTES / ctor.BYTES_PER_ELEMENT));
      this.bufs.set(key, buf);
    }
    return buf.length === length ? buf : (buf.subarray(0, length) as T);
  }
}
