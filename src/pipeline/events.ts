/**
 * What the hook path tells its observers (logs, metrics, decision records) and where feedback goes.
 * Its own module so that observers depend on these types, not on the Express app that emits them.
 */
import type { HookOutcome } from './runHook.js';
import type { CdsFeedback, HookRequest } from '../hooks/types.js';
import type { AuthenticatedClient } from '../security/clientAuth.js';
import type { PriorAuthRecord } from '../pas/store.js';

/** Storage for feedback; in memory unless the decision-record store is configured. */
export interface FeedbackSink {
  save(serviceId: string, feedback: readonly CdsFeedback[], client?: AuthenticatedClient): Promise<void>;
}

export class MemoryFeedbackSink implements FeedbackSink {
  readonly items: { serviceId: string; feedback: CdsFeedback; iss?: string }[] = [];
  constructor(private readonly max = 10_000) {}
  async save(serviceId: string, feedback: readonly CdsFeedback[], client?: AuthenticatedClient): Promise<void> {
    for (const f of feedback) this.items.push({ serviceId, feedback: f, iss: client?.iss });
    if (this.items.length > this.max) this.items.splice(0, this.items.length - this.max);
  }
}

/** What happened on one hook call: for logs, metrics and decision records (ids only, no resource content). */
export interface HookEvent {
  readonly requestId: string;
  readonly serviceId: string;
  readonly hook: HookRequest['hook'];
  readonly hookInstance: string;
  readonly patientId: string;
  readonly client?: AuthenticatedClient;
  readonly receivedAt: Date;
  readonly durationMs: number;
  readonly outcome: HookOutcome;
}

export interface FeedbackEvent {
  readonly requestId: string;
  readonly serviceId: string;
  readonly feedback: readonly CdsFeedback[];
  readonly client?: AuthenticatedClient;
  readonly receivedAt: Date;
}

/** Listeners on the hook path; they must not throw or block (errors are logged and ignored). */
export interface HookObserver {
  /** A hook decided, told as its record is queued (before the commit: a record that cannot be kept is then answered 503). */
  onHook?(event: HookEvent): void;
  onFeedback?(event: FeedbackEvent): void;
  /** A PAS `Claim/$submit` answered. */
  onPriorAuth?(record: PriorAuthRecord): void;
}
