import { timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { HttpError, notFound } from '../hooks/errors.js';
import type { DecisionRecordStore } from '../store/types.js';

/** Operators only: `Authorization: Bearer <ADMIN_TOKEN>`; 403 when no token is configured. */
export function operatorOnly(adminToken: string | undefined): express.RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!adminToken) {
      next(new HttpError(403, 'forbidden', 'The operator API is disabled: set ADMIN_TOKEN to enable it'));
      return;
    }
    const given = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '')?.[1] ?? '';
    const a = Buffer.from(given);
    const b = Buffer.from(adminToken);
    if (a.length !== b.length || !timingSafeEqual(a, b)) {
      res.status(401).set('WWW-Authenticate', 'Bearer').json({ error: 'unauthorized', reason: 'operator token required' });
      return;
    }
    next();
  };
}

/** An optional query parameter read as a date or instant (ISO); 400 naming it when it is neither. */
export function instantParam(query: Request['query'], name: string): string | undefined {
  const v = query[name];
  if (typeof v !== 'string' || v.length === 0) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new HttpError(400, 'invalid', `${name}: not a date or instant`, name);
  return new Date(t).toISOString();
}

/**
 * `GET /coverage-assertions/{id}` and `GET /coverage-assertions?patient=&from=&to=&limit=`: the record
 * behind a coverage-assertion-id, for dispute resolution. Operators only: `Authorization: Bearer
 * <ADMIN_TOKEN>`, never a CDS client's JWT.
 */
export function coverageAssertionRoutes(store: DecisionRecordStore, adminToken: string | undefined): express.Router {
  const router = express.Router();
  router.use(operatorOnly(adminToken));
  router.get('/:id', async (req, res, next) => {
    try {
      const found = await store.findByAssertionId(String(req.params.id));
      if (!found) throw notFound(`No coverage assertion ${req.params.id}`);
      res.json(found);
    } catch (err) {
      next(err);
    }
  });
  router.get('/', async (req, res, next) => {
    try {
      const q = req.query;
      const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
      const instant = (name: string): string | undefined => instantParam(q, name);
      const limitRaw = str(q.limit);
      const limit = limitRaw === undefined ? undefined : Number(limitRaw);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 1000)) {
        throw new HttpError(400, 'invalid', 'limit: an integer from 1 to 1000', 'limit');
      }
      const patient = str(q.patient);
      const items = await store.listAssertions({
        patient: patient && !patient.includes('/') ? `Patient/${patient}` : patient,
        from: instant('from'),
        to: instant('to'),
        limit,
      });
      res.json({ total: items.length, items });
    } catch (err) {
      next(err);
    }
  });
  return router;
}
