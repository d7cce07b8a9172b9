#!/usr/bin/env node
// Runs the TypeScript CLI without a build step (tsx); after `npm run build` without dev
// dependencies (the Docker image), falls back to the compiled dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const source = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const built = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

let entry = built;
try {
  const { register } = await import('tsx/esm/api');
  if (existsSync(source)) {
    register();
    entry = source;
  }
} catch {
  if (!existsSync(built)) {
    console.error('lumbar-mri-cds: run `npm ci` (tsx runs the sources) or `npm run build` first');
    process.exit(2);
  }
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
