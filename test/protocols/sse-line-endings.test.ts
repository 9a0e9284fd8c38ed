// Regression: an empty line ended by CR after an LF line (`\n\r`) or after a CRLF line
// (`\r\n\r`) did not end an event, so mixed line endings merged events until the size bound.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SseParser } from '../../src/protocols/sse.js';

const EOLS = ['\n', '\r', '\r\n'];

test('events with any mix of CR, LF and CRLF line ends, cut anywhere, come out whole (property)', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          lines: fc.array(fc.stringMatching(/^[a-z0-9 é✓{}":,]{0,12}$/), { minLength: 1, maxLength: 3 }),
          eols: fc.array(fc.constantFrom(...EOLS), { minLength: 4, maxLength: 4 }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 8 }),
      (events, cuts) => {
        let text = '';
        for (const e of events) {
          let last = '';
          e.lines.forEach((l, i) => (text += `data: ${l}${(last = e.eols[i % 3])}`));
          // CR then LF would be one CRLF line end, not an empty line.
          text += last === '\r' && e.eols[3] === '\n' ? '\r' : e.eols[3];
        }
        const buf = Buffer.from(text);
        const p = new SseParser();
        const got = [];
        for (let i = 0, k = 0; i < buf.length; k++) {
          const n = cuts[k % cuts.length];
          got.push(...p.push(buf.subarray(i, i + n)));
          i += n;
        }
        assert.deepEqual(got.map((e) => e.data), events.map((e) => e.lines.join('\n')));
      },
    ),
    { numRuns: 2000 },
  );
});
