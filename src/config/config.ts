import { MAX_JSON_DEPTH_CEILING } from '../hooks/limits.js';

/**
 * Typed configuration from environment variables, with documented defaults (README "Configuration").
 * Tests build a Config directly with `testConfig()`.
 */
export interface Config {
  readonly port: number;
  readonly host: string;
  /** The service's own base URL as clients call it: the expected JWT `aud` and links on cards. */
  readonly publicBaseUrl: string;
  readonly bodyLimit: string;
  readonly logLevel: string;
  /** Folder holding valuesets/ (FHIR ValueSets), facts.json, routing.json and the policy folders. */
  readonly policyDir?: string;
  /** A deployment's own routing file (defaults to `<policyDir>/routing.json`). */
  readonly routingFile?: string;
  readonly auth: 'required' | 'off';
  readonly trustedClientsFile?: string;
  /** FHIR server bases usable when authentication is off. */
  readonly fhirServerAllowlist: readonly string[];
  /** Per FHIR call, and for the whole request. */
  readonly fhirTimeoutMs: number;
  readonly requestDeadlineMs: number;
  readonly maxFhirPages: number;
  /** The most resources one request may carry (prefetch + draftOrders) or the record may hold after fetching. */
  readonly maxResources: number;
  /** Request limits (answered 422 with an OperationOutcome): see README "Security". */
  readonly maxStringLength: number;
  readonly maxJsonDepth: number;
  readonly maxBundleDepth: number;
  readonly maxDraftOrders: number;
  /** Largest FHIR server response read, in bytes; a larger one is a problem card, not a crash. */
  readonly maxFhirResponseBytes: number;
  /** Time for routing, facts and criteria once the record is loaded; past it the order gets a "could not be completed" card. */
  readonly evaluationBudgetMs: number;
  readonly decisionCacheTtlSeconds: number;
  readonly decisionCacheMaxKeys: number;
  readonly rateLimitPerMinute: number;
  readonly databaseUrl?: string;
  readonly recordDataDir: string;
  readonly recordRetentionDays: number;
  /** SIGTERM: longest the service waits for requests in flight and for the outbox to drain before exiting. */
  readonly shutdownTimeoutMs: number;
  /** Records waiting in the local outbox for PostgreSQL at or above which the service is not ready. */
  readonly recordOutboxReadyMax: number;
  readonly redisUrl?: string;
  readonly adminToken?: string;
  /** FHIR terminology server for optional value set membership checks (`$validate-code`); local expansions when absent or down. */
  readonly terminologyServerUrl?: string;
  readonly terminologyTimeoutMs: number;
  /** ORDER_SIGN_CARDS: `changed` (default) shows an order's cards at order-sign only if its decision changed since order-select; `all` always. */
  readonly orderSignCards: 'changed' | 'all';
  /** Authenticates decision-cache entries (HMAC); a per-process key when absent (README "Configuration"). */
  readonly decisionCacheKey?: string;
  /** When set, `GET /metrics` requires `Authorization: Bearer <metricsToken>`. */
  readonly metricsToken?: string;
  /** Serve the playground (default: on with authentication off, off with it on). */
  readonly playground: boolean;
  /** Failed client authentications a minute per address before the rest are refused unverified (429); 0 turns it off. */
  readonly authFailuresPerMinute: number;
  /** Failed operator-token checks a minute per address before the rest are refused (429). */
  readonly adminFailuresPerMinute: number;
  /** Load shedding: hook calls in progress, and event-loop delay (ms), above which new calls get 503 with Retry-After; 0 turns each off. */
  readonly maxInFlight: number;
  readonly maxEventLoopDelayMs: number;
  /** Fetching a client's JWKS (jwks_uri or an allow-listed jku): the whole fetch is abandoned after this. */
  readonly jwksTimeoutMs: number;
  /** All FHIR replies of one request together, decompressed: past it the rest are not read. */
  readonly maxFhirRecordBytes: number;
  /** FHIR calls one hook request may make (every search and page together). */
  readonly maxFhirCalls: number;
  /** DTR version answered when the client does not ask for one (`$questionnaire-package`). */
  readonly dtrVersion: DtrVersion;
  /** SMART launch URL of the DTR app a documentation card links to; no link when unset. */
  readonly dtrAppUrl?: string;
}

/** A configuration value that stops the service at start-up; its message is one line for the operator. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Operator secrets are long enough that guessing them is hopeless, even unthrottled. */
export const MIN_SECRET_LENGTH = 32;

function secret(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (v.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`${name} must be at least ${MIN_SECRET_LENGTH} characters (got ${v.length}); e.g. openssl rand -hex 32`);
  }
  return v;
}

function onOff(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  if (v === 'on') return true;
  if (v === 'off') return false;
  throw new ConfigError(`${name} must be "on" or "off", got "${v}"`);
}

/** Da Vinci DTR versions whose `$questionnaire-package` shape this service answers in. */
export const DTR_VERSIONS = ['2.0.1', '2.2.0'] as const;
export type DtrVersion = (typeof DTR_VERSIONS)[number];

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

function atMost(n: number, ceiling: number, name: string): number {
  if (n > ceiling) throw new ConfigError(`${name} must be at most ${ceiling}, got ${n}`);
  return n;
}

function list(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Average bytes per resource the default body limit allows for: Synthea resources run about
 * 0.8-1 KB (claims and explanations of benefit a few KB), so 2 KiB admits a whole MAX_RESOURCES record.
 */
export const BODY_BYTES_PER_RESOURCE = 2048;

/** The body limit that admits `maxResources` resources: MAX_RESOURCES x 2 KiB, in whole MB. */
export function defaultBodyLimit(maxResources: number): string {
  return `${Math.max(1, Math.ceil((maxResources * BODY_BYTES_PER_RESOURCE) / (1024 * 1024)))}mb`;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = int(env, 'PORT', 3000);
  const maxResources = int(env, 'MAX_RESOURCES', 20000);
  const auth = env.CDS_AUTH ?? 'off';
  if (auth !== 'required' && auth !== 'off') throw new ConfigError(`CDS_AUTH must be "required" or "off", got "${auth}"`);
  const redisUrl = env.REDIS_URL || undefined;
  const decisionCacheKey = secret(env, 'DECISION_CACHE_KEY');
  const decisionCacheTtlSeconds = int(env, 'DECISION_CACHE_TTL_SECONDS', 600);
  if (redisUrl && decisionCacheTtlSeconds > 0 && !decisionCacheKey) {
    // Instances sharing Redis must share the key that authenticates its entries (else every entry is a miss elsewhere).
    throw new ConfigError('REDIS_URL is set: DECISION_CACHE_KEY (the same secret on every instance, at least 32 characters) is required, or DECISION_CACHE_TTL_SECONDS=0');
  }
  const orderSignCards = env.ORDER_SIGN_CARDS || 'changed';
  if (orderSignCards !== 'changed' && orderSignCards !== 'all') throw new ConfigError(`ORDER_SIGN_CARDS must be "changed" or "all", got "${orderSignCards}"`);
  const dtrVersion = DTR_VERSIONS.find((v) => v === (env.DTR_VERSION ?? '2.2.0'));
  if (!dtrVersion) throw new ConfigError(`DTR_VERSION must be one of ${DTR_VERSIONS.join(', ')}, got "${env.DTR_VERSION}"`);
  return {
    port,
    // Without authentication anyone who can reach the port can call the hooks: loopback unless told otherwise.
    host: env.HOST || (auth === 'off' ? '127.0.0.1' : '0.0.0.0'),
    publicBaseUrl: (env.PUBLIC_BASE_URL ?? `http://localhost:${port}`).replace(/\/+$/, ''),
    bodyLimit: env.BODY_LIMIT || defaultBodyLimit(maxResources),
    logLevel: env.LOG_LEVEL ?? 'info',
    policyDir: env.POLICY_DIR || undefined,
    routingFile: env.ROUTING_FILE || undefined,
    auth,
    trustedClientsFile: env.CDS_TRUSTED_CLIENTS || undefined,
    fhirServerAllowlist: list(env.FHIR_SERVER_ALLOWLIST),
    fhirTimeoutMs: int(env, 'FHIR_TIMEOUT_MS', 1500),
    requestDeadlineMs: int(env, 'REQUEST_DEADLINE_MS', 3000),
    maxFhirPages: int(env, 'FHIR_MAX_PAGES', 20),
    maxResources,
    maxStringLength: int(env, 'MAX_STRING_LENGTH', 64 * 1024),
    maxJsonDepth: atMost(int(env, 'MAX_JSON_DEPTH', 64), MAX_JSON_DEPTH_CEILING, 'MAX_JSON_DEPTH'),
    maxBundleDepth: int(env, 'MAX_BUNDLE_DEPTH', 3),
    maxDraftOrders: int(env, 'MAX_DRAFT_ORDERS', 50),
    maxFhirResponseBytes: int(env, 'FHIR_MAX_RESPONSE_BYTES', 16 * 1024 * 1024),
    evaluationBudgetMs: int(env, 'EVALUATION_BUDGET_MS', 1500),
    decisionCacheTtlSeconds,
    decisionCacheMaxKeys: int(env, 'DECISION_CACHE_MAX_KEYS', 5000),
    rateLimitPerMinute: int(env, 'RATE_LIMIT_PER_MINUTE', 1200),
    databaseUrl: env.DATABASE_URL || undefined,
    recordDataDir: env.RECORD_DATA_DIR ?? '.data/records',
    recordRetentionDays: int(env, 'RECORD_RETENTION_DAYS', 3650),
    recordOutboxReadyMax: int(env, 'RECORD_OUTBOX_READY_MAX', 10000),
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', 10000),
    terminologyServerUrl: env.TERMINOLOGY_SERVER_URL || undefined,
    terminologyTimeoutMs: int(env, 'TERMINOLOGY_TIMEOUT_MS', 800),
    orderSignCards,
    redisUrl,
    adminToken: secret(env, 'ADMIN_TOKEN'),
    decisionCacheKey,
    metricsToken: secret(env, 'METRICS_TOKEN'),
    playground: onOff(env, 'PLAYGROUND', auth === 'off'),
    authFailuresPerMinute: int(env, 'AUTH_FAILURES_PER_MINUTE', 60),
    adminFailuresPerMinute: int(env, 'ADMIN_FAILURES_PER_MINUTE', 10),
    maxInFlight: int(env, 'MAX_IN_FLIGHT', 64),
    maxEventLoopDelayMs: int(env, 'MAX_EVENT_LOOP_DELAY_MS', 500),
    jwksTimeoutMs: int(env, 'JWKS_TIMEOUT_MS', 1500),
    maxFhirRecordBytes: int(env, 'FHIR_MAX_RECORD_BYTES', 16 * 1024 * 1024),
    maxFhirCalls: int(env, 'FHIR_MAX_CALLS', 60),
    dtrVersion,
    dtrAppUrl: env.DTR_APP_URL || undefined,
  };
}

/**
 * Defaults for tests: no network listeners, in-memory stores, quiet logs. No load shedding (a busy
 * test machine must not turn into 503s) and no throttle on failed authentication (tests send many
 * bad tokens from one address); the tests of each turn it on.
 */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    ...loadConfig({ LOG_LEVEL: 'silent', PUBLIC_BASE_URL: 'http://127.0.0.1:3000', RECORD_DATA_DIR: 'memory://', MAX_IN_FLIGHT: '0', MAX_EVENT_LOOP_DELAY_MS: '0', AUTH_FAILURES_PER_MINUTE: '0' }),
    ...overrides,
  };
}
