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
  readonly redisUrl?: string;
  readonly adminToken?: string;
  /** FHIR terminology server for optional value set membership checks (`$validate-code`); local expansions when absent or down. */
  readonly terminologyServerUrl?: string;
  readonly terminologyTimeoutMs: number;
  /** DTR version answered when the client does not ask for one (`$questionnaire-package`). */
  readonly dtrVersion: DtrVersion;
  /** SMART launch URL of the DTR app a documentation card links to; no link when unset. */
  readonly dtrAppUrl?: string;
}

/** Da Vinci DTR versions whose `$questionnaire-package` shape this service answers in. */
export const DTR_VERSIONS = ['2.0.1', '2.2.0'] as const;
export type DtrVersion = (typeof DTR_VERSIONS)[number];

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

function list(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = int(env, 'PORT', 3000);
  const auth = env.CDS_AUTH ?? 'off';
  if (auth !== 'required' && auth !== 'off') throw new Error(`CDS_AUTH must be "required" or "off", got "${auth}"`);
  const dtrVersion = DTR_VERSIONS.find((v) => v === (env.DTR_VERSION ?? '2.2.0'));
  if (!dtrVersion) throw new Error(`DTR_VERSION must be one of ${DTR_VERSIONS.join(', ')}, got "${env.DTR_VERSION}"`);
  return {
    port,
    host: env.HOST ?? '0.0.0.0',
    publicBaseUrl: (env.PUBLIC_BASE_URL ?? `http://localhost:${port}`).replace(/\/+$/, ''),
    bodyLimit: env.BODY_LIMIT ?? '5mb',
    logLevel: env.LOG_LEVEL ?? 'info',
    policyDir: env.POLICY_DIR || undefined,
    routingFile: env.ROUTING_FILE || undefined,
    auth,
    trustedClientsFile: env.CDS_TRUSTED_CLIENTS || undefined,
    fhirServerAllowlist: list(env.FHIR_SERVER_ALLOWLIST),
    fhirTimeoutMs: int(env, 'FHIR_TIMEOUT_MS', 1500),
    requestDeadlineMs: int(env, 'REQUEST_DEADLINE_MS', 3000),
    maxFhirPages: int(env, 'FHIR_MAX_PAGES', 20),
    maxResources: int(env, 'MAX_RESOURCES', 20000),
    maxStringLength: int(env, 'MAX_STRING_LENGTH', 64 * 1024),
    maxJsonDepth: int(env, 'MAX_JSON_DEPTH', 64),
    maxBundleDepth: int(env, 'MAX_BUNDLE_DEPTH', 3),
    maxDraftOrders: int(env, 'MAX_DRAFT_ORDERS', 50),
    maxFhirResponseBytes: int(env, 'FHIR_MAX_RESPONSE_BYTES', 16 * 1024 * 1024),
    evaluationBudgetMs: int(env, 'EVALUATION_BUDGET_MS', 1500),
    decisionCacheTtlSeconds: int(env, 'DECISION_CACHE_TTL_SECONDS', 600),
    decisionCacheMaxKeys: int(env, 'DECISION_CACHE_MAX_KEYS', 5000),
    rateLimitPerMinute: int(env, 'RATE_LIMIT_PER_MINUTE', 1200),
    databaseUrl: env.DATABASE_URL || undefined,
    recordDataDir: env.RECORD_DATA_DIR ?? '.data/records',
    recordRetentionDays: int(env, 'RECORD_RETENTION_DAYS', 3650),
    redisUrl: env.REDIS_URL || undefined,
    adminToken: env.ADMIN_TOKEN || undefined,
    terminologyServerUrl: env.TERMINOLOGY_SERVER_URL || undefined,
    terminologyTimeoutMs: int(env, 'TERMINOLOGY_TIMEOUT_MS', 800),
    dtrVersion,
    dtrAppUrl: env.DTR_APP_URL || undefined,
  };
}

/** Defaults for tests: no network listeners, in-memory stores, quiet logs. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    ...loadConfig({ LOG_LEVEL: 'silent', PUBLIC_BASE_URL: 'http://127.0.0.1:3000', RECORD_DATA_DIR: 'memory://' }),
    ...overrides,
  };
}
