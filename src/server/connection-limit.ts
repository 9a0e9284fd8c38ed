/**
 * Open connections per client address. Each connection costs a file descriptor and
 * buffers whether it is busy or idle, so one client holding thousands of idle
 * keep-alive connections could exhaust the listener for everyone. Past the cap, a new
 * connection is closed at once, before a byte of it is parsed. Trusted proxies are
 * exempt: behind a load balancer every client shares its address.
 */
import type { Server } from 'node:net';
import type { Socket } from 'node:net';
import type { TrustedProxies } from './client-address.js';

/** Counts open connections by peer address and closes those past `max`. */
export class ConnectionLimiter {
  private readonly open = new Map<string, number>();
  /** Connections closed at once since start (for tests and metrics). */
  refused = 0;

  constructor(
    private readonly max: number,
    private readonly trusted: () => TrustedProxies,
  ) {}

  /** Connections open from `addr` now. */
  count(addr: string): number {
    return this.open.get(addr) ?? 0;
  }

  /** Listens to the server's raw TCP connections (before TLS, so a handshake flood counts too). */
  attach(server: Server): void {
    if (this.max <= 0) return;
    server.on('connection', (socket: Socket) => this.onConnection(socket));
  }

  private onConnection(socket: Socket): void {
    const addr = socket.remoteAddress;
    if (!addr || this.trusted().has(addr)) return;
    const n = (this.open.get(addr) ?? 0) + 1;
    if (n > this.max) {
      this.refused++;
      socket.destroy();
      return;
    }
    this.open.set(addr, n);
    socket.once('close', () => {
      const left = (this.open.get(addr) ?? 1) - 1;
      if (left <= 0) this.open.delete(addr);
      else this.open.set(addr, left);
    });
  }
}
