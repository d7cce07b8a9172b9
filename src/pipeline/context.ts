import type { Config } from '../config/config.js';
import type { PolicyLibrary } from '../library/library.js';
import { questionnaireCanonical } from '../questionnaire/questionnaire.js';
import { TerminologyServer } from '../terminology/terminologyServer.js';
import type { HookContext } from './runHook.js';

/**
 * The hook pipeline's context from configuration, for the service and the CLI alike. FHIR servers
 * are refused here; the service allows them per request (the authenticated client's or the allow-list).
 */
export function hookContextFromConfig(
  config: Config,
  library: PolicyLibrary,
  extra: Pick<HookContext, 'decisionCache' | 'shownDecisions' | 'orderSignCards' | 'now' | 'onUnusableCacheEntry'> = {},
): HookContext {
  return {
    library,
    record: {
      fhirServerAllowed: () => false,
      fhirTimeoutMs: config.fhirTimeoutMs,
      requestDeadlineMs: config.requestDeadlineMs,
      maxPages: config.maxFhirPages,
      maxResources: config.maxResources,
      maxResponseBytes: config.maxFhirResponseBytes,
      maxRecordBytes: config.maxFhirRecordBytes,
      maxCalls: config.maxFhirCalls,
    },
    evaluationBudgetMs: config.evaluationBudgetMs,
    questionnaireUrl: (policyId, version) => questionnaireCanonical(config.publicBaseUrl, { policyId, version }),
    ...(config.terminologyServerUrl ? { terminology: new TerminologyServer({ baseUrl: config.terminologyServerUrl, timeoutMs: config.terminologyTimeoutMs }) } : {}),
    dtrAppUrl: config.dtrAppUrl,
    ...(config.playground ? { formPageUrl: `${config.publicBaseUrl}/playground/form.html` } : {}),
    ...extra,
  };
}
