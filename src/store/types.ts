/**
 * Decision records: what the service answered to each hook call, kept for dispute resolution.
 * Da Vinci CRD asks payers to retain every hook invocation and response
 * (https://hl7.org/fhir/us/davinci-crd/STU2/foundation.html). Only references and ids are stored,
 * never resource contents, names or birth dates.
 */

/** The decision for one order (one ServiceRequest) inside a hook call. */
export interface OrderDecisionRecord {
  /** Reference of the order as sent by the client, e.g. `ServiceRequest/123`. */
  orderRef: string;
  /** CPT/HCPCS code ordered. */
  billingCode?: string;
  /** Decision outcome, e.g. `covered`, `not-covered`, `conditional`. */
  outcome: string;
  policyId?: string;
  policyVersion?: string;
  /** Criterion ids (policy outline numbers) that decided the outcome. */
  criteriaPath: string[];
  /** FHIR references of the resources used as evidence. */
  evidence: string[];
  /** Criterion or fact ids that could not be judged (documentation missing). */
  missing: string[];
  /** Suggestion uuids offered on the cards. */
  suggestions: string[];
  /** `Coverage/<id>` the decision was made against. */
  coverageRef?: string;
  /** CRD `coverage-assertion-id`, the key a dispute quotes. */
  coverageAssertionId?: string;
  /** CRD `satisfied-pa-id`, when one was issued. */
  satisfiedPaId?: string;
}

/** One hook invocation and the service's response to it. */
export interface HookCallRecord {
  /** Unique id of this record (a uuid); saving the same id twice is a no-op. */
  id: string;
  /** ISO 8601 instant the request was received. */
  receivedAt: string;
  serviceId: string;
  hook: string;
  hookInstance: string;
  /** `iss` of the client's JWT, when authenticated. */
  clientIss?: string;
  /** `Patient/<id>`. */
  patientRef: string;
  orders: OrderDecisionRecord[];
  /** uuids of the cards returned. */
  cardUuids: string[];
  durationMs: number;
}

/** One CDS Hooks feedback item (https://cds-hooks.hl7.org/2.0/#feedback). */
export interface FeedbackRecord {
  /** Unique id of this record; saving the same id twice is a no-op. */
  id: string;
  receivedAt: string;
  serviceId: string;
  cardUuid: string;
  /** `accepted` or `overridden`. */
  outcome: string;
  acceptedSuggestions: string[];
  /** Override reason code (not free text). */
  overrideReason?: string;
  clientIss?: string;
}

/** An order decision together with the hook call it belongs to. */
export interface AssertionRecord {
  call: HookCallRecord;
  order: OrderDecisionRecord;
}

export interface AssertionQuery {
  /** `Patient/<id>` */
  patient?: string;
  /** Inclusive lower bound on `receivedAt` (ISO instant). */
  from?: string;
  /** Exclusive upper bound on `receivedAt` (ISO instant). */
  to?: string;
  /** Default 100, at most 1000. */
  limit?: number;
}

export interface DecisionRecordStore {
  /** Idempotent on `id`, so a retried write never duplicates. */
  saveHookCall(r: HookCallRecord): Promise<void>;
  /** Idempotent on `id`. */
  saveFeedback(f: FeedbackRecord): Promise<void>;
  /** Hook calls and feedback in one transaction (all or none); idempotent on the ids. */
  saveBatch(calls: readonly HookCallRecord[], feedback: readonly FeedbackRecord[]): Promise<void>;
  /** The order carrying this coverage-assertion-id, its call, and the feedback on that call's cards. */
  findByAssertionId(id: string): Promise<(AssertionRecord & { feedback: FeedbackRecord[] }) | undefined>;
  /** Orders that carry a coverage-assertion-id, newest first. */
  listAssertions(q: AssertionQuery): Promise<AssertionRecord[]>;
  /** Deletes hook calls (with their orders) and feedback received before the cutoff; returns rows removed (calls + feedback). */
  purgeOlderThan(cutoffIso: string): Promise<number>;
}

/** A record on its way to the store: what the outbox holds, in answer order. */
export type RecordItem = { kind: 'call'; record: HookCallRecord } | { kind: 'feedback'; record: FeedbackRecord };

/**
 * Where a decision record goes before its answer is sent: once `append` resolves the record is in
 * the store or on local disk waiting for it, so a 200 is never answered for a record that can be lost.
 */
export interface RecordLog {
  /** Rejects only when the record could not be kept locally either (disk full, file unwritable). */
  append(item: RecordItem): Promise<void>;
  /** Records kept locally and not yet in the store of record (0 for the embedded store). */
  pending(): number;
  stats(): RecordLogStats;
  /** Delivers what is waiting, for at most `timeoutMs`; resolves to the count still waiting. */
  flush(timeoutMs: number): Promise<number>;
  close(): Promise<void>;
}

export interface RecordLogStats {
  /** Records in the store of record since start. */
  readonly delivered: number;
  readonly pending: number;
  /** Failed delivery attempts (a batch counts once). */
  readonly deliveryFailures: number;
  /** The last delivery or local write error, while it lasts. */
  readonly lastError?: string;
  /** Local writes that failed (each made its hook call fail with 503 instead of answering). */
  readonly localWriteFailures: number;
}

/** A dependency `/health/ready` waits on (a store, a cache): undefined when ready, else why not. */
export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<string | undefined>;
}
