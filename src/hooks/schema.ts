import { z } from 'zod';
import { badRequest, HttpError } from './errors.js';
import type { CdsFeedback, HookName, HookRequest } from './types.js';

/**
 * Strict about what makes a request meaningless, lenient about what real clients omit
 * (contract section 8; sandbox-quirks.md): a draftOrders Bundle without `type`, orders coded `[{}]`,
 * no `authoredOn`, no `fhirAuthorization`, unknown context fields and extensions are all accepted.
 */
const resourceLike = z.looseObject({ resourceType: z.string().min(1).max(64) });

const bundleLike = z.looseObject({
  resourceType: z.literal('Bundle'),
  entry: z
    .array(z.looseObject({ resource: resourceLike.optional() }))
    .optional(),
});

const httpUrl = z
  .string()
  .max(2048)
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'https:' || u.protocol === 'http:';
    } catch {
      return false;
    }
  }, 'an absolute http(s) URL');

const hookRequestSchema = z
  .looseObject({
    hook: z.string().min(1),
    hookInstance: z.string().min(1).max(256),
    fhirServer: httpUrl.optional(),
    fhirAuthorization: z
      .looseObject({
        access_token: z.string().min(1).max(16384),
        token_type: z.string().min(1),
        expires_in: z.number().optional(),
        scope: z.string().optional(),
        subject: z.string().optional(),
        patient: z.string().optional(),
      })
      .optional(),
    context: z.looseObject({
      userId: z.string().min(1).max(512),
      patientId: z.string().min(1).max(256),
      encounterId: z.string().max(256).optional(),
      selections: z.array(z.string().max(512)).optional(),
      draftOrders: bundleLike,
    }),
    prefetch: z.record(z.string(), resourceLike.nullable()).optional(),
    extension: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((req, ctx) => {
    if (req.fhirAuthorization && !req.fhirServer) {
      ctx.addIssue({ code: 'custom', path: ['fhirServer'], message: 'fhirServer is required when fhirAuthorization is present' });
    }
  });

/** Checks a hook request for the service's hook; throws a 400 naming the field. */
export function parseHookRequest(body: unknown, hook: HookName): HookRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('The request body must be a JSON object (a CDS Hooks request).');
  }
  const parsed = hookRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.map(String).join('.') || '(body)';
    throw badRequest(`${field}: ${issue.message}`, field);
  }
  const req = parsed.data;
  if (req.hook !== hook) {
    throw badRequest(`hook: this service answers "${hook}", the request says "${req.hook}"`, 'hook');
  }
  if (hook === 'order-select' && !Array.isArray(req.context.selections)) {
    throw badRequest('context.selections: required for order-select', 'context.selections');
  }
  return req as unknown as HookRequest;
}

const feedbackSchema = z.object({
  feedback: z
    .array(
      z.looseObject({
        card: z.string().min(1).max(256),
        outcome: z.enum(['accepted', 'overridden']),
        acceptedSuggestions: z.array(z.looseObject({ id: z.string().min(1).max(256) })).optional(),
        overrideReason: z
          .looseObject({
            reason: z.looseObject({ system: z.string(), code: z.string(), display: z.string().optional() }).optional(),
            userComment: z.string().max(4000).optional(),
          })
          .optional(),
        outcomeTimestamp: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO 8601 timestamp'),
      }),
    )
    .min(1)
    .max(100),
});

export function parseFeedback(body: unknown): CdsFeedback[] {
  const parsed = feedbackSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.map(String).join('.') || '(body)';
    throw badRequest(`${field}: ${issue.message}`, field);
  }
  for (const f of parsed.data.feedback) {
    if (f.outcome === 'accepted' && !f.acceptedSuggestions?.length) {
      throw new HttpError(400, 'invalid', 'feedback.acceptedSuggestions: required when outcome is accepted', 'feedback.acceptedSuggestions');
    }
  }
  return parsed.data.feedback as unknown as CdsFeedback[];
}
