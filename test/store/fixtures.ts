import { randomUUID } from 'node:crypto';
import type { FeedbackRecord, HookCallRecord, OrderDecisionRecord } from '../../src/store/types.js';

export function orderRecord(over: Partial<OrderDecisionRecord> = {}): OrderDecisionRecord {
  return {
    orderRef: 'ServiceRequest/sr-1',
    billingCode: '72148',
    outcome: 'covered',
    policyId: 'kp-wa-lumbar-mri',
    policyVersion: '2024-01-01',
    criteriaPath: ['II.A', 'II.A.1'],
    evidence: ['Condition/c-1', 'Procedure/pt-1'],
    missing: [],
    suggestions: [],
    coverageRef: 'Coverage/cov-1',
    coverageAssertionId: `ca-${randomUUID()}`,
    ...over,
  };
}

export function hookCall(over: Partial<HookCallRecord> = {}): HookCallRecord {
  return {
    id: randomUUID(),
    receivedAt: '2024-06-01T10:00:00.000Z',
    serviceId: 'lumbar-mri-order-sign',
    hook: 'order-sign',
    hookInstance: randomUUID(),
    clientIss: 'https://ehr.example.org',
    patientRef: 'Patient/p-1',
    orders: [orderRecord()],
    cardUuids: [randomUUID()],
    durationMs: 42.5,
    ...over,
  };
}

export function feedback(over: Partial<FeedbackRecord> = {}): FeedbackRecord {
  return {
    id: randomUUID(),
    receivedAt: '2024-06-01T10:05:00.000Z',
    serviceId: 'lumbar-mri-order-sign',
    cardUuid: randomUUID(),
    outcome: 'accepted',
    acceptedSuggestions: [randomUUID()],
    ...over,
  };
}
