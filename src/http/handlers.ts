/** The service's route handlers, each a small named function over what the edge resolved. */
import type { Request, RequestHandler, Response } from 'express';
import { documentationFindingCodeSystem } from '../facts/documentationFindings.js';
import { hookForService, serviceDefinitions } from '../hooks/discovery.js';
import { HttpError, notFound } from '../hooks/errors.js';
import { parseFeedback, parseHookRequest } from '../hooks/schema.js';
import type { HookName } from '../hooks/types.js';
import type { PolicyLibrary } from '../library/library.js';
import type { Logger } from '../log.js';
import type { FeedbackEvent, FeedbackSink, HookEvent, HookObserver } from '../pipeline/events.js';
import { runHook, type HookContext, type HookOutcome } from '../pipeline/runHook.js';
import { hookLogLine } from '../pipeline/hookLog.js';
import type { DecisionRecorder } from '../records/eventRecorder.js';
import type { AuthenticatedClient } from '../security/clientAuth.js';
import { isFhirServerAllowed } from '../security/middleware.js';
import { rawBodyOf, releaseRawBody } from './edge.js';
import { healthReport } from './health.js';
import type { ReadinessCheck } from '../store/types.js';
import type { ServiceMetrics } from './metrics.js';
import type {} from './locals.js';

/** Tells every observer, each on its own: one that throws is logged, never the request's failure. */
export type Notify = (fn: (o: HookObserver) => void) => void;

export function notifier(observers: readonly HookObserver[], logger: Logger): Notify {
  return (fn) => {
    for (const o of observers) {
      try {
        fn(o);
      } catch (err) {
        logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'hook observer failed');
      }
    }
  };
}

/** Runs a record write; if the record cannot be kept, the call fails 503 (CRD: a decision answered is a decision recorded). */
export async function keepRecord(write: () => Promise<void> | undefined, logger: Logger, what: string, requestId?: string): Promise<void> {
  try {
    await write();
  } catch (err) {
    logger.error({ reqId: requestId, err: err instanceof Error ? err.message : String(err) }, `${what} could not be kept: answering 503`);
    throw new HttpError(503, 'transient', 'The decision could not be recorded; try again');
  }
}

/** The CDS service a call names, or 404. */
function serviceOf(req: Request): { serviceId: string; hook: HookName } {
  const serviceId = String(req.params.id);
  const hook = hookForService(serviceId);
  if (!hook) throw notFound(`No CDS service "${serviceId}" (see GET /cds-services)`);
  return { serviceId, hook };
}

export interface HookHandlerDeps {
  readonly context: HookContext;
  /** FHIR servers a call may name when no authenticated client brings its own list. */
  readonly fhirServerAllowlist: readonly string[];
  readonly recorder?: DecisionRecorder;
  readonly logger: Logger;
  readonly notify: Notify;
  readonly now: () => Date;
}

/** The pipeline's context for one caller: the FHIR servers it may name are its own (or the allow-list). */
function contextFor(deps: HookHandlerDeps, client: AuthenticatedClient | undefined): HookContext {
  const allowed = client ? client.fhirServers : deps.fhirServerAllowlist;
  return { ...deps.context, record: { ...deps.context.record, fhirServerAllowed: (url) => isFhirServerAllowed(url, allowed) } };
}

/** `POST /cds-services/:id`: parse, run the pipeline, keep the record, answer, tell the observers. */
export function hookHandler(deps: HookHandlerDeps): RequestHandler {
  return async function answerHook(req, res) {
    const decided = await decideHook(deps, req, res);
    await keepRecord(() => decided.recorded, deps.logger, 'decision record', decided.requestId);
    sendAnswer(res, decided.body);
    for (const line of decided.logLines) deps.logger[line.level](line.fields, line.msg);
  };
}

/**
 * A hook's answer, serialised and encoded once (its length is the header's; a string would be encoded
 * again by the socket): what `res.json` sends, less the ETag Express hashes the body for (an answer to
 * a POST is never revalidated).
 */
function sendAnswer(res: Response, body: Buffer): void {
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.end(body);
}

/** What answering a hook needs once its record is queued: no request, record or facts. */
interface DecidedHook {
  readonly requestId: string;
  readonly recorded: Promise<void> | undefined;
  /** The CDS Hooks response, serialised and encoded. */
  readonly body: Buffer;
  readonly logLines: readonly LogLine[];
}

interface LogLine {
  readonly level: 'info' | 'error';
  readonly fields: Record<string, unknown>;
  readonly msg: string;
}

/**
 * Everything that reads the request, the patient's record and the decision's facts, done before the
 * record's commit is awaited: the commit waits for the next turn of the event loop (group commit), and
 * what this function held would otherwise live through it for every request of the turn, for the
 * garbage collector to copy. Observers are told here, as the
 * decision is made; a record that then cannot be kept is answered 503 and counted apart.
 */
async function decideHook(deps: HookHandlerDeps, req: Request, res: Response): Promise<DecidedHook> {
  const started = performance.now();
  const receivedAt = deps.now();
  const { serviceId, hook } = serviceOf(req);
  const request = parseHookRequest(req.body, hook);
  const outcome = await runHook(request, { ...contextFor(deps, res.locals.client), requestBody: rawBodyOf(req) });
  // Nothing after this reads the body, parsed or raw; Express would keep both until the answer is sent.
  req.body = undefined;
  releaseRawBody(req);
  const event: HookEvent = {
    requestId: res.locals.requestId,
    serviceId,
    hook,
    hookInstance: request.hookInstance,
    patientId: request.context.patientId,
    client: res.locals.client,
    receivedAt,
    durationMs: Math.round((performance.now() - started) * 100) / 100,
    outcome,
  };
  let recorded: Promise<void> | undefined;
  try {
    recorded = deps.recorder?.recordHook(event);
  } catch (err) {
    recorded = Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  deps.notify((o) => o.onHook?.(event));
  return { requestId: event.requestId, recorded, body: Buffer.from(JSON.stringify(outcome.response)), logLines: hookLogLines(event, outcome) };
}

/** The hook's log lines: one per call (ids, outcomes, criteria), one more when an order failed on its data. */
function hookLogLines(e: HookEvent, outcome: HookOutcome): LogLine[] {
  const hookLine: LogLine = { level: 'info', fields: hookLogLine(e), msg: 'hook' };
  if (!outcome.orderErrors.length) return [hookLine];
  const fields = { reqId: e.requestId, serviceId: e.serviceId, hookInstance: e.hookInstance, orderErrors: outcome.orderErrors };
  return [{ level: 'error', fields, msg: 'order evaluation failed on unexpected data' }, hookLine];
}

export interface FeedbackHandlerDeps {
  readonly feedback: FeedbackSink;
  readonly recorder?: DecisionRecorder;
  readonly logger: Logger;
  readonly notify: Notify;
  readonly now: () => Date;
}

/** `POST /cds-services/:id/feedback`: keep what the clinician did with the cards. */
export function feedbackHandler(deps: FeedbackHandlerDeps): RequestHandler {
  return async function acceptFeedback(req, res) {
    const { serviceId } = serviceOf(req);
    const items = parseFeedback(req.body);
    const client = res.locals.client;
    await deps.feedback.save(serviceId, items, client);
    const event: FeedbackEvent = { requestId: res.locals.requestId, serviceId, feedback: items, client, receivedAt: deps.now() };
    await keepRecord(() => deps.recorder?.recordFeedback(event), deps.logger, 'decision record', event.requestId);
    deps.notify((o) => o.onFeedback?.(event));
    deps.logger.info({ reqId: event.requestId, serviceId, feedback: items.map((f) => ({ card: f.card, outcome: f.outcome })) }, 'feedback');
    res.json({ accepted: items.length });
  };
}

/** `GET /cds-services`: the discovery document. */
export const discoveryHandler: RequestHandler = function discovery(_req, res) {
  res.json({ services: serviceDefinitions() });
};

/** Liveness: the process answers. */
export const livenessHandler: RequestHandler = function live(_req, res) {
  res.json({ status: 'ok' });
};

/** Readiness: policies loaded and every dependency check passes (200), else 503. */
export function readinessHandler(library: PolicyLibrary, checks: readonly ReadinessCheck[] = []): RequestHandler {
  return async function ready(_req: Request, res: Response) {
    const report = await healthReport(library, checks);
    res.status(report.status === 'ok' ? 200 : 503).json(report);
  };
}

/** `GET /metrics`: the Prometheus text exposition. */
export function metricsHandler(metrics: ServiceMetrics): RequestHandler {
  return async function exposeMetrics(_req, res) {
    const { contentType, body } = await metrics.render();
    res.type(contentType).send(body);
  };
}

/** `GET /fhir/CodeSystem/documentation-finding`: the findings a note or questionnaire may document. */
export function findingCodeSystemHandler(library: PolicyLibrary): RequestHandler {
  return function findingCodeSystem(_req, res) {
    res.type('application/fhir+json').json(documentationFindingCodeSystem(library.facts, library.findings));
  };
}
