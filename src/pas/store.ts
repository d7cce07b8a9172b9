import type { Bundle } from 'fhir/r4.js';
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

/**
 * The decision record of one `Claim/$submit`: ids, codes and times only, plus the response Bundle
 * answered (kept so `$inquire` returns exactly what was sent).
 */
export interface PriorAuthRecord {
  readonly id: string;
  /** `Patient/<id>|<Claim.identifier system>|<value>`: the request across resubmissions and inquiries. */
  readonly claimKey: string;
  readonly patientRef: string;
  readonly coverageRef: string;
  readonly priority: PasPriority;
  /** When the submission was received and when it was answered (ISO instants). */
  readonly receivedAt: string;
  readonly decidedAt: string;
  readonly items: readonly PriorAuthItemRecord[];
  readonly response: Bundle;
}

export interface PriorAuthQuery {
  /** Inclusive lower bound on receivedAt (ISO instant). */
  readonly from?: string;
  /** Exclusive upper bound on receivedAt (ISO instant). */
  readonly to?: string;
}

/** Where PAS submissions are kept: `$inquire` reads the latest per claim, the CMS-0057-F report reads them all. */
export interface PriorAuthStore {
  save(r: PriorAuthRecord): Promise<void>;
  /** The latest submission of a claim (pended ones stay queryable). */
  latest(claimKey: string): Promise<PriorAuthRecord | undefined>;
  /** Submissions in receipt order, oldest first. */
  list(q?: PriorAuthQuery): Promise<readonly PriorAuthRecord[]>;
}

/** In memory, bounded (the oldest submissions are dropped first). */
export class MemoryPriorAuthStore implements PriorAuthStore {
  private readonly records: PriorAuthRecord[] = [];
  constructor(private readonly max = 100_000) {}

  async save(r: PriorAuthRecord): Promise<void> {
    if (this.records.some((x) => x.id === r.id)) return;
    this.records.push(r);
    if (this.records.length > this.max) this.records.splice(0, this.records.length - this.max);
  }

  async latest(claimKey: string): Promise<PriorAuthRecord | undefined> {
    for (let i = this.records.length - 1; i >= 0; i--) if (this.records[i]!.claimKey === claimKey) return this.records[i];
    return undefined;
  }

  async list(q: PriorAuthQuery = {}): Promise<readonly PriorAuthRecord[]> {
    return this.records
      .filter((r) => (q.from === undefined || r.receivedAt >= q.from) && (q.to === undefined || r.receivedAt < q.to))
      .sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
  }
}
