/**
 * Load shedding: past capacity, a call is better refused at once (503, Retry-After) than queued until
 * the EHR's own timeout, when its answer no longer helps anyone and every other call has waited too.
 *
 * Two signals: calls in progress (bounded work, e.g. slow FHIR servers holding requests open), and
 * event-loop lag (CPU saturated: requests wait in the loop before any handler sees them). The lag is
 * measured as a timer's lateness, damped so that one GC pause does not shed but sustained overload
 * does (the method of toobusy-js, in a few lines rather than an unmaintained dependency; the
 * maintained alternatives are Fastify-only).
 */
import type { RequestHandler } from 'express';
import { retryLater } from '../hooks/errors.js';

export type ShedReason = 'in-flight' | 'event-loop-delay';

export interface LoadSheddingOptions {
  /** Calls in progress at which the next is refused; 0: no limit. */
  readonly maxInFlight: number;
  /** Damped event-loop lag (ms) above which calls are refused; 0: not watched. */
  readonly maxEventLoopDelayMs: number;
  /** Seconds the client is told to wait (default 1). */
  readonly retryAfterSeconds?: number;
  readonly onShed?: (reason: ShedReason) => void;
}

const TICK_MS = 100;
/** Weight of the newest lag sample: a single 300 ms pause reads as 90 ms, seconds of overload as their lag. */
const NEWEST_WEIGHT = 0.3;

let lagMs = 0;
let ticking = false;

/** One process-wide lag monitor (the event loop is the process's, whatever app asks). */
function startLagMonitor(): void {
  if (ticking) return;
  ticking = true;
  let expected = performance.now() + TICK_MS;
  setInterval(() => {
    const now = performance.now();
    const lag = Math.max(0, now - expected);
    expected = now + TICK_MS;
    lagMs = lagMs * (1 - NEWEST_WEIGHT) + lag * NEWEST_WEIGHT;
  }, TICK_MS).unref();
}

/** A middleware refusing calls with 503 and Retry-After while either signal is over its threshold. */
export function loadShedding(options: LoadSheddingOptions): RequestHandler {
  const { maxInFlight, maxEventLoopDelayMs } = options;
  if (maxInFlight <= 0 && maxEventLoopDelayMs <= 0) return (_req, _res, next) => next();
  if (maxEventLoopDelayMs > 0) startLagMonitor();
  const retryAfter = String(options.retryAfterSeconds ?? 1);
  let inFlight = 0;
  return (_req, res, next) => {
    const reason: ShedReason | undefined =
      maxInFlight > 0 && inFlight >= maxInFlight ? 'in-flight' : maxEventLoopDelayMs > 0 && lagMs > maxEventLoopDelayMs ? 'event-loop-delay' : undefined;
    if (reason) {
      options.onShed?.(reason);
      next(retryLater(503, 'transient', `The service is overloaded (${reason === 'in-flight' ? 'too many calls in progress' : 'CPU saturated'}); retry after ${retryAfter} s`, retryAfter));
      return;
    }
    inFlight++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      inFlight--;
    };
    res.once('finish', release);
    res.once('close', release);
    next();
  };
}
