import type { CapabilityStatement, OperationOutcome } from 'fhir/r4.js';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Config } from '../config/config.js';
import { HttpError, notFound } from '../hooks/errors.js';
import type { PolicyLibrary } from '../library/library.js';
import type { Logger } from '../log.js';
import type { DecisionRecordStore } from '../store/types.js';
import { FACT_LIBRARY_NAME, factLibrary, factLibraryResource } from './factLibrary.js';
import type { KnownAnswerStore } from './knownAnswers.js';
import { packageParameters, parametersSchema, parsePackageInput, questionnairePackage } from './package.js';
import { expand, fhirValueSet, valueSetUrl } from './valueSets.js';

const FHIR_JSON = 'application/fhir+json';

export interface DtrRouteDeps {
  readonly library: PolicyLibrary;
  readonly config: Pick<Config, 'publicBaseUrl' | 'bodyLimit' | 'dtrVersion'>;
  readonly records?: DecisionRecordStore;
  readonly known: KnownAnswerStore;
  readonly logger: Logger;
  readonly now: () => Date;
}

const logErrorsSchema = z.looseObject({
  resourceType: z.literal('Parameters'),
  parameter: z.array(z.looseObject({ name: z.string(), valueCanonical: z.string().optional(), resource: z.looseObject({ resourceType: z.string() }).optional() })),
});
const issuesSchema = z.looseObject({
  resourceType: z.literal('OperationOutcome'),
  issue: z.array(z.looseObject({ severity: z.string(), code: z.string(), diagnostics: z.string().optional(), expression: z.array(z.string()).optional() })).min(1),
});

/**
 * The Da Vinci DTR payer endpoints: `$questionnaire-package`, `$log-questionnaire-errors`,
 * `ValueSet/$expand`, the Library and ValueSets the forms use, and `GET /fhir/metadata`.
 */
export function dtrRoutes(deps: DtrRouteDeps): express.Router {
  const { library, config } = deps;
  const base = config.publicBaseUrl;
  const artifactsDate = deps.now().toISOString();
  // Built on first use: most apps (and tests) never serve a DTR client.
  const lib = () => factLibrary(library.facts);
  const router = express.Router();
  const json = express.json({ limit: config.bodyLimit, type: ['application/json', 'application/*+json'] });
  const requireJson = (req: Request, _res: Response, next: NextFunction): void => {
    next(req.is(['application/json', 'application/*+json']) ? undefined : new HttpError(415, 'not-supported', 'Content-Type must be application/fhir+json (or application/json)'));
  };

  router.get('/fhir/metadata', (_req, res) => {
    res.type(FHIR_JSON).json(capabilityStatement(base, artifactsDate));
  });

  router.post('/fhir/Questionnaire/\\$questionnaire-package', requireJson, json, async (req, res, next) => {
    try {
      const input = parsePackageInput(req.body, config.dtrVersion);
      const result = await questionnairePackage(input, { library, publicBaseUrl: base, records: deps.records, known: deps.known, now: deps.now, artifactsDate });
      if (result.kind === 'not-needed') {
        res.type(FHIR_JSON).json(result.outcome);
        return;
      }
      res.type(FHIR_JSON).json(packageParameters(result, input.version));
    } catch (err) {
      next(err);
    }
  });

  router.post('/fhir/Questionnaire/\\$log-questionnaire-errors', requireJson, json, (req, res, next) => {
    try {
      const p = logErrorsSchema.safeParse(req.body);
      if (!p.success) throw new HttpError(400, 'invalid', 'The body must be a Parameters resource with "Questionnaire" and "OperationOutcome" parameters', 'Parameters');
      const byName = (n: string) => p.data.parameter.find((x) => x.name.toLowerCase() === n.toLowerCase());
      const questionnaire = byName('questionnaire')?.valueCanonical;
      const issues = issuesSchema.safeParse(byName('operationoutcome')?.resource);
      if (!questionnaire) throw new HttpError(400, 'required', '"Questionnaire" (valueCanonical) is required', 'Parameters.parameter.where(name=\'Questionnaire\')');
      if (!issues.success) throw new HttpError(400, 'required', '"OperationOutcome" (an OperationOutcome with at least one issue) is required', 'Parameters.parameter.where(name=\'OperationOutcome\')');
      // DTR forbids PHI in these reports; still, only clipped diagnostics and locations are kept.
      deps.logger.warn(
        {
          questionnaire: questionnaire.slice(0, 300),
          issues: issues.data.issue.slice(0, 50).map((i) => ({ severity: i.severity, code: i.code, diagnostics: i.diagnostics?.slice(0, 300), expression: i.expression?.slice(0, 5) })),
        },
        'DTR client reported questionnaire errors',
      );
      const ok: OperationOutcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: `Logged ${issues.data.issue.length} issue(s) for ${questionnaire}` }] };
      res.type(FHIR_JSON).json(ok);
    } catch (err) {
      next(err);
    }
  });

  const valueSet = (id: string) => {
    const vs = lib().valueSets.has(id) ? fhirValueSet(library.valueSets, id, base, lib().version) : undefined;
    if (!vs) throw notFound(`No ValueSet "${id}" is used by the documentation forms (see the Library ${FACT_LIBRARY_NAME})`);
    return vs;
  };
  const expanded = (id: string) => {
    const r = expand(valueSet(id), deps.now());
    if ('reason' in r) throw new HttpError(422, 'too-costly', r.reason);
    return r.expanded;
  };
  const idOfUrl = (url: unknown): string => {
    const [u] = typeof url === 'string' ? url.split('|') : [''];
    const id = /\/ValueSet\/([^/]+)$/.exec(u)?.[1];
    if (!id || valueSetUrl(base, id) !== u) throw notFound(`No ValueSet with url "${String(url)}"`);
    return id;
  };

  router.get('/fhir/ValueSet/\\$expand', (req, res, next) => {
    try {
      if (typeof req.query.url !== 'string') throw new HttpError(400, 'required', 'url is required (the ValueSet canonical)', 'url');
      res.type(FHIR_JSON).json(expanded(idOfUrl(req.query.url)));
    } catch (err) {
      next(err);
    }
  });
  router.post('/fhir/ValueSet/\\$expand', requireJson, json, (req, res, next) => {
    try {
      const p = parametersSchema.safeParse(req.body);
      const url = p.success ? p.data.parameter.find((x) => x.name === 'url') : undefined;
      if (!url) throw new HttpError(400, 'required', 'A Parameters body with "url" is required', 'Parameters.parameter.where(name=\'url\')');
      res.type(FHIR_JSON).json(expanded(idOfUrl(url.valueUri ?? url.valueCanonical ?? url.valueString)));
    } catch (err) {
      next(err);
    }
  });
  router.get('/fhir/ValueSet/:id/\\$expand', (req, res, next) => {
    try {
      res.type(FHIR_JSON).json(expanded(String(req.params.id)));
    } catch (err) {
      next(err);
    }
  });
  router.get('/fhir/ValueSet/:id', (req, res, next) => {
    try {
      res.type(FHIR_JSON).json(valueSet(String(req.params.id)));
    } catch (err) {
      next(err);
    }
  });
  router.get('/fhir/Library/:id', (req, res, next) => {
    if (req.params.id !== FACT_LIBRARY_NAME) {
      next(notFound(`No Library "${req.params.id}" (the forms use ${FACT_LIBRARY_NAME})`));
      return;
    }
    res.type(FHIR_JSON).json(factLibraryResource(lib(), base, (id) => valueSetUrl(base, id)));
  });

  return router;
}

function capabilityStatement(base: string, date: string): CapabilityStatement {
  const op = (name: string, definition: string) => ({ name, definition });
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date,
    kind: 'instance',
    instantiates: ['http://hl7.org/fhir/us/davinci-dtr/CapabilityStatement/dtr-payer-service'],
    software: { name: 'lumbar-mri-cds' },
    implementation: { description: 'Lumbar spine MRI coverage requirements (CDS Hooks / Da Vinci CRD) and documentation (Da Vinci DTR)', url: `${base}/fhir` },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        resource: [
          {
            type: 'Questionnaire',
            interaction: [{ code: 'read' }, { code: 'search-type' }],
            searchParam: [{ name: 'url', type: 'uri' }],
            operation: [
              op('questionnaire-package', 'http://hl7.org/fhir/us/davinci-dtr/OperationDefinition/questionnaire-package'),
              op('log-questionnaire-errors', 'http://hl7.org/fhir/us/davinci-dtr/OperationDefinition/log-questionnaire-errors'),
            ],
          },
          { type: 'Library', interaction: [{ code: 'read' }] },
          { type: 'ValueSet', interaction: [{ code: 'read' }], operation: [op('expand', 'http://hl7.org/fhir/OperationDefinition/ValueSet-expand')] },
          { type: 'CodeSystem', interaction: [{ code: 'read' }] },
          // Da Vinci PAS (src/pas/): the prior authorization request and its inquiry.
          {
            type: 'Claim',
            operation: [
              op('submit', 'http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-submit'),
              op('inquire', 'http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-inquiry'),
            ],
          },
        ],
      },
    ],
  };
}
