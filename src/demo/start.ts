/**
 * The demo upstreams that `npm start` runs in the gateway's own process when the config
 * has a `demo:` section, and the curl commands printed once everything is ready.
 */
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/schema.js';

export interface DemoUpstreams {
  close(): Promise<void>;
}

/** Starts the demo servers the config asks for. */
export async function startDemoUpstreams(demo: Config['demo']): Promise<DemoUpstreams> {
  const closers: (() => Promise<void>)[] = [];
  try {
    if (demo?.llm) {
      const { startLlmServer } = await import('./llm-server.js');
      const s = await startLlmServer({ host: demo.llm.listen.host, port: demo.llm.listen.port });
      closers.push(() => s.close());
    }
    if (demo?.kserve) {
      const { startKServeServer } = await import('./kserve-server.js');
      const s = await startKServeServer({ host: demo.kserve.listen.host, port: demo.kserve.listen.port });
      closers.push(() => s.close());
    }
  } catch (err) {
    await Promise.allSettled(closers.map((c) => c()));
    throw err;
  }
  return { close: async () => void (await Promise.allSettled(closers.map((c) => c()))) };
}

/** A sample KServe v2 request: one real MNIST test digit (a 0). */
export const DEMO_DIGIT_FILE = fileURLToPath(new URL('../../config/demo/digit.json', import.meta.url));

/** Shell-quotes a string for a POSIX shell. */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The prompt of the demo's chat curl (test/detect/prompt-injection-model.test.ts checks that the shipped detector passes it). */
export const DEMO_CHAT_PROMPT = 'Hello, palisade!';

/** The curl commands that show the gateway working, for the models of this config. */
export function demoCommands(config: Config, gatewayUrl: string, bearer?: string): string[] {
  const auth = bearer ? ` -H ${q(`authorization: Bearer ${bearer}`)}` : '';
  const out: string[] = [];
  const llm = config.models.find((m) => config.upstreams[m.upstream]?.protocol === 'openai');
  if (llm) {
    const body = JSON.stringify({ model: llm.name, messages: [{ role: 'user', content: DEMO_CHAT_PROMPT }], max_tokens: 16 });
    out.push(`curl -s ${gatewayUrl}/v1/chat/completions -H 'content-type: application/json'${auth} -d ${q(body)}`);
  }
  const tensor = config.models.find((m) => config.upstreams[m.upstream]?.protocol === 'kserve-v2');
  if (tensor) {
    out.push(`curl -s ${gatewayUrl}/v2/models/${tensor.name}/infer -H 'content-type: application/json'${auth} -d @${DEMO_DIGIT_FILE}`);
  }
  return out;
}
