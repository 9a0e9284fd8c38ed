/**
 * Who the client is at the network level: the socket peer, or, only when the peer is a
 * trusted proxy, the nearest untrusted address in x-forwarded-for.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

export class TrustedProxies {
  private readonly list = new BlockList();
  private readonly empty: boolean;

  /** Entries are IPs or CIDRs (`10.0.0.0/8`, `::1`). */
  constructor(entries: readonly string[]) {
    this.empty = entries.length === 0;
    for (const e of entries) {
      const [ip, bits] = e.split('/');
      const type = isIPv6(ip) ? 'ipv6' : 'ipv4';
      if (!isIPv4(ip) && !isIPv6(ip)) throw new Error(`trustedProxies: "${e}" is not an IP or CIDR`);
      if (bits === undefined) this.list.addAddress(ip, type);
      else this.list.addSubnet(ip, Number(bits), type);
    }
  }

  has(addr: string): boolean {
    if (this.empty || !addr) return false;
    const a = unmap(addr);
    return this.list.check(a, isIPv6(a) ? 'ipv6' : 'ipv4');
  }

  /** The client address for a request from `peer` carrying `xff`. */
  clientAddress(peer: string, xff: string | string[] | undefined): string {
    const p = unmap(peer);
    if (!xff || !this.has(p)) return p;
    const hops = (Array.isArray(xff) ? xff.join(',') : xff).split(',').map((s) => unmap(s.trim()));
    // Walk from the nearest hop outward; the first address not ours is the client.
    for (let i = hops.length - 1; i >= 0; i--) {
      const h = hops[i];
      if (!isIPv4(h) && !isIPv6(h)) return p;
      if (!this.has(h)) return h;
    }
    return hops[0] || p;
  }
}

/** `::ffff:1.2.3.4` → `1.2.3.4` (IPv4-mapped IPv6 as the plain IPv4 it is). */
export function unmapIPv4(a: string): string {
  return unmap(a);
}

function unmap(a: string): string {
  return a.startsWith('::ffff:') && isIPv4(a.slice(7)) ? a.slice(7) : a;
}
