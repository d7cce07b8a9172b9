import express from 'express';
import { HttpError } from '../hooks/errors.js';
import { instantParam, operatorOnly, type OperatorApiOptions } from '../records/routes.js';
import { priorAuthReport, reportCsv, type ReportGranularity } from '../pas/report.js';
import { fromStore, type PriorAuthStore } from '../pas/store.js';

const GRANULARITIES: readonly ReportGranularity[] = ['year', 'quarter', 'month'];

/**
 * `GET /prior-authorization-report?from=&to=&granularity=year|quarter|month&format=json|csv`: the
 * CMS-0057-F metrics. Operators only (`ADMIN_TOKEN`), like `/coverage-assertions`.
 */
export function priorAuthReportRoutes(store: PriorAuthStore, operator: OperatorApiOptions, now?: () => Date): express.Router {
  const router = express.Router();
  router.use(operatorOnly(operator));
  router.get('/', async (req, res, next) => {
    try {
      const from = instantParam(req.query, 'from');
      const to = instantParam(req.query, 'to');
      const g = req.query.granularity ?? 'year';
      const granularity = GRANULARITIES.find((x) => x === g);
      if (!granularity) throw new HttpError(400, 'invalid', `granularity: one of ${GRANULARITIES.join(', ')}`, 'granularity');
      const format = req.query.format ?? (req.accepts(['application/json', 'text/csv']) === 'text/csv' ? 'csv' : 'json');
      if (format !== 'json' && format !== 'csv') throw new HttpError(400, 'invalid', 'format: json or csv', 'format');
      // Earlier determinations are read too, so a resubmission inside the window is not taken for a new request.
      const determinations = await fromStore(() => store.determinations(to ? { to } : {}), 'The decision records are unavailable');
      const report = priorAuthReport(determinations, { granularity, from, to, now: now?.() });
      if (format === 'csv') res.type('text/csv').send(reportCsv(report));
      else res.json(report);
    } catch (err) {
      next(err);
    }
  });
  return router;
}
