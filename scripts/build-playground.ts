/**
 * `npm run build:playground`: bundles the playground (plain TypeScript + marked; the form page too) with esbuild into
 * static files under playground/dist/, served by the app at /playground. No CDN, no network.
 * The test setup runs it too (test/setup/buildPlayground.ts), so a fresh clone tests without a build.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'playground', 'src');
export const PLAYGROUND_DIST = join(ROOT, 'playground', 'dist');

export async function buildPlayground(outdir: string = PLAYGROUND_DIST): Promise<void> {
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: [join(SRC, 'main.ts'), join(SRC, 'form.ts')],
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: true,
    legalComments: 'linked',
    logLevel: 'warning',
  });
  for (const f of ['index.html', 'form.html', 'style.css']) copyFileSync(join(SRC, f), join(outdir, f));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildPlayground();
  console.log(`playground built in ${PLAYGROUND_DIST}`);
}
