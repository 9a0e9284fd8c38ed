#!/usr/bin/env node
// The installed entry point: runs the compiled CLI when it exists (npm run build, the
// Docker image), else the TypeScript source through tsx (a git checkout).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dist = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
let cli;
if (existsSync(dist)) {
  cli = await import(pathToFileURL(dist).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(new URL('../src/cli.ts', import.meta.url).href);
}
cli.run(process.argv.slice(2));
