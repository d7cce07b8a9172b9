/**
 * `npm run bench`: the service as `npm start` runs it (built, `node dist/src/server.js`, its own
 * process) against the floor (bench/floor.ts), both driven over loopback by autocannon with
 * order-sign requests at four record sizes; each server's CPU per request read from /proc (what
 * other work on the machine does not change); then, in process, the CPU of each stage of one
 * request (bench/stages.ts). Writes bench/results/latest.json, bench/results/latest.md (the tables
 * for docs/performance.md) and docs/performance-chart.svg, and prints the tables.
 *
 *   npm run bench                      the tables (about 5 minutes)
 *   npm run bench -- --soak            also a soak on the typical record: 10 minutes at full load, RSS
 *                                      sampled, growth after warm-up (--soak=120 for 120 s)
 *   npm run bench -- --postgres        decision records in a fresh PostgreSQL database (DATABASE_URL), not the embedded SQLite
 *
 * Each size is sent as many distinct patients in rotation (patient id and hookInstance vary), so
 * no decision cache or record-id path is hit twice.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { defaultBodyLimit } from '../src/config/config.js';
import pg from 'pg';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { SERVICE_IDS } from '../src/hooks/discovery.js';
import { observedDecision } from '../src/cards/observedDecision.js';
import type { CdsResponse } from '../src/hooks/types.js';
import { chartSvg } from './chart.js';
import { stageBreakdown, stageTable, type StageBreakdown } from './stages.js';
import { BENCH_DIR, writeRecord } from './generate-record.js';
import { patientsOf } from './patients.js';

const ROOT = join(BENCH_DIR, '..');
const soakArg = process.argv.find((a) => a === '--soak' || a.startsWith('--soak='));
/** Soak length in seconds: `--soak` 600 (10 minutes), `--soak=<seconds>` any other. */
const SOAK_S = soakArg ? Number(soakArg.split('=')[1] ?? 600) : 0;
/** The first part of a soak (JIT, caches, pools, heap growth to its working size) is not counted as growth. */
const SOAK_WARMUP_S = Math.min(60, Math.round(SOAK_S / 5));
/** Decision records in PostgreSQL (a fresh database) instead of the embedded SQLite default. */
const POSTGRES = process.argv.includes('--postgres');
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 6);
const CONNECTIONS = 10;
/**
 * Typical: the fixture plus realistic history; the rest show cost against record size. The two
 * largest run longer: a 10,000-resource record takes each connection 2-3 s, so 6 s would count two
 * or three answers a connection, with the ten still in flight at the end weighing on the CPU per answer.
 */
const SIZES = [
  { name: 'typical', resources: 60, seconds: DURATION_S },
  { name: 'medium', resources: 500, seconds: DURATION_S },
  { name: 'large', resources: 2500, seconds: Math.max(DURATION_S, 12) },
  { name: 'x-large', resources: 10000, seconds: Math.max(DURATION_S, 30) },
] as const;
/** Warm-up before each measured run (JIT, caches, pools, the heap at its working size): a fifth of it, at least 2 s. */
const warmupOf = (seconds: number): number => Math.max(2, Math.round(seconds / 5));
/** The body limit `npm start` has by default (MAX_RESOURCES 20,000), given to the floor too. */
const BODY_LIMIT = defaultBodyLimit(20_000);

interface LoadResult {
  readonly requestsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly non2xx: number;
  readonly peakRssMb: number;
  /** CPU time (user + system) the server process used per answered request, from /proc: independent of other load. */
  readonly cpuUsPerRequest: number;
}

interface SizeResult {
  readonly name: string;
  readonly resources: number;
  readonly bodyMb: number;
  /** Seconds measured (after the warm-up). */
  readonly seconds: number;
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
    // A 10,000-resource record on a busy 2-core machine can take longer than autocannon's 10 s default.
    timeout: 120,
    requests: [{ setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }) }],
  });
}

/**
 * Answers per second over the whole run, to 0.1: a 10,000-resource record is answered 4-9 times a
 * second, where whole numbers (autocannon's per-second average, rounded) would move a ratio by 0.1 or more.
 */
function requestRate(result: autocannon.Result): number {
  return Math.round((result.requests.total / Math.max(0.001, result.duration)) * 10) / 10;
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5), counted from the state field (3).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function measure(child: ChildProcess, port: number, bodies: readonly string[], seconds: number): Promise<LoadResult> {
  await load(port, bodies, warmupOf(seconds));
  const cpuBefore = cpuSeconds(child.pid as number);
  const { result, peakRssMb } = await withPeakRss(child.pid as number, () => load(port, bodies, seconds));
  const cpu = cpuSeconds(child.pid as number) - cpuBefore;
  return {
    cpuUsPerRequest: Math.round((cpu * 1e6) / Math.max(1, result.requests.total)),
    requestsPerSec: requestRate(result),
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

interface SoakResult {
  readonly durationS: number;
  readonly warmupS: number;
  readonly requestsPerSec: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly peakRssMb: number;
  /** Median RSS over the 30 s after warm-up, and over the last 30 s. */
  readonly afterWarmupRssMb: number;
  readonly endRssMb: number;
  /** endRssMb / afterWarmupRssMb - 1. */
  readonly growth: number;
}

/** A rate as the tables print it: whole numbers from 100 up, one decimal below. */
const rate = (r: number): string => (r >= 100 ? String(Math.round(r)) : r.toFixed(1));

const medianOf = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : 0;
};

/** The load tables, the stage breakdown and the soak, as Markdown for docs/performance.md. */
function markdown(r: {
  readonly date: string;
  readonly records: string;
  readonly sizes: readonly SizeResult[];
  readonly stages: readonly StageBreakdown[];
  readonly soak?: SoakResult;
}): string {
  const lines = [
    `Run of ${r.date.slice(0, 16).replace('T', ' ')} UTC: ${cpus().length} cores, Node ${process.version}, load average ${loadAtStart.toFixed(1)} at start (other processes share these cores), decision records ${r.records}, ${CONNECTIONS} connections, ${SIZES.map((s) => `${s.seconds} s`).join(', ')} per run by size after a warm-up of ${SIZES.map((s) => `${warmupOf(s.seconds)} s`).join(', ')}, distinct patients in rotation.`,
    '',
    '| record | resources | MB | service req/s | p50 ms | p99 ms | peak RSS MB | CPU µs/req | floor req/s | floor p99 ms | floor CPU µs/req | ratio (req/s) | ratio (CPU) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...r.sizes.map(
      (s) =>
        `| ${s.name} | ${s.resources} | ${s.bodyMb.toFixed(2)} | ${rate(s.service.requestsPerSec)} | ${s.service.p50Ms} | ${s.service.p99Ms} | ${s.service.peakRssMb} | ${s.service.cpuUsPerRequest} | ${rate(s.floor.requestsPerSec)} | ${s.floor.p99Ms} | ${s.floor.cpuUsPerRequest} | ${s.ratio.toFixed(2)} | ${(s.floor.cpuUsPerRequest / Math.max(1, s.service.cpuUsPerRequest)).toFixed(2)} |`,
    ),
    '',
    '"ratio (CPU)" is the floor\'s server CPU per request over the service\'s: the throughput ratio the two would reach with a core each and nothing else running.',
    '',
    'CPU per stage of one order-sign, in process (`bench/stages.ts`, mean µs of this process\'s CPU, garbage collection included):',
    '',
    stageTable(r.stages),
  ];
  if (r.soak) {
    const k = r.soak;
    lines.push(
      '',
      `Soak: typical record, ${k.durationS} s at full load: ${k.requestsPerSec} req/s, p99 ${k.p99Ms} ms, ${k.non2xx} non-2xx; RSS peak ${k.peakRssMb} MB, ${k.afterWarmupRssMb} MB after the ${k.warmupS} s warm-up, ${k.endRssMb} MB at the end: growth ${(k.growth * 100).toFixed(1)} %.`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const started = Date.now();
  build();
  const files = SIZES.map((s) => ({ ...s, body: readFileSync(writeRecord(s.resources), 'utf8') }));
  // One load generator is one client: no rate limit. Records go to a fresh store each run.
  // The bench saturates the service on purpose: no load shedding on event-loop delay (a 9 MB record on a
  // busy machine holds the loop past 500 ms and would be answered 503; shedding has its own tests).
  const env: Record<string, string> = { RATE_LIMIT_PER_MINUTE: '0', MAX_EVENT_LOOP_DELAY_MS: '0', RECORD_DATA_DIR: mkdtempSync(join(tmpdir(), 'bench-records-')) };
  if (POSTGRES) env.DATABASE_URL = await freshDatabase();
  const service = start('service', ['dist/src/server.js'], 3901, env);
  const floor = start('floor', ['--import', 'tsx', 'bench/floor.ts'], 3902, { BODY_LIMIT });
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
      const s = await measure(service, 3901, bodies, f.seconds);
      const fl = await measure(floor, 3902, bodies, f.seconds);
      if (s.errors || s.non2xx) throw new Error(`${f.name}: the service answered ${s.non2xx} non-2xx and ${s.errors} errors`);
      if (fl.errors || fl.non2xx) throw new Error(`${f.name}: the floor answered ${fl.non2xx} non-2xx and ${fl.errors} errors`);
      const r: SizeResult = { name: f.name, resources: f.resources, bodyMb: Buffer.byteLength(f.body) / 1e6, seconds: f.seconds, service: s, floor: fl, ratio: s.requestsPerSec / fl.requestsPerSec };
      sizes.push(r);
      console.log(`${f.name}: service ${s.requestsPerSec} req/s p99 ${s.p99Ms} ms ${s.cpuUsPerRequest} µs CPU/req, floor ${fl.requestsPerSec} req/s ${fl.cpuUsPerRequest} µs CPU/req`);
    }
    let soak: SoakResult | undefined;
    if (SOAK_S > 0) {
      const bodies = patientsOf(files[0].body);
      const { result, peakRssMb, samples } = await withPeakRss(service.pid as number, () => load(3901, bodies, SOAK_S));
      // Samples every 50 ms: the 30 s after warm-up against the last 30 s.
      const perS = samples.length / SOAK_S;
      const window = Math.max(1, Math.round(30 * perS));
      const from = Math.round(SOAK_WARMUP_S * perS);
      const afterWarmupRssMb = Math.round(medianOf(samples.slice(from, from + window)));
      const endRssMb = Math.round(medianOf(samples.slice(-window)));
      soak = {
        durationS: SOAK_S,
        warmupS: SOAK_WARMUP_S,
        requestsPerSec: requestRate(result),
        p99Ms: result.latency.p99,
        non2xx: result.non2xx,
        peakRssMb,
        afterWarmupRssMb,
        endRssMb,
        growth: endRssMb / Math.max(1, afterWarmupRssMb) - 1,
      };
      console.log(`soak: ${soak.requestsPerSec} req/s for ${SOAK_S} s, RSS ${afterWarmupRssMb} MB after warm-up, ${endRssMb} MB at the end (${(soak.growth * 100).toFixed(1)} %), peak ${peakRssMb} MB`);
    }
    stop();
    const stages = await stageBreakdown(SIZES.map((s) => s.resources), POSTGRES ? { databaseUrl: await freshDatabase() } : {});
    const date = new Date().toISOString();
    const records = POSTGRES ? 'in PostgreSQL (local SQLite outbox first)' : 'embedded (SQLite)';
    const results = {
      date,
      node: process.version,
      cores: cpus().length,
      loadAverageAtStart: loadAtStart,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      records,
      connections: CONNECTIONS,
      durationS: DURATION_S,
      sizes,
      stages,
      ...(soak ? { soak } : {}),
      wallSeconds: Math.round((Date.now() - started) / 1000),
    };
    mkdirSync(join(BENCH_DIR, 'results'), { recursive: true });
    const name = POSTGRES ? 'latest-postgres' : 'latest';
    writeFileSync(join(BENCH_DIR, 'results', `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
    const md = markdown({ date, records, sizes, stages, soak });
    writeFileSync(join(BENCH_DIR, 'results', `${name}.md`), md);
    if (!POSTGRES) {
      const points = sizes.map((s) => ({ resources: s.resources, serviceRps: s.service.requestsPerSec, floorRps: s.floor.requestsPerSec, serviceP99Ms: s.service.p99Ms, floorP99Ms: s.floor.p99Ms }));
      writeFileSync(join(ROOT, 'docs', 'performance-chart.svg'), chartSvg(points, `npm run bench, ${date.slice(0, 10)}: ${cpus().length} cores, load average ${loadAtStart.toFixed(1)} at start, ${CONNECTIONS} connections, records ${records}`));
    }
    console.log(`\n${md}\nwrote bench/results/${name}.json and .md${POSTGRES ? '' : ', docs/performance-chart.svg'} (${results.wallSeconds} s)`);
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
