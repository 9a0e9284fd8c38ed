/**
 * Request bodies of the scenarios: deterministic, so two runs send the same bytes.
 */

const WORDS = 'the quick brown fox jumps over a lazy dog while seven model servers answer questions about weather travel and cooking'.split(' ');

/** English-looking text of exactly `bytes` ASCII bytes. */
export function promptText(bytes: number): string {
  let s = '';
  for (let i = 0; s.length < bytes; i++) s += `${WORDS[(i * 7 + (i >> 3)) % WORDS.length]} `;
  return s.slice(0, bytes);
}

/** An OpenAI chat completion body whose user message is `promptBytes` long. */
export function chatBody(promptBytes: number, opts: { stream?: boolean; maxTokens?: number } = {}): string {
  return JSON.stringify({
    model: 'demo-llm',
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: promptText(promptBytes) },
    ],
    max_tokens: opts.maxTokens ?? 16,
    ...(opts.stream ? { stream: true } : {}),
  });
}

/** A KServe v2 infer body for the demo MNIST model: one 28x28 image, deterministic pixels. */
export function mnistBody(): string {
  const data: number[] = [];
  for (let i = 0; i < 784; i++) {
    const r = Math.floor(i / 28);
    const c = i % 28;
    // A thick vertical stroke: a "1" the model recognizes, with values like real pixels.
    data.push(c >= 12 && c <= 15 && r >= 4 && r <= 23 ? Number((0.8 + ((r * 13 + c) % 20) / 100).toFixed(4)) : 0);
  }
  return JSON.stringify({ inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data }] });
}
