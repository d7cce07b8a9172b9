import type { OperationOutcome } from 'fhir/r4.js';

type IssueCode = OperationOutcome['issue'][number]['code'];

/** What an HttpError may add to its answer besides the OperationOutcome's words. */
export interface HttpErrorOptions {
  /** Response headers the status needs (`WWW-Authenticate` on a 401, `Retry-After` on a 429 or 503). */
  readonly headers?: Readonly<Record<string, string>>;
  /** A machine reason a client branches on (e.g. `replayed-jti`): `issue[0].details.coding[0].code`. */
  readonly reason?: string;
}

/** Where `reason` codes live in an OperationOutcome's `details`. */
export const REASON_SYSTEM = 'urn:lumbar-mri-cds:error-reason';

/** An error answered as an OperationOutcome with its HTTP status; `expression` names the field at fault. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: IssueCode,
    message: string,
    readonly expression?: string,
    readonly options: HttpErrorOptions = {},
  ) {
    super(message);
  }

  toOperationOutcome(): OperationOutcome {
    return outcome(this.code, this.message, this.expression, this.options.reason);
  }
}

export function outcome(code: IssueCode, diagnostics: string, expression?: string, reason?: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: 'error',
        code,
        diagnostics,
        ...(reason ? { details: { coding: [{ system: REASON_SYSTEM, code: reason }], text: reason } } : {}),
        ...(expression ? { expression: [expression] } : {}),
      },
    ],
  };
}

export const badRequest = (message: string, expression?: string): HttpError =>
  new HttpError(400, 'invalid', message, expression);
export const notFound = (message: string): HttpError => new HttpError(404, 'not-found', message);
/** A 401: the credential is missing or wrong (`reason` says which, never the credential). */
export const unauthorized = (reason: string, challenge: string, message = `unauthorized: ${reason}`): HttpError =>
  new HttpError(401, 'login', message, undefined, { reason, headers: { 'WWW-Authenticate': challenge } });
/** A 429 or 503 a client should retry after `retryAfterSeconds` (or after the RateLimit header's time). */
export const retryLater = (status: 429 | 503, code: IssueCode, message: string, retryAfterSeconds?: string): HttpError =>
  new HttpError(status, code, message, undefined, retryAfterSeconds ? { headers: { 'Retry-After': retryAfterSeconds } } : {});
