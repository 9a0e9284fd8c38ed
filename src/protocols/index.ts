import type { Protocol } from '../config/schema.js';
import type { ProtocolAdapter } from './adapter.js';
import { kserveV2Adapter } from './kserve-v2.js';
import { openaiAdapter } from './openai.js';
import { rawAdapter } from './raw.js';
import { tfservingAdapter } from './tfserving.js';

/** One adapter per protocol; a new protocol is one new entry here and one file. */
export const ADAPTERS: Readonly<Record<Protocol, ProtocolAdapter>> = Object.freeze({
  openai: openaiAdapter,
  'kserve-v2': kserveV2Adapter,
  tfserving: tfservingAdapter,
  raw: rawAdapter,
});
