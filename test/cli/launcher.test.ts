import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** The `npx lumbar-mri-cds` entry point runs the TypeScript sources with no build step. */
describe('bin/lumbar-mri-cds.js', () => {
  it('evaluates a folder and exits 0', () => {
    const r = spawnSync(process.execPath, ['bin/lumbar-mri-cds.js', 'evaluate', '--json', 'fixtures/synthea'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const { results } = JSON.parse(r.stdout) as { results: { outcome: string }[] };
    expect(results).toHaveLength(6);
  });

  it('exits 1 and names the file for unreadable input, 2 for wrong usage', () => {
    const missing = spawnSync(process.execPath, ['bin/lumbar-mri-cds.js', 'evaluate', 'no/such/file.json'], { encoding: 'utf8', timeout: 60_000 });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/unreadable: no\/such\/file\.json: ENOENT/);
    const usage = spawnSync(process.execPath, ['bin/lumbar-mri-cds.js', 'evaluate'], { encoding: 'utf8', timeout: 60_000 });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/missing required argument 'paths'/);
  });
});
