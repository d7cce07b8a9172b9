import { randomUUID } from 'node:crypto';
import cors from 'cors';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { Config } from './config/config.js';
import { HttpError, notFound, outcome } from './hooks/errors.js';
import { hookContextFromConfig } from './pipeline/context.js';
import { runHook, type HookContext } from './pipeline/runHook.js';
import { hookLogLine } from './pipeline/hookLog.js';
import { MemoryFeedbackSink, type FeedbackEvent, type FeedbackSink, type HookEvent, type HookObserver } from './pipeline/events.js';
import { hookForService, serviceDefinitions } from './hooks/discovery.js';
import { parseFeedback, parseHookRequest } from './hooks/schema.js';
import type { HookRequest } from './hooks/types.js';
import { loadLibrary, type PolicyLibrary } from './library/library.js';
import { createLogger, type Logger } from './log.js';
import { documentationFindingCodeSystem } from './facts/documentationFindings.js';
import { questionnaireRoutes } from './questionnaire/routes.js';
import { shownDecisionsIn, type ShownDecisions } from './decision/shownDecisions.js';
import {
  createDecisionCache,
  observedDecisionCache,
  PROCESS_DECISION_CACHE_KEY,
  sealedDecisionCache,
  type DecisionCache,
} from './decision/decisionCache.js';
import { playgroundRouter } from './playground/playgroundRouter.js';
import { pasRoutes } from './pas/routes.js';
import { priorAuthReportRoutes } from './pas/reportRoutes.js';
import { MemoryPriorAuthStore, type PriorAuthStore } from './pas/store.js';
import { KnownAnswerStore } from './dtr/knownAnswers.js';
import { dtrRoutes } from './dtr/routes.js';
import { MemorySharedCache, type SharedCache } from './store/kv.js';
import { coverageAssertionRoutes } from './records/routes.js';
import { isFhirServerAllowed } from './security/middleware.js';
import { clientRateLimit } from './security/setup.js';
import { failureLimit, requireBearer } from './security/throttle.js';
import { loadShedding } from './security/loadShedding.js';
import { checkRequestLimits } from './hooks/limits.js';
import type { DecisionRecordStore } from './store/types.js';
import { healthReport, type ReadinessCheck } from './health.js';
import { createMetrics, type ServiceMetrics } from './metrics.js';
import type { AuthenticatedClient } from './security/clientAuth.js';
import type { DecisionRecorder } from './records/eventRecorder.js';

/** Why a request was refused, for its one log line: an issue code and the field at fault, never values. */
interface Rejection {
  readonly code?: string;
  readonly expression?: string;
}

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
  /** PAS submissions, for `$inquire` and the CMS-0057-F report (default: in memory). */
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
  const feedback = deps.feedback ?? new MemoryFeedbackSink();
  const metrics = deps.metrics ?? createMetrics();
  const knownAnswers = new KnownAnswerStore(deps.dtrAnswers ?? new MemorySharedCache({ maxKeys: 10_000 }));
  const observers = [
    metrics.observer,
    knownAnswers.observer(library.facts, (err) => logger.warn({ err: err.message }, 'DTR known answers not kept')),
    ...(deps.observers ?? []),
  ];
  const notify = (fn: (o: HookObserver) => void): void => {
    for (const o of observers) {
      try {
        fn(o);
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'hook observer failed');
      }
    }
  };
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(helmet({ contentSecurityPolicy: false, crossOriginResourcePolicy: { policy: 'cross-origin' } }));
  app.use((req, res, next) => {
    const given = req.get('x-request-id');
    const id = given && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
    res.locals.requestId = id;
    res.set('x-request-id', id);
    next();
  });
  // Browser-based clients (the CDS Hooks sandbox) call with CORS; no credentials are sent, so `*` is safe.
  app.use(
    cors({
      origin: '*',
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
      exposedHeaders: ['x-request-id'],
      maxAge: 600,
    }),
  );

  // The body as received, kept for the decision-cache key (src/hooks/rawMember.ts) while its request lives.
  const rawBodies = new WeakMap<object, Buffer>();
  const json = express.json({ limit: config.bodyLimit, type: ['application/json', 'application/*+json'], verify: (req, _res, buf) => void rawBodies.set(req, buf) });
  const requireJson = (req: Request, _res: Response, next: NextFunction): void => {
    if (!req.is(['application/json', 'application/*+json'])) {
      next(new HttpError(415, 'not-supported', 'Content-Type must be application/json'));
      return;
    }
    next();
  };
  // Before authentication: refusing is cheaper than verifying a signature (or logging why it failed).
  const shed = loadShedding({ maxInFlight: config.maxInFlight, maxEventLoopDelayMs: config.maxEventLoopDelayMs, onShed: (reason) => metrics.shed(reason) });
  const authFailures = deps.clientAuth ? failureLimit({ perMinute: config.authFailuresPerMinute, what: 'client authentication' }) : undefined;
  const clientAuth = deps.clientAuth;
  const guard: express.RequestHandler[] = [shed, ...(authFailures && clientAuth ? [authFailures, clientAuth] : [])];
  const limiter = clientRateLimit(config.rateLimitPerMinute);
  const withinLimits: express.RequestHandler = (req, _res, next) => {
    checkRequestLimits(req.body, config);
    next();
  };

  // One line per rejected request (4xx), ids and the field at fault only: an integrator sees why a
  // call failed without the log holding PHI (no body, no query string).
  app.use((req, res, next) => {
    res.on('finish', () => {
      if (res.statusCode < 400 || res.statusCode >= 500) return;
      const why: Rejection | undefined = res.locals.rejection;
      logger.warn({ reqId: res.locals.requestId, method: req.method, path: req.path, status: res.statusCode, ...why }, 'request rejected');
    });
    next();
  });

  // Liveness: the process answers. Readiness: policies loaded and every dependency check passes.
  app.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  const ready = async (_req: Request, res: Response): Promise<void> => {
    const report = await healthReport(library, deps.readiness);
    res.status(report.status === 'ok' ? 200 : 503).json(report);
  };
  app.get('/health/ready', ready);
  // `/health` is readiness (what the Dockerfile and docker-compose check).
  app.get('/health', ready);

  const metricsGuard: express.RequestHandler[] = config.metricsToken
    ? [failureLimit({ perMinute: config.adminFailuresPerMinute, what: 'metrics token' }), requireBearer(config.metricsToken, 'metrics token required')]
    : [];
  app.get('/metrics', ...metricsGuard, async (_req, res) => {
    const { contentType, body } = await metrics.render();
    res.type(contentType).send(body);
  });

  app.get('/cds-services', (_req, res) => {
    res.json({ services: serviceDefinitions() });
  });

  app.get('/fhir/CodeSystem/documentation-finding', (_req, res) => {
    res.type('application/fhir+json').json(documentationFindingCodeSystem(library.facts, library.findings));
  });
  app.use(questionnaireRoutes(library, config.publicBaseUrl));
  app.use(dtrRoutes({ library, config, records: deps.records, known: knownAnswers, logger, now: () => deps.now?.() ?? new Date() }));

  const shownStore = deps.shownDecisions ? undefined : createDecisionCache(config);
  /** Runs a record write; if the record cannot be kept, the call fails 503 (CRD: a decision answered is a decision recorded). */
  const keep = async (write: () => Promise<void> | undefined, res: Response): Promise<void> => {
    try {
      await write();
    } catch (err) {
      logger.error({ reqId: res.locals.requestId, err: err instanceof Error ? err.message : String(err) }, 'decision record could not be kept: answering 503');
      throw new HttpError(503, 'transient', 'The decision could not be recorded; try again');
    }
  };

  const hookContext: HookContext = hookContextFromConfig(config, library, {
    decisionCache: withCacheMetrics(deps.decisionCache ?? createDecisionCache(config), config.decisionCacheKey, metrics),
    shownDecisions: deps.shownDecisions ?? (shownStore ? shownDecisionsIn(shownStore) : undefined),
    orderSignCards: config.orderSignCards,
    now: deps.now,
  });

  app.post('/cds-services/:id', metrics.hookStatusMiddleware);
  app.post('/cds-services/:id', ...guard, limiter, requireJson, json, withinLimits, async (req, res, next) => {
    const started = performance.now();
    const receivedAt = deps.now?.() ?? new Date();
    const serviceId = String(req.params.id);
    try {
      const hook = hookForService(serviceId);
      if (!hook) throw notFound(`No CDS service "${serviceId}" (see GET /cds-services)`);
      const hookReq: HookRequest = parseHookRequest(req.body, hook);
      const client = res.locals.client as AuthenticatedClient | undefined;
      const allowed = client ? client.fhirServers : config.fhirServerAllowlist;
      const result = await runHook(hookReq, {
        ...hookContext,
        record: { ...hookContext.record, fhirServerAllowed: (url) => isFhirServerAllowed(url, allowed) },
        requestBody: rawBodies.get(req),
      });
      const durationMs = Math.round((performance.now() - started) * 100) / 100;
      const event: HookEvent = {
        requestId: String(res.locals.requestId),
        serviceId,
        hook,
        hookInstance: hookReq.hookInstance,
        patientId: hookReq.context.patientId,
        client,
        receivedAt,
        durationMs,
        outcome: result,
      };
      await keep(() => deps.recorder?.recordHook(event), res);
      res.json(result.response);
      notify((o) => o.onHook?.(event));
      if (result.orderErrors?.length) {
        logger.error({ reqId: res.locals.requestId, serviceId, hookInstance: hookReq.hookInstance, orderErrors: result.orderErrors }, 'order evaluation failed on unexpected data');
      }
      logger.info(hookLogLine(event), 'hook');
    } catch (err) {
      next(err);
    }
  });

  app.post('/cds-services/:id/feedback', ...guard, limiter, requireJson, json, withinLimits, async (req, res, next) => {
    try {
      const serviceId = String(req.params.id);
      if (!hookForService(serviceId)) throw notFound(`No CDS service "${serviceId}"`);
      const items = parseFeedback(req.body);
      const client = res.locals.client as AuthenticatedClient | undefined;
      await feedback.save(serviceId, items, client);
      const event: FeedbackEvent = { requestId: String(res.locals.requestId), serviceId, feedback: items, client, receivedAt: deps.now?.() ?? new Date() };
      await keep(() => deps.recorder?.recordFeedback(event), res);
      notify((o) => o.onFeedback?.(event));
      logger.info({ reqId: res.locals.requestId, serviceId, feedback: items.map((f) => ({ card: f.card, outcome: f.outcome })) }, 'feedback');
      res.json({ accepted: items.length });
    } catch (err) {
      next(err);
    }
  });

  if (deps.records) {
    app.use('/coverage-assertions', coverageAssertionRoutes(deps.records, { adminToken: config.adminToken, failuresPerMinute: config.adminFailuresPerMinute }));
  }
  const priorAuth = deps.priorAuth ?? new MemoryPriorAuthStore();
  app.use('/fhir/Claim', guard, limiter, requireJson, json, withinLimits);
  app.use(
    pasRoutes({
      library,
      store: priorAuth,
      questionnaireUrl: hookContext.questionnaireUrl,
      now: deps.now,
      onSubmission: async (r) => {
        try {
          await deps.recorder?.recordPriorAuth(r);
        } catch (err) {
          logger.error({ err: err instanceof Error ? err.message : String(err) }, 'prior-authorization record could not be kept: answering 503');
          throw new HttpError(503, 'transient', 'The decision could not be recorded; try again');
        }
        notify((o) => o.onPriorAuth?.(r));
      },
    }),
  );
  app.use('/prior-authorization-report', priorAuthReportRoutes(priorAuth, { adminToken: config.adminToken, failuresPerMinute: config.adminFailuresPerMinute }, deps.now));
  // A test EHR page for people trying the service (static files and the fixtures; README "Playground").
  // Off by default with authentication on: it lists the fixtures and calls without a JWT.
  if (config.playground) app.use('/playground', playgroundRouter());

  app.use((req, _res, next) => next(notFound(`No route ${req.method} ${req.path}`)));

  // One error handler at the edge: client errors as OperationOutcome with their 4xx; 500 only for the unforeseen.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    void _next;
    if (err instanceof HttpError) {
      res.locals.rejection = { code: err.code, expression: err.expression };
      res.status(err.status).json(err.toOperationOutcome());
      return;
    }
    const e = err as { type?: string; status?: number; statusCode?: number; message?: string };
    const status = e.status ?? e.statusCode;
    res.locals.rejection = { code: e.type ?? 'invalid' } satisfies Rejection;
    if (e.type === 'entity.parse.failed') {
      res.status(400).json(outcome('invalid', 'The request body is not valid JSON'));
      return;
    }
    if (e.type === 'entity.too.large') {
      res.status(413).json(outcome('too-costly', `The request body is larger than the limit (${config.bodyLimit})`));
      return;
    }
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json(outcome('invalid', e.message ?? 'Bad request'));
      return;
    }
    logger.error({ reqId: res.locals.requestId, err: { message: e.message, type: e.type } }, 'unhandled error');
    res.status(500).json(outcome('exception', 'Internal error'));
  });

  return { app, library, logger, metrics };
}

/** Every decision cache is sealed (HMAC) and counted, whichever store holds it. */
function withCacheMetrics(cache: DecisionCache | undefined, key: string | undefined, metrics: ServiceMetrics): DecisionCache | undefined {
  if (!cache) return undefined;
  const sealed = sealedDecisionCache(cache, key ?? PROCESS_DECISION_CACHE_KEY, () => metrics.cacheRejected());
  return observedDecisionCache(sealed, (hit) => (hit ? metrics.cacheHit() : metrics.cacheMiss()));
}
