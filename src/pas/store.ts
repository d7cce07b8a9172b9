import type { ClaimResponse } from 'fhir/r4.js';
import { HttpError } from '../hooks/errors.js';
import type { ReviewAction } from './adjudicate.js';
import type { PasPriority } from './request.js';

/** One claim item as decided in one submission. */
export interface PriorAuthItemRecord {
  readonly sequence: number;
  /** `ServiceRequest/<id>`: the order, the same across resubmissions. */
  readonly orderRef: string;
  readonly billingCode?: string;
  readonly reviewAction?: ReviewAction;
  readonly authorizationNumber?: string;
  readonly policyId?: string;
  readonly policyVersion?: string;
  readonly criterion?: string;
  /** X12 901 code when the item could not be adjudicated. */
  readonly errorCode?: string;
  /** The CRD coverage-assertion-id the order carried, linking this submission to the hook's decision. */
  readonly coverageAssertionId?: string;
}

/** What `$inquire` answers from: the claim's key and the ClaimResponse sent for it. */
export interface StoredClaimResponse {
  /** `Patient/<id>|<Claim.identifier system>|<value>`: the request across resubmissions and inquiries. */
  readonly claimKey: string;
  readonly receivedAt: string;
  /** The ClaimResponse as answered (references, codes and the review's words; no patient resources). */
  readonly claimResponse: ClaimResponse;
}

/** The decision record of one `Claim/$submit`: ids, codes and times, and the ClaimResponse answered. */
export interface PriorAuthRecord extends StoredClaimResponse {
  readonly id: string;
  readonly patientRef: string;
  readonly coverageRef: string;
  readonly priority: PasPriority;
  /** When the submission was received and when it was answered (ISO instants). */
  readonly receivedAt: string;
  readonly decidedAt: string;
  readonly items: readonly PriorAuthItemRecord[];
}

/**
 * One determination on one order, as the decision records hold it: a PAS claim item (A1, A3, A4),
 * or an order-sign whose CRD coverage information issued an authorization (`satisfied-pa-id`: the
 * payer's approval given at signing, A1).
 */
export interface PriorAuthDetermination {
  readonly source: 'Claim/$submit' | 'order-sign';
  readonly patientRef: string;
  readonly orderRef: string;
  readonly billingCode: string;
  /** PAS submissions carry it; an order-sign is answered at once and counts as standard. */
  readonly priority?: PasPriority;
  readonly receivedAt: string;
  readonly decidedAt: string;
  readonly reviewAction: ReviewAction;
  readonly authorizationNumber?: string;
}

export interface PriorAuthQuery {
  /** Exclusive upper bound on receivedAt (ISO instant). */
  readonly to?: string;
}

/**
 * Where PAS submissions are kept: `$inquire` reads the latest per claim, the CMS-0057-F report
 * reads every determination. Implemented over the decision-record database (src/store).
 */
export interface PriorAuthStore {
  /** Keeps the submission before it is answered; rejects when it could not be kept. */
  save(r: PriorAuthRecord): Promise<void>;
  /** The latest submission of a claim (pended ones stay queryable). */
  latest(claimKey: string): Promise<StoredClaimResponse | undefined>;
  /** Determinations received before `to`, oldest first. */
  determinations(q?: PriorAuthQuery): Promise<readonly PriorAuthDetermination[]>;
}

/**
 * A store call whose failure (the database unreachable) is a 503 for the client to retry, never a
 * 500; `onError` is told first (logging).
 */
export async function fromStore<T>(call: () => Promise<T>, what: string, onError?: (err: unknown) => void): Promise<T> {
  try {
    return await call();
  } catch (err) {
    onError?.(err);
    throw new HttpError(503, 'transient', `${what}; try again`);
  }
}

/** A submission's determinations: its items reviewed (A1, A3, A4) on a lumbar MRI code. */
export function submissionDeterminations(r: PriorAuthRecord): PriorAuthDetermination[] {
  return r.items.flatMap((i) =>
    i.reviewAction && i.billingCode
      ? [
          {
            source: 'Claim/$submit' as const,
            patientRef: r.patientRef,
            orderRef: i.orderRef,
            billingCode: i.billingCode,
            priority: r.priority,
            receivedAt: r.receivedAt,
            decidedAt: r.decidedAt,
            reviewAction: i.reviewAction,
            ...(i.authorizationNumber ? { authorizationNumber: i.authorizationNumber } : {}),
          },
        ]
      : [],
  );
}

/**
 * In memory, bounded (the oldest submissions are dropped first): for an app built without decision
 * records (tests), which records no hook call either, so only submissions are determinations here.
 */
export class MemoryPriorAuthStore implements PriorAuthStore {
  private readonly records: PriorAuthRecord[] = [];
  constructor(private readonly max = 100_000) {}

  async save(r: PriorAuthRecord): Promise<void> {
    if (this.records.some((x) => x.id === r.id)) return;
    this.records.push(r);
    if (this.records.length > this.max) this.records.splice(0, this.records.length - this.max);
  }

  async latest(claimKey: string): Promise<StoredClaimResponse | undefined> {
    return this.records.findLast((r) => r.claimKey === claimKey);
  }

  async determinations(q: PriorAuthQuery = {}): Promise<readonly PriorAuthDetermination[]> {
    return this.records
      .filter((r) => q.to === undefined || r.receivedAt < q.to)
      .sort((a, b) => a.receivedAt.localeCompare(b.receivedAt))
      .flatMap(submissionDeterminations);
  }
}
