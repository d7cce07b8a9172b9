import type { Bundle, Questionnaire } from 'fhir/r4.js';
import express from 'express';
import { notFound } from '../hooks/errors.js';
import type { PolicyLibrary } from '../library/library.js';
import { allQuestionnaires } from './questionnaire.js';

const FHIR_JSON = 'application/fhir+json';

/**
 * `GET /fhir/Questionnaire/:id` and `GET /fhir/Questionnaire?url=` (searchset): the documentation
 * questionnaires the coverage-information `questionnaire` canonical points at (DTR fetches them by URL).
 */
export function questionnaireRoutes(library: PolicyLibrary, publicBaseUrl: string): express.Router {
  const questionnaires = allQuestionnaires(library.policies, library.facts, library.findings, publicBaseUrl);
  const router = express.Router();

  router.get('/fhir/Questionnaire', (req, res) => {
    const urls = [req.query.url].flat().filter((u): u is string => typeof u === 'string');
    // `url|version` is the canonical with a version, as FHIR search allows.
    const wanted = urls.map((u) => {
      const [url, version] = u.split('|');
      return { url, version };
    });
    const matches = questionnaires.filter((q) => wanted.length === 0 || wanted.some((w) => w.url === q.url && (!w.version || w.version === q.version)));
    const bundle: Bundle<Questionnaire> = {
      resourceType: 'Bundle',
      type: 'searchset',
      total: matches.length,
      entry: matches.map((q) => ({ fullUrl: `${publicBaseUrl}/fhir/Questionnaire/${q.id}`, resource: q, search: { mode: 'match' } })),
    };
    res.type(FHIR_JSON).json(bundle);
  });

  router.get('/fhir/Questionnaire/:id', (req, res, next) => {
    const q = questionnaires.find((x) => x.id === req.params.id);
    if (!q) {
      next(notFound(`No Questionnaire "${req.params.id}" (see GET /fhir/Questionnaire)`));
      return;
    }
    res.type(FHIR_JSON).json(q);
  });

  return router;
}
