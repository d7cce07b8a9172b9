/**
 * `npx lumbar-mri-cds <command>`: the integration kit.
 *   evaluate <paths...>    decisions for FHIR bundles or hook requests, as a table or JSON
 *   request <bundle>       the order-sign request to send to a CDS service with curl
 *   serve-fhir <paths...>  the bundles as a FHIR R4 server on loopback
 *   upload <paths...>      fixture files into a FHIR server (HAPI), as transaction Bundles
 *   pa-report              the CMS-0057-F prior authorization report of a running service
 *   token                  a signed CDS client JWT from a private JWK (local testing)
 * Exit codes: 0 every input read; 1 an input could not be read; 2 wrong usage.
 */
import { once } from 'node:events';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { SingleBar } from 'cli-progress';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { SignJWT, importJWK, type JWK } from 'jose';
import { LUMBAR_MRI_CPT } from '../decision/decideOrder.js';
import { loadLibrary, type PolicyLibrary } from '../library/library.js';
import { evaluateFiles, hookRequestWithOptions, inputFiles, parseDay, readUnit, unitOf } from './evaluate.js';
import { buildOrderSignRequest, isLumbarMriCpt, type LumbarMriCpt } from './hookRequest.js';
import { serveFhir, type Output } from './serveFhir.js';
import { formatSurvey, surveyCounts, surveyFiles, SURVEY_PAYERS, type SurveyPayer, type SurveyReport } from './survey.js';
import { formatReport } from './table.js';
import { uploadFixtures, type UploadReport } from './upload.js';

export interface CliIO extends Output {
  /** Whether stderr is a terminal (the progress bar is drawn only then). */
  readonly stderrIsTTY: boolean;
  readonly stderr: NodeJS.WritableStream;
}

const processIO: CliIO = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  stderrIsTTY: process.stderr.isTTY === true,
  stderr: process.stderr,
};

/** Folders with at least this many files get a progress bar. */
const PROGRESS_MIN_FILES = 20;

const EXIT = { ok: 0, unreadable: 1, usage: 2 } as const;

class UsageError extends Error {}

function dayArg(value: string): string {
  const day = parseDay(value);
  if (!day) throw new InvalidArgumentError('expected a calendar date YYYY-MM-DD');
  return day;
}

/** A day, or "today" (UTC). */
function dayOrTodayArg(value: string): string {
  return value === 'today' ? new Date().toISOString().slice(0, 10) : dayArg(value);
}

function cptArg(value: string): LumbarMriCpt {
  if (!isLumbarMriCpt(value)) throw new InvalidArgumentError(`expected one of ${LUMBAR_MRI_CPT.join(', ')}`);
  return value;
}

function portArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number (0 = any free port)');
  return n;
}

function payersArg(value: string): SurveyPayer[] {
  const payers = value.split(',').map((p) => p.trim());
  const known: readonly string[] = SURVEY_PAYERS;
  const wrong = payers.filter((p) => !known.includes(p));
  if (wrong.length > 0 || payers.length === 0) throw new InvalidArgumentError(`expected a comma-separated list of ${SURVEY_PAYERS.join(', ')}`);
  return [...new Set(payers)] as SurveyPayer[];
}

function pageSizeArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError('expected a whole number from 1 to 1000');
  return n;
}

/** The package's version: package.json two folders up from src/cli (tsx) or three from dist/src/cli (built). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
    if (pkg.name === 'lumbar-mri-cds' && typeof pkg.version === 'string') return pkg.version;
  }
  return 'unknown';
}

function urlArg(value: string): string {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
    return value.replace(/\/+$/, '');
  } catch {
    throw new InvalidArgumentError('expected an http(s) URL');
  }
}

/**
 * Runs the CLI; resolves to the exit code. `serve-fhir` resolves once the server listens and
 * leaves it running (the process lives until SIGINT/SIGTERM).
 */
export async function main(argv: readonly string[], io: CliIO = processIO, library: () => PolicyLibrary = () => loadLibrary()): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command()
    .name('lumbar-mri-cds')
    .description('Lumbar spine MRI medical-necessity decisions (CDS Hooks): integration kit')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  program
    .command('evaluate')
    .description('Decide a draft lumbar MRI order for each patient in FHIR bundles (Synthea: collection, transaction, searchset) or CDS Hooks requests')
    .argument('<paths...>', 'files or folders (.json, .ndjson)')
    .option('--date <YYYY-MM-DD>', 'date of service of every order (default: the order\'s own date, else today)', dayArg)
    .option('--policy <policyId>', 'judge against this policy, whatever the coverage (routing bypassed)')
    .addOption(new Option('--order <cpt>', 'CPT of the order (default: draft orders in the data, else 72148)').argParser(cptArg))
    .option('--json', 'print JSON instead of tables')
    .action(async (paths: string[], opts: { date?: string; policy?: string; order?: LumbarMriCpt; json?: boolean }) => {
      const lib = library();
      if (opts.policy && !lib.policies.some((p) => p.policyId === opts.policy)) {
        throw new UsageError(`--policy: no policy "${opts.policy}"; known: ${[...new Set(lib.policies.map((p) => p.policyId))].join(', ')}`);
      }
      const listed = await inputFiles(paths);
      const bar = io.stderrIsTTY && listed.files.length >= PROGRESS_MIN_FILES ? new SingleBar({ stream: io.stderr, clearOnComplete: true, format: 'evaluating {bar} {value}/{total} files' }) : undefined;
      bar?.start(listed.files.length, 0);
      const report = await evaluateFiles(listed, lib, { date: opts.date, cpt: opts.order, policyId: opts.policy }, () => bar?.increment());
      bar?.stop();
      const errors = [...listed.errors, ...report.errors];
      if (opts.json) io.out(JSON.stringify({ results: report.rows, errors, skipped: report.skipped }, null, 2));
      else io.out(formatReport({ ...report, errors }));
      for (const e of errors) io.err(`unreadable: ${e.file}: ${e.reason}`);
      code = errors.length > 0 ? EXIT.unreadable : EXIT.ok;
    });

  program
    .command('survey')
    .description('Decide every patient of a data set (Synthea bundles, a bulk export) under each payer, as if a lumbar MRI were ordered, and count outcomes by deciding criterion')
    .argument('<paths...>', 'files or folders (.json, .ndjson)')
    .option('--payer <list>', `payers, comma-separated: kp (KP WA commercial, 2024-06-12), ma (Medicare Advantage, 2025-11-01), record (the record's own coverage)`, payersArg, ['kp', 'ma'] as SurveyPayer[])
    .option('--date <YYYY-MM-DD>', 'one date of service for every payer (default: each payer\'s own, above)', dayArg)
    .addOption(new Option('--order <cpt>', 'CPT of the order (default 72148)').argParser(cptArg))
    .option('--no-shift', 'read the record at its own dates (default: every date moved so the last encounter is the day before the date of service)')
    .option('--out <file.jsonl>', 'write one JSON line per patient and payer (the decision, its reason and what would change it)')
    .option('--json', 'print the counts as JSON instead of tables')
    .action(async (paths: string[], opts: { payer: SurveyPayer[]; date?: string; order?: LumbarMriCpt; shift: boolean; out?: string; json?: boolean }) => {
      const listed = await inputFiles(paths);
      const out = opts.out ? createWriteStream(opts.out) : undefined;
      if (out) {
        try {
          await once(out, 'open');
        } catch (err) {
          io.err(`unwritable: ${opts.out}: ${(err as Error).message}`);
          code = EXIT.unreadable;
          return;
        }
      }
      const options = { payers: opts.payer, date: opts.date, cpt: opts.order, shift: opts.shift };
      let report: SurveyReport;
      try {
        report = await surveyFiles(listed, library(), options, (row) => out?.write(`${JSON.stringify(row)}\n`));
      } finally {
        if (out) {
          out.end();
          await once(out, 'close');
        }
      }
      const errors = [...listed.errors, ...report.errors];
      if (opts.json) io.out(JSON.stringify({ patients: report.patients, counts: surveyCounts(report.rows), errors, skipped: report.skipped }, null, 2));
      else io.out(formatSurvey({ ...report, errors }, options));
      for (const e of errors) io.err(`unreadable: ${e.file}: ${e.reason}`);
      code = errors.length > 0 ? EXIT.unreadable : EXIT.ok;
    });

  program
    .command('request')
    .description('Print the CDS Hooks order-sign request for a patient in a bundle, to send with curl')
    .argument('<bundle>', 'a FHIR Bundle or resource file (.json), NDJSON, or a hook request')
    .addOption(new Option('--order <cpt>', 'CPT of the draft order (default: draft orders in the bundle, else 72148)').argParser(cptArg))
    .option('--date <YYYY-MM-DD>', 'date of service (the order\'s occurrenceDateTime)', dayArg)
    .option('--patient <id>', 'the patient, when the bundle holds several')
    .option('--fhir-server <url>', 'leave the prefetch out and name this FHIR base, so the service fetches the record', urlArg)
    .action(async (file: string, opts: { order?: LumbarMriCpt; date?: string; patient?: string; fhirServer?: string }) => {
      let read: Awaited<ReturnType<typeof readUnit>>;
      try {
        read = await readUnit(unitOf(file));
      } catch (err) {
        io.err(`unreadable: ${file}: ${(err as Error).message}`);
        code = EXIT.unreadable;
        return;
      }
      if ('request' in read) {
        // A hook request already (the repository's fixtures): printed back with the options applied.
        const given = read.request.context.patientId;
        if (opts.patient && opts.patient !== given) throw new UsageError(`--patient: ${file} is a hook request for patient "${String(given)}"`);
        let req: Record<string, unknown>;
        try {
          req = { ...hookRequestWithOptions(read.request, { cpt: opts.order, date: opts.date }) };
        } catch (err) {
          io.err(`unreadable: ${file}: ${(err as Error).message}`);
          code = EXIT.unreadable;
          return;
        }
        if (opts.fhirServer) {
          delete req.prefetch;
          req.fhirServer = opts.fhirServer;
        }
        io.out(JSON.stringify(req, null, 2));
        return;
      }
      const patients = read.patients;
      const chosen = opts.patient ? patients.filter((p) => p.patientId === opts.patient) : patients;
      if (chosen.length !== 1) {
        const ids = patients.map((p) => p.patientId).join(', ');
        throw new UsageError(opts.patient ? `--patient: no patient "${opts.patient}" in ${file} (patients: ${ids})` : `${file} holds ${patients.length} patients; choose one with --patient (${ids})`);
      }
      io.out(JSON.stringify(buildOrderSignRequest(chosen[0], { cpt: opts.order, date: opts.date, fhirServer: opts.fhirServer }), null, 2));
    });

  program
    .command('serve-fhir')
    .description('Serve bundles as an in-memory FHIR R4 REST server on loopback')
    .argument('[paths...]', 'folders or files to load (.json, .ndjson)')
    .option('-p, --port <port>', 'port (0 = any free port)', portArg, 8091)
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--base-path <path>', 'FHIR base path', '/fhir')
    .option('--page-size <n>', 'page size when _count is absent (1-1000)', pageSizeArg, 50)
    .option('--token <token>', 'require Authorization: Bearer <token>')
    .option('--ignore-unknown-params', 'ignore unknown search parameters instead of answering 400')
    .option('--as-of <YYYY-MM-DD|today>', 'serve each hook-request fixture as of this day: all its dates move so its order\'s date of service is this day (the CDS Hooks sandbox judges at today)', dayOrTodayArg)
    .action(async (paths: string[], opts: { port: number; host: string; basePath: string; pageSize: number; token?: string; ignoreUnknownParams?: boolean; asOf?: string }) => {
      const server = await serveFhir(paths, opts, io);
      if (!server) {
        code = EXIT.unreadable;
        return;
      }
      const stop = (): void => {
        server.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  program
    .command('upload')
    .description('Upload fixture files to a FHIR server (one transaction Bundle of PUTs per file, ids kept); files under a "scenarios" folder are skipped')
    .argument('<paths...>', 'files or folders (.json, .ndjson)')
    .requiredOption('--fhir-server <url>', 'FHIR base URL, e.g. http://localhost:8080/fhir', urlArg)
    .option('--wait <seconds>', 'wait this long for the server to answer /metadata', portArg, 0)
    .action(async (paths: string[], opts: { fhirServer: string; wait: number }) => {
      let report: UploadReport;
      try {
        report = await uploadFixtures(paths, { fhirServer: opts.fhirServer, waitMs: opts.wait * 1000, exclude: (f) => /(^|[\\/])scenarios[\\/]/.test(f) });
      } catch (err) {
        // The server never answered: nothing was uploaded.
        io.err(`error: cannot reach the FHIR server: ${(err as Error).message}`);
        code = EXIT.unreadable;
        return;
      }
      io.out(`${report.resources} resources from ${report.files} file(s) uploaded to ${opts.fhirServer}`);
      for (const e of report.errors) io.err(`unreadable: ${e.file}: ${e.reason}`);
      code = report.errors.length > 0 ? EXIT.unreadable : EXIT.ok;
    });

  program
    .command('pa-report')
    .description('Print the CMS-0057-F prior authorization report of a running service (GET /prior-authorization-report, operator token in ADMIN_TOKEN)')
    .requiredOption('--service <url>', 'the service base URL, e.g. http://localhost:3000', urlArg)
    .option('--from <YYYY-MM-DD>', 'requests first submitted on or after this day', dayArg)
    .option('--to <YYYY-MM-DD>', 'requests first submitted before this day', dayArg)
    .addOption(new Option('--granularity <period>', 'one row per').choices(['year', 'quarter', 'month']).default('year'))
    .option('--json', 'print JSON instead of CSV')
    .action(async (opts: { service: string; from?: string; to?: string; granularity: string; json?: boolean }) => {
      const token = process.env.ADMIN_TOKEN;
      if (!token) throw new UsageError('set ADMIN_TOKEN to the service\'s operator token');
      const q = new URLSearchParams({ granularity: opts.granularity, format: opts.json ? 'json' : 'csv', ...(opts.from ? { from: opts.from } : {}), ...(opts.to ? { to: opts.to } : {}) });
      const res = await fetch(`${opts.service}/prior-authorization-report?${q}`, { headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      if (!res.ok) {
        io.err(`error: ${res.status} from the service: ${text.slice(0, 300)}`);
        code = EXIT.unreadable;
        return;
      }
      io.out(text.trimEnd());
    });

  program
    .command('token')
    .description('Sign a CDS client JWT (5 minutes) with a private JWK, to call a service with CDS_AUTH=required (local testing only)')
    .requiredOption('--key <file>', 'private JWK (with kid and alg)')
    .requiredOption('--iss <iss>', 'issuer, as the service\'s trusted-clients file names it')
    .requiredOption('--aud <url>', 'the endpoint called, e.g. http://localhost:3000/cds-services/lumbar-mri-order-sign', urlArg)
    .action(async (opts: { key: string; iss: string; aud: string }) => {
      let jwk: JWK;
      try {
        jwk = JSON.parse(await readFile(opts.key, 'utf8')) as JWK;
      } catch (err) {
        io.err(`unreadable: ${opts.key}: ${(err as Error).message}`);
        code = EXIT.unreadable;
        return;
      }
      if (!jwk || typeof jwk !== 'object' || !jwk.kid || !jwk.alg || !jwk.d) throw new UsageError(`--key: ${opts.key} must be a private JWK with kid and alg`);
      const key = await importJWK(jwk, jwk.alg).catch((err: unknown) => {
        throw new UsageError(`--key: ${opts.key} is not a usable private JWK (${(err as Error).message})`);
      });
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: jwk.alg, typ: 'JWT', kid: jwk.kid })
        .setIssuer(opts.iss)
        .setSubject(opts.iss)
        .setAudience(opts.aud)
        .setIssuedAt()
        .setExpirationTime('5m')
        .setJti(randomBytes(32).toString('hex'))
        .sign(key);
      io.out(token);
    });

  try {
    await program.parseAsync(argv as string[], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof UsageError) {
      io.err(`error: ${err.message}`);
      return EXIT.usage;
    }
    throw err;
  }
  return code;
}
