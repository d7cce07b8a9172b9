import cors from 'cors';
import express from 'express';
import helmet from 'helmet';
import type { Config } from '../config/config.js';
import { notFound } from '../hooks/errors.js';
import { hookContextFromConfig } from '../pipeline/context.js';
import { MemoryFeedbackSink, type FeedbackSink, type HookObserver } from '../pipeline/events.js';
import { loadLibrary, type PolicyLibrary } from '../library/library.js';
import { createLogger, type Logger } from '../log.js';
import { questionnaireRoutes } from '../questionnaire/routes.js';
import { shownDecisionsIn, type ShownDecisions } from '../decision/shownDecisions.js';
import {
  createDecisionCache,
  observedDecisionCache,
  PROCESS_DECISION_CACHE_KEY,
  sealedDecisionCache,
  type DecisionCache,
} from '../decision/decisionCache.js';
import { playgroundRouter } from '../playground/playgroundRouter.js';
import { pasRoutes } from './pasRoutes.js';
import { priorAuthReportRoutes } from './priorAuthReportRoutes.js';
import { MemoryPriorAuthStore, type PriorAuthStore } from '../pas/store.js';
import { KnownAnswerStore } from '../dtr/knownAnswers.js';
import { dtrRoutes } from '../dtr/routes.js';
import { MemorySharedCache, type SharedCache } from '../kv/kv.js';
import { coverageAssertionRoutes } from '../records/routes.js';
import { clientRateLimit } from '../security/setup.js';
import { failureLimit, requireBearer } from '../security/throttle.js';
import { loadShedding } from '../security/loadShedding.js';
import type { DecisionRecordStore } from '../store/types.js';
import type { DecisionRecorder } from '../records/eventRecorder.js';
import type { ReadinessCheck } from '../store/types.js';
import { createMetrics, type ServiceMetrics } from './metrics.js';
import { jsonBody, rejectionLog, requestId, requireJson, withinLimits } from './edge.js';
import { errorHandler } from './errorHandler.js';
import {
  discoveryHandler,
  feedbackHandler,
  findingCodeSystemHandler,
  hookHandler,
  keepRecord,
  livenessHandler,
  metricsHandler,
  notifier,
  readinessHandler,
} from './handlers.js';

export interface AppDeps {
  readonly library?: PolicyLibrary;
  readonly logger?: Logger;
  readonly feedback?: FeedbackSink;
  /** Guards hook and feedback calls (client JWT); absent means authentication is off. */
  readonly clientAuth?: express.RequestHandler;
  readonly now?: () => Date;
  readonly observers?: readonly HookObserver[];
  /** Prometheus metrics for `GET /metrics`; a fresh registry per app when absent. */
  readonly metrics?: ServiceMetrics;
  /** Dependencies `/health` waits on (stores, caches) besides the policies. */
  readonly readiness?: readonly ReadinessCheck[];
  /** Decision records, read by the operator API (`/coverage-assertions`). */
  readonly records?: DecisionRecordStore;
  /** Keeps each decision's record before its answer is sent (a 503 instead of a 200 it cannot keep). */
  readonly recorder?: DecisionRecorder;
  /** PAS submissions, for `$inquire` and the CMS-0057-F report: the decision records (default: in memory, for tests). */
  readonly priorAuth?: PriorAuthStore;
  /** Decisions order-select computed, for order-sign (default: in memory, bounded by config). */
  readonly decisionCache?: DecisionCache;
  /** What order-select showed per draft order (default: in this process; server.ts shares it through Redis when configured). */
  readonly shownDecisions?: ShownDecisions;
  /** Findings each documentation-missing decision already read, for the DTR draft response (default: in memory). */
  readonly dtrAnswers?: SharedCache;
}

export interface App {
  readonly app: express.Express;
  readonly library: PolicyLibrary;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
}

/** The Express app, built from a typed configuration so tests drive it without a port. */
export function createApp(config: Config, deps: AppDeps = {}): App {
  const library = deps.library ?? loadLibrary(config.policyDir, config.routingFile);
  const logger = deps.logger ?? createLogger(config.logLevel);
  const metrics = deps.metrics ?? createMetrics();
  const now = (): Date => deps.now?.() ?? new Date();
  const knownAnswers = new KnownAnswerStore(deps.dtrAnswers ?? new MemorySharedCache({ maxKeys: 10_000 }));
  const notify = notifier(
    [metrics.observer, knownAnswers.observer(library.facts, (err) => logger.warn({ err: err.message }, 'DTR known answers not kept')), ...(deps.observers ?? [])],
    logger,
  );

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  // X-Powered-By is off in Express itself (above): helmet need not remove it on every call.
  app.use(helmet({ contentSecurityPolicy: false, crossOriginResourcePolicy: { policy: 'cross-origin' }, xPoweredBy: false }));
  app.use(requestId);
  // Browser-based clients (the CDS Hooks sandbox) call with CORS; no credentials are sent, so `*` is safe.
  app.use(cors({ origin: '*', methods: ['GET', 'POST', 'OPTIONS'], allowedHeaders: ['authorization', 'content-type', 'x-request-id'], exposedHeaders: ['x-request-id'], maxAge: 600 }));
  app.use(rejectionLog(logger));

  // Before authentication: refusing is cheaper than verifying a signature (or logging why it failed).
  const shed = loadShedding({ maxInFlight: config.maxInFlight, maxEventLoopDelayMs: config.maxEventLoopDelayMs, onShed: (reason) => metrics.shed(reason) });
  const auth = deps.clientAuth ? [failureLimit({ perMinute: config.authFailuresPerMinute, what: 'client authentication' }), deps.clientAuth] : [];
  /** What every client call passes before its handler: shedding, authentication, rate limit, a JSON body within limits. */
  const clientCall = [shed, ...auth, clientRateLimit(config.rateLimitPerMinute), requireJson, jsonBody(config), withinLimits(config)];

  const shownStore = deps.shownDecisions ? undefined : createDecisionCache(config);
  const context = hookContextFromConfig(config, library, {
    decisionCache: withCacheMetrics(deps.decisionCache ?? createDecisionCache(config), config.decisionCacheKey, metrics),
    shownDecisions: deps.shownDecisions ?? (shownStore ? shownDecisionsIn(shownStore) : undefined),
    orderSignCards: config.orderSignCards,
    now: deps.now,
    // An entry of another shape (edited, or an older release's) is a miss: said once per read, never its content.
    onUnusableCacheEntry: (why) => logger.warn({ why }, 'decision cache entry unusable: decided again'),
  });
  // The hook calls first, as one route each: the router tries every earlier layer on every call, and no
  // route below answers a POST to these paths. The status middleware first, so refusals are counted too.
  app.post('/cds-services/:id', metrics.hookStatusMiddleware, ...clientCall, hookHandler({ context, fhirServerAllowlist: config.fhirServerAllowlist, recorder: deps.recorder, logger, notify, now }));
  app.post('/cds-services/:id/feedback', ...clientCall, feedbackHandler({ feedback: deps.feedback ?? new MemoryFeedbackSink(), recorder: deps.recorder, logger, notify, now }));

  const ready = readinessHandler(library, deps.readiness);
  app.get('/health/live', livenessHandler);
  app.get('/health/ready', ready);
  // `/health` is readiness (what the Dockerfile and docker-compose check).
  app.get('/health', ready);
  const metricsGuard = config.metricsToken
    ? [failureLimit({ perMinute: config.adminFailuresPerMinute, what: 'metrics token' }), requireBearer(config.metricsToken, 'metrics token required')]
    : [];
  app.get('/metrics', ...metricsGuard, metricsHandler(metrics));
  app.get('/cds-services', discoveryHandler);
  app.get('/fhir/CodeSystem/documentation-finding', findingCodeSystemHandler(library));
  app.use(questionnaireRoutes(library, config.publicBaseUrl));
  app.use(dtrRoutes({ library, config, records: deps.records, known: knownAnswers, logger, now }));

  if (deps.records) {
    app.use('/coverage-assertions', coverageAssertionRoutes(deps.records, { adminToken: config.adminToken, failuresPerMinute: config.adminFailuresPerMinute }));
  }
  const priorAuth = deps.priorAuth ?? new MemoryPriorAuthStore();
  app.use('/fhir/Claim', clientCall);
  app.use(
    pasRoutes({
      library,
      store: priorAuth,
      questionnaireUrl: context.questionnaireUrl,
      now: deps.now,
      onStoreError: (err) => logger.error({ err: err instanceof Error ? err.message : String(err) }, 'prior-authorization record could not be kept: answering 503'),
      onSubmission: (r) => notify((o) => o.onPriorAuth?.(r)),
    }),
  );
  app.use('/prior-authorization-report', priorAuthReportRoutes(priorAuth, { adminToken: config.adminToken, failuresPerMinute: config.adminFailuresPerMinute }, deps.now));
  // A test EHR page for people trying the service (static files and the fixtures; README "Playground").
  // Off by default with authentication on: it lists the fixtures and calls without a JWT.
  if (config.playground) app.use('/playground', playgroundRouter());

  app.use((req, _res, next) => next(notFound(`No route ${req.method} ${req.path}`)));
  app.use(errorHandler(config.bodyLimit, logger));
  return { app, library, logger, metrics };
}

/** Every decision cache is sealed (HMAC) and counted, whichever store holds it. */
function withCacheMetrics(cache: DecisionCache | undefined, key: string | undefined, metrics: ServiceMetrics): DecisionCache | undefined {
  if (!cache) return undefined;
  const sealed = sealedDecisionCache(cache, key ?? PROCESS_DECISION_CACHE_KEY, () => metrics.cacheRejected());
  return observedDecisionCache(sealed, (hit) => (hit ? metrics.cacheHit() : metrics.cacheMiss()));
}
