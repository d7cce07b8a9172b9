import { randomUUID } from 'node:crypto';
import type { Bundle } from 'fhir/r4.js';
import express from 'express';
import { HttpError } from '../hooks/errors.js';
import type { PolicyLibrary } from '../library/library.js';
import { criterionId, hasPolicy } from '../decision/decideOrder.js';
import { adjudicate, type Adjudication } from './adjudicate.js';
import { readPasRequest, type PasRequest } from './request.js';
import { claimResponse, inquiryOutput, responseBundle } from './response.js';
import type { PriorAuthRecord, PriorAuthStore } from './store.js';

export interface PasContext {
  readonly library: PolicyLibrary;
  readonly store: PriorAuthStore;
  readonly questionnaireUrl: (policyId: string, version: string) => string;
  readonly now?: () => Date;
  /** Told of each answered submission (decision records); must not throw. */
  /** Keeps the submission's record before the response is sent (a rejection fails the call). */
  readonly onSubmission?: (record: PriorAuthRecord) => Promise<void> | void;
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
  const response = responseBundle(request, claimResponse(request, adjudication, decidedAt), decidedAt);
  // A Claim Update continues the claim it names, so `$inquire` on the original sees the new answer.
  const updated = await firstStored(ctx.store, request.relatedKeys);
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
    response,
  };
  await ctx.store.save(record);
  await ctx.onSubmission?.(record);
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
        const key = (await firstStored(ctx.store, [inquiry.claimKey, ...inquiry.relatedKeys])) ?? inquiry.claimKey;
        const found = await ctx.store.latest(key);
        res.type('application/fhir+json').json(inquiryOutput(inquiry.version, found ? [found.response] : []));
        return;
      }
      throw new HttpError(404, 'not-supported', `No operation Claim/${operation} (this service offers Claim/$submit and Claim/$inquire)`);
    } catch (err) {
      next(err);
    }
  });
  return router;
}
