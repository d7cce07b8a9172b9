import type { Bundle, Resource } from 'fhir/r4.js';
import { z } from 'zod';
import { badRequest, HttpError } from './errors.js';

/**
 * Strict about what makes a request meaningless, lenient about what real clients omit
 * (contract section 8; sandbox-quirks.md): a draftOrders Bundle without `type`, orders coded `[{}]`,
 * no `authoredOn`, no `fhirAuthorization`, unknown context fields and extensions are all accepted.
 */
// FHIR content is checked in shape only (a resource type, a Bundle's entries), then read as the
// @types/fhir type: every reader of a client's resource treats its fields as possibly malformed.
// `conforms` is the shape's check in plain code, for the common case: a conforming value is passed as
// is, without zod's parse (a copy of the object made only to be thrown away); one that does not is
// parsed by `shape` for the issue it words. It must accept nothing `shape` refuses (test/hooks/schema.test.ts).
function fhir<T>(shape: z.ZodType, conforms: (value: unknown) => boolean): z.ZodType<T> {
  return z.custom<T>().superRefine((value, ctx) => {
    if (conforms(value)) return;
    const checked = shape.safeParse(value);
    if (!checked.success) for (const issue of checked.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const resourceShape = z.looseObject({ resourceType: z.string().min(1).max(64) });
export const isResourceShaped = (v: unknown): boolean => isObject(v) && typeof v.resourceType === 'string' && v.resourceType.length >= 1 && v.resourceType.length <= 64;
const resourceLike = fhir<Resource>(resourceShape, isResourceShaped);

export const bundleShape = z.looseObject({
  resourceType: z.literal('Bundle'),
  entry: z
    .array(z.looseObject({ resource: resourceShape.optional() }))
    .optional(),
});
export function isBundleShaped(v: unknown): boolean {
  if (!isObject(v) || v.resourceType !== 'Bundle') return false;
  const entry = v.entry;
  if (entry === undefined) return true;
  if (!Array.isArray(entry)) return false;
  // Every index, as zod reads them (`every` would skip a hole).
  for (let i = 0; i < entry.length; i++) {
    const e: unknown = entry[i];
    if (!isObject(e) || (e.resource !== undefined && !isResourceShaped(e.resource))) return false;
  }
  return true;
}
const bundleLike = fhir<Bundle>(bundleShape, isBundleShaped);

/** The hooks this service answers. */
export const HOOK_NAMES = ['order-select', 'order-sign'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

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

const fhirAuthorizationSchema = z.looseObject({
  access_token: z.string().min(1).max(16384),
  token_type: z.string().min(1),
  expires_in: z.number().optional(),
  scope: z.string().optional(),
  subject: z.string().optional(),
  patient: z.string().optional(),
});

export const hookRequestSchema = z
  .looseObject({
    hook: z.string().min(1),
    hookInstance: z.string().min(1).max(256),
    fhirServer: httpUrl.optional(),
    fhirAuthorization: fhirAuthorizationSchema.optional(),
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

export type FhirAuthorization = z.infer<typeof fhirAuthorizationSchema>;

/**
 * `hookRequestSchema`'s check in plain code, for the common case: a conforming request is read as
 * sent, without zod's parse (a copy of every object, then thrown away); one that does not is parsed
 * by the schema for the issue it words. It must accept nothing the schema refuses (test/hooks/schema.test.ts).
 */
export function isHookRequestShaped(v: unknown): v is z.infer<typeof hookRequestSchema> {
  if (!isObject(v)) return false;
  if (!isString(v.hook, 1, Infinity) || !isString(v.hookInstance, 1, 256)) return false;
  if (v.fhirServer !== undefined && !isHttpUrl(v.fhirServer)) return false;
  if (v.fhirAuthorization !== undefined && (v.fhirServer === undefined || !isFhirAuthorization(v.fhirAuthorization))) return false;
  const c = v.context;
  if (!isObject(c) || !isString(c.userId, 1, 512) || !isString(c.patientId, 1, 256)) return false;
  if (c.encounterId !== undefined && !isString(c.encounterId, 0, 256)) return false;
  if (c.selections !== undefined && !isStringList(c.selections, 512)) return false;
  if (!isBundleShaped(c.draftOrders)) return false;
  if (v.prefetch !== undefined) {
    if (!isObject(v.prefetch)) return false;
    for (const key in v.prefetch) {
      if (!Object.hasOwn(v.prefetch, key)) continue;
      const value = v.prefetch[key];
      if (value !== null && !isResourceShaped(value)) return false;
    }
  }
  return v.extension === undefined || isObject(v.extension);
}

const isString = (v: unknown, min: number, max: number): v is string => typeof v === 'string' && v.length >= min && v.length <= max;

function isStringList(v: unknown, max: number): boolean {
  if (!Array.isArray(v)) return false;
  // Every index, as zod reads them (`every` would skip a hole).
  for (let i = 0; i < v.length; i++) if (!isString(v[i], 0, max)) return false;
  return true;
}

function isHttpUrl(v: unknown): boolean {
  return isString(v, 0, 2048) && httpUrl.safeParse(v).success;
}

function isFhirAuthorization(v: unknown): boolean {
  if (!isObject(v)) return false;
  if (!isString(v.access_token, 1, 16384) || !isString(v.token_type, 1, Infinity)) return false;
  if (v.expires_in !== undefined && typeof v.expires_in !== 'number') return false;
  return [v.scope, v.subject, v.patient].every((f) => f === undefined || typeof f === 'string');
}

/** A CDS Hooks 2.0 request as this service reads it: the schema's output, for the hook it was checked against. */
export type HookRequest = Omit<Declared<z.infer<typeof hookRequestSchema>>, 'hook'> & { readonly hook: HookName };

/** The declared fields of a loose object's type (the index signature its unknown extra fields get is left out). */
type Declared<T> = { [K in keyof T as string extends K ? never : K]: T[K] };

/** Checks a hook request for the service's hook; throws a 400 naming the field. */
export function parseHookRequest(body: unknown, hook: HookName): HookRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('The request body must be a JSON object (a CDS Hooks request).');
  }
  const req = isHookRequestShaped(body) ? body : checkedHookRequest(body);
  if (req.hook !== hook) {
    throw badRequest(`hook: this service answers "${hook}", the request says "${req.hook}"`, 'hook');
  }
  if (hook === 'order-select' && !Array.isArray(req.context.selections)) {
    throw badRequest('context.selections: required for order-select', 'context.selections');
  }
  return { ...req, hook };
}

/** The schema's parse of a request that did not pass the plain check: a 400 naming the field, or the request. */
function checkedHookRequest(body: unknown): z.infer<typeof hookRequestSchema> {
  const parsed = hookRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.map(String).join('.') || '(body)';
    throw badRequest(`${field}: ${issue.message}`, field);
  }
  return parsed.data;
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

export type CdsFeedback = z.infer<typeof feedbackSchema>['feedback'][number];

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
  return parsed.data.feedback;
}
