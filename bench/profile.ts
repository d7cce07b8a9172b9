/**
 * `npm run bench:profile [resources] [seconds]`: the built service (`node --cpu-prof dist/src/server.js`)
 * under the bench's load (order-sign, 10 connections, distinct patients in rotation) for `seconds`
 * (default 15) on a record of `resources` (default 60); then the profile's self time by module and
 * function (bench/profile-summary.ts). The profile is kept in bench/results/profile-<resources>.cpuprofile
 * for Chrome DevTools or speedscope.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { SERVICE_IDS } from '../src/hooks/discovery.js';
import { BENCH_DIR, writeRecord } from './generate-record.js';
import { patientsOf } from './patients.js';
import { summarise } from './profile-summary.js';

const resources = Number(process.argv[2] ?? 60);
const seconds = Number(process.argv[3] ?? 15);
const PORT = 3921;
const profDir = mkdtempSync(join(tmpdir(), 'cpu-prof-'));
const bodies = patientsOf(readFileSync(writeRecord(resources), 'utf8'));

const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, 'dist/src/server.js'], {
  cwd: join(BENCH_DIR, '..'),
  env: { ...process.env, PORT: String(PORT), HOST: '127.0.0.1', RATE_LIMIT_PER_MINUTE: '0', MAX_EVENT_LOOP_DELAY_MS: '0', RECORD_DATA_DIR: mkdtempSync(join(tmpdir(), 'prof-records-')) },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));

for (let i = 0; ; i++) {
  try {
    if ((await fetch(`http://127.0.0.1:${PORT}/health`)).status < 500) break;
  } catch {
    if (i > 200) throw new Error('the service did not start');
  }
  await new Promise((r) => setTimeout(r, 100));
}
let next = 0;
const result = await autocannon({
  url: `http://127.0.0.1:${PORT}/cds-services/${SERVICE_IDS['order-sign']}`,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  connections: 10,
  duration: seconds,
  requests: [{ setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }) }],
});
child.kill('SIGTERM');
await exited;
const [file] = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error('no profile written');
const kept = join(BENCH_DIR, 'results', `profile-${resources}.cpuprofile`);
renameSync(join(profDir, file), kept);
console.log(`${Math.round(result.requests.average)} req/s, p99 ${result.latency.p99} ms, ${result.non2xx} non-2xx; profile ${kept}\n`);
console.log(summarise(kept, Number(process.env.TOP ?? 40)));
