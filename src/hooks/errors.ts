import type { OperationOutcome } from 'fhir/r4.js';

/** An error answered as an OperationOutcome with its HTTP status; `expression` names the field at fault. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: OperationOutcome['issue'][number]['code'],
    message: string,
    readonly expression?: string,
  ) {
    super(message);
  }

  toOperationOutcome(): OperationOutcome {
    return outcome(this.code, this.message, this.expression);
  }
}

export function outcome(
  code: OperationOutcome['issue'][number]['code'],
  diagnostics: string,
  expression?: string,
): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, diagnostics, ...(expression ? { expression: [expression] } : {}) }],
  };
}

export const badRequest = (message: string, expression?: string): HttpError =>
  new HttpError(400, 'invalid', message, expression);
export const notFound = (message: string): HttpError => new HttpError(404, 'not-found', message);
