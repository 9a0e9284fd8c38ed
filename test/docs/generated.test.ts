import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { GENERATED } from '../../scripts/gen-docs.js';
import { ERRORS } from '../../src/pipeline/errors.js';

const root = new URL('../../', import.meta.url);

for (const [file, gen] of Object.entries(GENERATED)) {
  test(`${file} is up to date with its source (run npm run schema)`, () => {
    assert.equal(readFileSync(new URL(file, root), 'utf8'), gen());
  });
}

test('every registered error code is in docs/errors.md and nothing else is', () => {
  const doc = readFileSync(new URL('docs/errors.md', root), 'utf8');
  const listed = [...doc.matchAll(/^\| `(PALISADE_[A-Z_]+)` \|/gm)].map((m) => m[1]).sort();
  assert.deepEqual(listed, Object.keys(ERRORS).sort());
});
