/**
 * What the edge keeps per request in `res.locals`, typed for every handler through Express's
 * declaration merging (the client is declared beside the middleware that sets it, security/middleware.ts).
 */

/** Why a request was refused, for its one log line: an issue code and the field at fault, never values. */
export interface Rejection {
  readonly code?: string;
  readonly expression?: string;
}

declare module 'express-serve-static-core' {
  interface Locals {
    /** The caller's `x-request-id` when well formed, else a fresh UUID (set first, echoed in the answer). */
    requestId: string;
    rejection?: Rejection;
  }
}
