import express from 'express';
import { z } from 'zod';
import { HttpError, notFound } from '../hooks/errors.js';
import { failureLimit, requireBearer } from '../security/throttle.js';
import type { DecisionRecordStore } from '../store/types.js';

/**
 * A FHIR date, dateTime or instant with a four-digit year (`2024`, `2024-06`, `2024-06-12`,
 * `2024-06-12T10:00:00Z`): what the database can compare. `Date.parse` alone accepts extended years
 * (`275760-09-13`) the database cannot.
 */
const FHIR_DATE = /^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d(:([0-5]\d|60)(\.\d{1,9})?)?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))?)?)?)?$/;

const instant = z
  .string()
  .regex(FHIR_DATE, 'a FHIR date or instant with a four-digit year, e.g. 2024-06-12 or 2024-06-12T10:00:00Z')
  .transform((v, ctx) => {
    const t = Date.parse(v.length === 4 ? `${v}-01-01` : v.length === 7 ? `${v}-01` : v);
    if (Number.isNaN(t)) {
      ctx.addIssue({ code: 'custom', message: 'not a calendar date' });
      return z.NEVER;
    }
    return new Date(t).toISOString();
  });

/** The list query: every parameter at most once, no unknown ones (a misspelt filter must not widen the answer). */
const listQuery = z.strictObject({
  patient: z.string().min(1).max(256).optional(),
  from: instant.optional(),
  to: instant.optional(),
  limit: z
    .string()
    .regex(/^\d{1,4}$/, 'an integer from 1 to 1000')
    .transform(Number)
    .pipe(z.number().int().min(1, 'an integer from 1 to 1000').max(1000, 'an integer from 1 to 1000'))
    .optional(),
});

export type AssertionListQuery = z.infer<typeof listQuery>;

/** The list query from `req.query`, or a 400 naming the parameter at fault. */
export function parseListQuery(query: unknown): AssertionListQuery {
  if (query && typeof query === 'object') {
    for (const [name, value] of Object.entries(query)) {
      // `?patient=a&patient=b` must not turn into "no patient filter".
      if (typeof value !== 'string') throw new HttpError(400, 'invalid', `${name}: give this parameter once, as plain text`, name);
    }
  }
  const parsed = listQuery.safeParse(query ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const name = issue?.code === 'unrecognized_keys' ? issue.keys[0] : issue?.path.join('.');
  const message = issue?.code === 'unrecognized_keys' ? 'not a parameter of this list (patient, from, to, limit)' : issue?.message;
  throw new HttpError(400, 'invalid', `${name ?? 'query'}: ${message ?? 'invalid'}`, name);
}

export interface OperatorApiOptions {
  readonly adminToken: string | undefined;
  /** Wrong tokens a minute per address before the address is refused (429). */
  readonly failuresPerMinute: number;
}

/** One query parameter read as a FHIR date or instant with a four-digit year (ISO out); 400 naming it otherwise. */
export function instantParam(query: Record<string, unknown>, name: string): string | undefined {
  const v = query[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new HttpError(400, 'invalid', `${name}: give this parameter once, as plain text`, name);
  const parsed = instant.safeParse(v);
  if (!parsed.success) throw new HttpError(400, 'invalid', `${name}: ${parsed.error.issues[0]?.message ?? 'not a date'}`, name);
  return parsed.data;
}

/**
 * Operators only: `Authorization: Bearer <ADMIN_TOKEN>`, wrong tokens throttled per address; 403
 * when no token is configured. The operator API and the prior-authorization report share it.
 */
export function operatorOnly(options: OperatorApiOptions): express.Router {
  const router = express.Router();
  const { adminToken } = options;
  if (!adminToken) {
    router.use(() => {
      throw new HttpError(403, 'forbidden', 'The operator API is disabled: set ADMIN_TOKEN to enable it');
    });
    return router;
  }
  router.use(failureLimit({ perMinute: options.failuresPerMinute, what: 'operator token' }));
  router.use(requireBearer(adminToken, 'operator token required'));
  return router;
}

/**
 * `GET /coverage-assertions/{id}` and `GET /coverage-assertions?patient=&from=&to=&limit=`: the record
 * behind a coverage-assertion-id, for dispute resolution. Operators only: `Authorization: Bearer
 * <ADMIN_TOKEN>`, never a CDS client's JWT; wrong tokens are throttled per address.
 */
export function coverageAssertionRoutes(store: DecisionRecordStore, options: OperatorApiOptions): express.Router {
  const router = express.Router();
  router.use(operatorOnly(options));
  router.get('/:id', async (req, res) => {
    const found = await store.findByAssertionId(String(req.params.id));
    if (!found) throw notFound(`No coverage assertion ${req.params.id}`);
    res.json(found);
  });
  router.get('/', async (req, res) => {
    const q = parseListQuery(req.query);
    const items = await store.listAssertions({
      patient: q.patient && !q.patient.includes('/') ? `Patient/${q.patient}` : q.patient,
      from: q.from,
      to: q.to,
      limit: q.limit,
    });
    res.json({ total: items.length, items });
  });
  return router;
}
