/**
 * Prometheus metrics (`GET /metrics`). Each app gets its own Registry, so tests that build many
 * apps never collide on prom-client's global default registry. Labels carry only bounded values
 * (service ids we publish, statuses, outcomes, policy ids): never patient ids or request data.
 */
import type { NextFunction, Request, Response } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { HookEvent, HookObserver } from '../pipeline/events.js';
import { SERVICE_IDS } from '../hooks/discovery.js';
import { hasPolicy } from '../decision/decideOrder.js';

/** What the decision cache reports; the cache takes this narrow interface, not the whole registry. */
export interface CacheMetrics {
  cacheHit(): void;
  cacheMiss(): void;
  /** An entry that failed its authentication check (edited or moved where it is stored): also a miss. */
  cacheRejected(): void;
}

export interface ServiceMetrics extends CacheMetrics {
  readonly registry: Registry;
  /** Hook outcomes, latency and FHIR fallback calls: register it in `AppDeps.observers`. */
  readonly observer: HookObserver;
  /** Counts every hook call that did not answer 200 (the observer sees only the 200s). */
  readonly hookStatusMiddleware: (req: Request, res: Response, next: NextFunction) => void;
  /** Prometheus text exposition. */
  render(): Promise<{ contentType: string; body: string }>;
  /** A call refused unserved because the service is overloaded (`in-flight` or `event-loop-delay`). */
  shed(reason: 'in-flight' | 'event-loop-delay'): void;
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop); off in tests to keep output small. */
  readonly processMetrics?: boolean;
}

const KNOWN_SERVICES = new Set(Object.values(SERVICE_IDS));
/** Unknown ids are one label value, so a caller cannot grow the series without bound. */
const serviceLabel = (id: string): string => (KNOWN_SERVICES.has(id) ? id : 'unknown');

/** The hook's answer in one word: the order outcome, `mixed` for several different ones. */
function hookOutcome(event: HookEvent): string {
  const outcomes = new Set(event.outcome.decisions.map((d) => d.outcome));
  if (outcomes.size === 0) return 'no-lumbar-mri-order';
  return outcomes.size === 1 ? [...outcomes][0] : 'mixed';
}

export function createMetrics(options: MetricsOptions = {}): ServiceMetrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const hookRequests = new Counter({
    name: 'cds_hook_requests_total',
    help: 'CDS Hooks calls by service, HTTP status and outcome (outcome "error" for non-200 answers)',
    labelNames: ['service', 'status', 'outcome'] as const,
    registers: [registry],
  });
  const hookDuration = new Histogram({
    name: 'cds_hook_duration_seconds',
    help: 'Time to answer a CDS Hooks call (200 answers), record fetching included',
    labelNames: ['service'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5],
    registers: [registry],
  });
  const decisions = new Counter({
    name: 'cds_order_decisions_total',
    help: 'Lumbar MRI order decisions by policy and outcome',
    labelNames: ['policy', 'outcome'] as const,
    registers: [registry],
  });
  const cache = new Counter({
    name: 'cds_decision_cache_lookups_total',
    help: 'Decision cache lookups by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const cacheRejected = new Counter({
    name: 'cds_decision_cache_rejected_total',
    help: 'Decision cache entries that failed their HMAC check (edited or moved in the store); each is also a miss',
    registers: [registry],
  });
  const shed = new Counter({
    name: 'cds_requests_shed_total',
    help: 'Hook and feedback calls answered 503 unserved because the service was overloaded, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const fhirCalls = new Counter({
    name: 'cds_fhir_fallback_calls_total',
    help: 'FHIR searches made against fhirServer for prefetch keys the client did not fill',
    registers: [registry],
  });
  const fhirFailures = new Counter({
    name: 'cds_fhir_fallback_failures_total',
    help: 'Prefetch keys whose FHIR fallback search failed (timeout, HTTP error, invalid answer)',
    registers: [registry],
  });
  // Zero-valued series from the start, so dashboards and alerts see the metric before the first event.
  cache.inc({ result: 'hit' }, 0);
  cache.inc({ result: 'miss' }, 0);
  fhirCalls.inc(0);
  fhirFailures.inc(0);
  cacheRejected.inc(0);
  shed.inc({ reason: 'in-flight' }, 0);
  shed.inc({ reason: 'event-loop-delay' }, 0);

  const observer: HookObserver = {
    onHook(event) {
      const service = serviceLabel(event.serviceId);
      hookRequests.inc({ service, status: '200', outcome: hookOutcome(event) });
      hookDuration.observe({ service }, event.durationMs / 1000);
      for (const d of event.outcome.decisions) decisions.inc({ policy: hasPolicy(d) ? d.policy.policyId : 'none', outcome: d.outcome });
      fhirCalls.inc(event.outcome.fhirCalls);
      fhirFailures.inc(event.outcome.fhirFailures);
    },
  };

  const hookStatusMiddleware = (req: Request, res: Response, next: NextFunction): void => {
    // Read now: Express restores req.params once the route is left.
    const service = serviceLabel(String(req.params.id));
    res.on('finish', () => {
      if (res.statusCode === 200) return;
      hookRequests.inc({ service, status: String(res.statusCode), outcome: 'error' });
    });
    next();
  };

  return {
    registry,
    observer,
    hookStatusMiddleware,
    cacheHit: () => cache.inc({ result: 'hit' }),
    cacheMiss: () => cache.inc({ result: 'miss' }),
    cacheRejected: () => cacheRejected.inc(),
    shed: (reason) => shed.inc({ reason }),
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
