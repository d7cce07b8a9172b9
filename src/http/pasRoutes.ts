import { randomUUID } from 'node:crypto';
import type { Bundle } from 'fhir/r4.js';
import express from 'express';
import { HttpError } from '../hooks/errors.js';
import type { PolicyLibrary } from '../library/library.js';
import { criterionId, hasPolicy } from '../decision/decideOrder.js';
import { adjudicate, type Adjudication } from '../pas/adjudicate.js';
import { readPasRequest, type PasRequest } from '../pas/request.js';
import { claimResponse, inquiryOutput, responseBundle } from '../pas/response.js';
import { fromStore, type PriorAuthRecord, type PriorAuthStore } from '../pas/store.js';

export interface PasContext {
  readonly library: PolicyLibrary;
  readonly store: PriorAuthStore;
  readonly questionnaireUrl: (policyId: string, version: string) => string;
  readonly now?: () => Date;
  /** Told when the store failed (the call is answered 503); must not throw. */
  readonly onStoreError?: (err: unknown) => void;
  /** Told of each submission kept, before it is answered; must not throw. */
  readonly onSubmission?: (record: PriorAuthRecord) => void;
}

/** What `$submit` answered, for the route and for tests that drive the pipeline without HTTP. */
export interface Submission {
  readonly request: PasRequest;
  readonly adjudication: Adjudication;
  readonly response: Bundle;
  readonly record: PriorAuthRecord;
}

/** `Claim/$submit`: read the Bundle, decide each item with the hooks' pipeline, answer and record it. */
export async function submit(body: unknown, ctx: PasContext): Promise<Submission> {
  const receivedAt = ctx.now?.() ?? new Date();
  const request = readPasRequest(body);
  const adjudication = adjudicate(request, { library: ctx.library, questionnaireUrl: ctx.questionnaireUrl, now: receivedAt });
  const decidedAt = ctx.now?.() ?? new Date();
  const answer = claimResponse(request, adjudication, decidedAt);
  const response = responseBundle(request, answer, decidedAt);
  // A Claim Update continues the claim it names, so `$inquire` on the original sees the new answer.
  const updated = await fromStore(() => firstStored(ctx.store, request.relatedKeys), 'Prior authorization records are unavailable', ctx.onStoreError);
  const record: PriorAuthRecord = {
    id: randomUUID(),
    claimKey: updated ?? request.claimKey,
    patientRef: `Patient/${request.patient.id}`,
    coverageRef: `Coverage/${request.coverage.id ?? 'unknown'}`,
    priority: request.priority,
    receivedAt: receivedAt.toISOString(),
    decidedAt: decidedAt.toISOString(),
    items: adjudication.items.map((d) => ({
      sequence: d.sequence,
      orderRef: d.orderRef,
      ...(d.cpt ? { billingCode: d.cpt } : {}),
      ...(d.reviewAction ? { reviewAction: d.reviewAction } : {}),
      ...(d.authorizationNumber ? { authorizationNumber: d.authorizationNumber } : {}),
      ...(d.decision && hasPolicy(d.decision) ? { policyId: d.decision.policy.policyId, policyVersion: d.decision.policy.version } : {}),
      ...(d.decision && criterionId(d.decision) ? { criterion: criterionId(d.decision) } : {}),
      ...(d.error ? { errorCode: d.error.code } : {}),
      ...(d.coverageAssertionId ? { coverageAssertionId: d.coverageAssertionId } : {}),
    })),
    claimResponse: answer,
  };
  // The record is the claim's state: `$inquire` (on any instance) and the report read it.
  await fromStore(() => ctx.store.save(record), 'The decision could not be recorded', ctx.onStoreError);
  ctx.onSubmission?.(record);
  return { request, adjudication, response, record };
}

async function firstStored(store: PriorAuthStore, keys: readonly string[]): Promise<string | undefined> {
  for (const k of keys) if (await store.latest(k)) return k;
  return undefined;
}

/** `POST /fhir/Claim/$submit` and `POST /fhir/Claim/$inquire` (Da Vinci PAS 2.2.1; 2.0.1 where it differs). */
export function pasRoutes(ctx: PasContext): express.Router {
  const router = express.Router();
  router.post('/fhir/Claim/:operation', async (req, res, next) => {
    try {
      const operation = String(req.params.operation);
      if (operation === '$submit') {
        const { response } = await submit(req.body, ctx);
        res.type('application/fhir+json').json(response);
        return;
      }
      if (operation === '$inquire') {
        const inquiry = readPasRequest(req.body);
        const found = await fromStore(
          async () => ctx.store.latest((await firstStored(ctx.store, [inquiry.claimKey, ...inquiry.relatedKeys])) ?? inquiry.claimKey),
          'Prior authorization records are unavailable',
          ctx.onStoreError,
        );
        // The stored ClaimResponse, with the inquiry's own entries echoed (patient resources are never stored).
        const now = ctx.now?.() ?? new Date();
        res.type('application/fhir+json').json(inquiryOutput(inquiry.version, found ? [responseBundle(inquiry, found.claimResponse, now)] : []));
        return;
      }
      throw new HttpError(404, 'not-supported', `No operation Claim/${operation} (this service offers Claim/$submit and Claim/$inquire)`);
    } catch (err) {
      next(err);
    }
  });
  return router;
}
