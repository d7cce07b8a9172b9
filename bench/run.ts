/**
 * `npm run bench`: the service as `npm start` runs it (built, `node dist/src/server.js`, its own
 * process) against the floor (bench/floor.ts), both driven over loopback by autocannon with
 * order-sign requests at four record sizes; then the evaluation alone, in process.
 * Writes bench/results/latest.json and prints the table.
 *
 *   npm run bench                 the table (about 2 minutes)
 *   npm run bench -- --soak       also 60 s at full load on the typical record, RSS sampled
 *   npm run bench -- --postgres   decision records in a fresh PostgreSQL database (DATABASE_URL), not the embedded SQLite
 *
 * Each size is sent as many distinct patients in rotation (patient id and hookInstance vary), so
 * no decision cache or record-id path is hit twice.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import pg from 'pg';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { SERVICE_IDS } from '../src/hooks/discovery.js';
import { observedDecision } from '../src/cards/observedDecision.js';
import type { CdsResponse } from '../src/hooks/types.js';
import { benchEvaluation, type EvaluationResult } from './evaluate.js';
import { BENCH_DIR, writeRecord } from './generate-record.js';
import { patientsOf } from './patients.js';

const ROOT = join(BENCH_DIR, '..');
const SOAK = process.argv.includes('--soak');
/** Decision records in PostgreSQL (a fresh database) instead of the embedded SQLite default. */
const POSTGRES = process.argv.includes('--postgres');
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 6);
const CONNECTIONS = 10;
/** Typical: the fixture plus realistic history; the rest show cost against record size. */
const SIZES = [
  { name: 'typical', resources: 60 },
  { name: 'medium', resources: 500 },
  { name: 'large', resources: 2000 },
  { name: 'x-large', resources: 5000 },
] as const;

interface LoadResult {
  readonly requestsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly non2xx: number;
  readonly peakRssMb: number;
}

interface SizeResult {
  readonly name: string;
  readonly resources: number;
  readonly bodyMb: number;
  readonly service: LoadResult;
  readonly floor: LoadResult;
  readonly ratio: number;
}

const PATH = `/cds-services/${SERVICE_IDS['order-sign']}`;

function start(name: string, args: string[], port: number, env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM' && !stopping) console.error(`${name} exited (${code ?? signal})`);
  });
  return child;
}

let stopping = false;

async function waitUp(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listening on ${port}`);
}

/** Peak VmRSS of a process while `work` runs, sampled every 50 ms from /proc. */
async function withPeakRss<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; peakRssMb: number; samples: number[] }> {
  let peak = 0;
  const samples: number[] = [];
  const sample = () => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) {
        const mb = Number(m[1]) / 1024;
        samples.push(mb);
        peak = Math.max(peak, mb);
      }
    } catch {
      // the process is gone; the run reports its errors
    }
  };
  sample();
  const timer = setInterval(sample, 50);
  try {
    const result = await work();
    sample();
    return { result, peakRssMb: Math.round(peak), samples };
  } finally {
    clearInterval(timer);
  }
}

async function load(port: number, bodies: readonly string[], duration: number): Promise<autocannon.Result> {
  let next = 0;
  return autocannon({
    url: `http://127.0.0.1:${port}${PATH}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    connections: CONNECTIONS,
    duration,
    requests: [{ setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }) }],
  });
}

async function measure(child: ChildProcess, port: number, bodies: readonly string[]): Promise<LoadResult> {
  await load(port, bodies, 2); // warm-up: JIT, caches, pools
  const { result, peakRssMb } = await withPeakRss(child.pid as number, () => load(port, bodies, DURATION_S));
  return {
    requestsPerSec: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    peakRssMb,
  };
}

/** The service must answer the bench records as it answers the fixture: history changes nothing. */
async function checkDecision(port: number, body: string, expected: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}${PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (res.status !== 200) throw new Error(`service answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const outcome = observedDecision((await res.json()) as CdsResponse).outcome;
  if (outcome !== expected) throw new Error(`the bench record decided ${outcome}, the fixture ${expected}`);
}

function build(): void {
  try {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    // tsc still emits when another file has a type error; measure what was built, but say so.
    if (!existsSync(join(ROOT, 'dist', 'src', 'server.js'))) throw err;
    console.warn('npm run build reported type errors; measuring the emitted dist/ anyway');
  }
}

/** Other work on the machine (tests, builds) takes cores from both processes: reported with the numbers. */
const loadAtStart = loadavg()[0];

const pad = (s: string | number, n: number) => String(s).padStart(n);

function table(sizes: readonly SizeResult[], evaluation: readonly EvaluationResult[]): string {
  const lines = [
    `cores: ${cpus().length}, load average at start: ${loadAtStart.toFixed(1)} (other processes share these cores), connections: ${CONNECTIONS}, ${DURATION_S} s per run`,
    '',
    `${'record'.padEnd(8)} ${pad('res.', 5)} ${pad('MB', 5)} | ${pad('svc req/s', 9)} ${pad('p50', 6)} ${pad('p99', 6)} ${pad('RSS MB', 6)} | ${pad('floor req/s', 11)} ${pad('p50', 6)} ${pad('p99', 6)} | ${pad('ratio', 5)}`,
  ];
  for (const s of sizes) {
    lines.push(
      `${s.name.padEnd(8)} ${pad(s.resources, 5)} ${pad(s.bodyMb.toFixed(2), 5)} | ${pad(s.service.requestsPerSec, 9)} ${pad(s.service.p50Ms, 6)} ${pad(s.service.p99Ms, 6)} ${pad(s.service.peakRssMb, 6)} | ${pad(s.floor.requestsPerSec, 11)} ${pad(s.floor.p50Ms, 6)} ${pad(s.floor.p99Ms, 6)} | ${pad(s.ratio.toFixed(2), 5)}`,
    );
  }
  lines.push('', 'evaluation alone (in process, µs): record index + routing + facts + criteria; "hook" adds cards');
  lines.push(`${'policy'.padEnd(30)} ${pad('res.', 5)} ${'outcome'.padEnd(14)} ${pad('median', 8)} ${pad('p99', 8)} | ${pad('hook med', 8)} ${pad('p99', 8)}`);
  for (const e of evaluation) {
    lines.push(
      `${e.policy.padEnd(30)} ${pad(e.resources, 5)} ${e.outcome.padEnd(14)} ${pad(e.decide.medianUs, 8)} ${pad(e.decide.p99Us, 8)} | ${pad(e.hook.medianUs, 8)} ${pad(e.hook.p99Us, 8)}`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const started = Date.now();
  build();
  const files = SIZES.map((s) => ({ ...s, body: readFileSync(writeRecord(s.resources), 'utf8') }));
  // One load generator is one client: no rate limit. Records go to a fresh store each run.
  const env: Record<string, string> = { RATE_LIMIT_PER_MINUTE: '0', RECORD_DATA_DIR: mkdtempSync(join(tmpdir(), 'bench-records-')) };
  if (POSTGRES) env.DATABASE_URL = await freshDatabase();
  const service = start('service', ['dist/src/server.js'], 3901, env);
  const floor = start('floor', ['--import', 'tsx', 'bench/floor.ts'], 3902);
  const stop = () => {
    stopping = true;
    service.kill('SIGTERM');
    floor.kill('SIGTERM');
  };
  process.on('exit', stop);
  try {
    await Promise.all([waitUp(3901), waitUp(3902)]);
    const sizes: SizeResult[] = [];
    for (const f of files) {
      await checkDecision(3901, f.body, 'not-indicated');
      const bodies = patientsOf(f.body);
      const s = await measure(service, 3901, bodies);
      const fl = await measure(floor, 3902, bodies);
      if (s.errors || s.non2xx) throw new Error(`${f.name}: the service answered ${s.non2xx} non-2xx and ${s.errors} errors`);
      const r: SizeResult = { name: f.name, resources: f.resources, bodyMb: Buffer.byteLength(f.body) / 1e6, service: s, floor: fl, ratio: s.requestsPerSec / fl.requestsPerSec };
      sizes.push(r);
      console.log(`${f.name}: service ${s.requestsPerSec} req/s p99 ${s.p99Ms} ms, floor ${fl.requestsPerSec} req/s`);
    }
    let soak: { durationS: number; requestsPerSec: number; p99Ms: number; peakRssMb: number; endRssMb: number; non2xx: number } | undefined;
    if (SOAK) {
      const bodies = patientsOf(files[0].body);
      const { result, peakRssMb, samples } = await withPeakRss(service.pid as number, () => load(3901, bodies, 60));
      soak = { durationS: 60, requestsPerSec: Math.round(result.requests.average), p99Ms: result.latency.p99, peakRssMb, endRssMb: Math.round(samples.at(-1) ?? 0), non2xx: result.non2xx };
      console.log(`soak: ${soak.requestsPerSec} req/s for 60 s, peak RSS ${peakRssMb} MB`);
    }
    stop();
    const evaluation = await benchEvaluation([60, 5000]);
    const results = {
      date: new Date().toISOString(),
      node: process.version,
      cores: cpus().length,
      loadAverageAtStart: loadAtStart,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      records: POSTGRES ? 'postgresql (local SQLite outbox first)' : 'embedded (SQLite)',
      connections: CONNECTIONS,
      durationS: DURATION_S,
      sizes,
      evaluation,
      ...(soak ? { soak } : {}),
      wallSeconds: Math.round((Date.now() - started) / 1000),
    };
    mkdirSync(join(BENCH_DIR, 'results'), { recursive: true });
    const out = POSTGRES ? 'latest-postgres.json' : 'latest.json';
    writeFileSync(join(BENCH_DIR, 'results', out), `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\n${table(sizes, evaluation)}\n\nwrote bench/results/${out} (${results.wallSeconds} s)`);
  } finally {
    stop();
  }
}

/** A new database on the local PostgreSQL (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres). */
async function freshDatabase(): Promise<string> {
  const admin = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `lumbar_bench_${Date.now()}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

await main();
