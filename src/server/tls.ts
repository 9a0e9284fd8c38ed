/** TLS material of the main listener, read from the files the config names. */
import { readFileSync } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';
import { resolveConfigPath, type LoadedConfig } from '../config/load.js';

export interface ListenerTls extends SecureContextOptions {
  requestCert: boolean;
  rejectUnauthorized: boolean;
}

/** Reads cert, key and client CA; undefined when the listener is plain HTTP. */
export function readListenerTls(loaded: LoadedConfig): ListenerTls | undefined {
  const t = loaded.config.server.tls;
  if (!t) return undefined;
  const read = (p: string) => readFileSync(resolveConfigPath(loaded, p));
  return {
    cert: read(t.cert),
    key: read(t.key),
    ca: t.clientCa ? read(t.clientCa) : undefined,
    requestCert: t.requestClientCert || t.requireClientCert,
    // With requireClientCert, a client without a verifying certificate fails the handshake.
    rejectUnauthorized: t.requireClientCert,
  };
}
