/**
 * A circuit breaker per upstream: after `failureThreshold` consecutive failures the
 * circuit opens and requests are refused at once (PALISADE_CIRCUIT_OPEN) for `cooldown`;
 * then one probe at a time is let through (half-open); a success closes the circuit, a
 * failure opens it again.
 */

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
  now?: () => number;
  onStateChange?: (state: CircuitState) => void;
}

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private current: CircuitState = 'closed';
  private readonly now: () => number;

  constructor(private readonly opts: CircuitBreakerOptions) {
    this.now = opts.now ?? Date.now;
  }

  get state(): CircuitState {
    return this.current;
  }

  /** Milliseconds until a probe is allowed (0 when closed). */
  retryAfterMs(): number {
    return this.current === 'open' ? Math.max(0, this.openedAt + this.opts.cooldownMs - this.now()) : 0;
  }

  /** Whether a request may go now. A true in half-open makes it the probe; report its result. */
  tryAcquire(): boolean {
    if (this.current === 'closed') return true;
    if (this.current === 'open') {
      if (this.now() - this.openedAt < this.opts.cooldownMs) return false;
      this.set('half-open');
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    if (this.current !== 'closed') this.set('closed');
  }

  failure(): void {
    this.probing = false;
    this.failures++;
    if (this.current === 'half-open' || (this.current === 'closed' && this.failures >= this.opts.failureThreshold)) {
      this.openedAt = this.now();
      this.set('open');
    }
  }

  /** A request that neither succeeded nor failed (e.g. the client went away): frees the probe slot. */
  release(): void {
    this.probing = false;
  }

  private set(s: CircuitState): void {
    this.current = s;
    this.opts.onStateChange?.(s);
  }
}
