/**
 * LHC-Forms (npm `lforms`, the renderer the Da Vinci DTR reference app uses), served by the app from
 * node_modules under /playground/lforms/. Its built files are plain scripts that define the global
 * `LForms`, not modules esbuild could bundle: they are loaded on first use, in the order its README
 * gives, so a page that never shows a form does not fetch them.
 */
import type { Bundle, OperationOutcome, Parameters, Questionnaire, QuestionnaireResponse } from 'fhir/r4.js';

/** The part of the LForms API the playground uses. */
interface LFormsUtil {
  addFormToPage(form: Questionnaire, container: HTMLElement, options?: { questionnaireResponse?: QuestionnaireResponse; fhirVersion?: 'R4'; prepopulate?: boolean }): Promise<void>;
  getFormFHIRData(type: 'QuestionnaireResponse', version: 'R4', container: HTMLElement): QuestionnaireResponse;
}

declare global {
  interface Window {
    LForms?: { Util: LFormsUtil; lformsVersion?: string };
  }
}

const BASE = 'lforms/';
const STYLES = 'webcomponent/styles.css';
const SCRIPTS: readonly [path: string, module: boolean][] = [
  ['webcomponent/assets/lib/zone.min.js', false],
  ['webcomponent/runtime.js', true],
  ['webcomponent/polyfills.js', true],
  ['webcomponent/main.js', true],
  ['fhir/R4/lformsFHIR.min.js', false],
];

let loading: Promise<LFormsUtil> | undefined;

function script(src: string, module: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    if (module) s.type = 'module';
    s.onload = () => resolve();
    s.onerror = () => reject(new Error(`Could not load the form renderer (${src})`));
    document.head.append(s);
  });
}

/** LForms.Util, once its scripts ran (main.js defines the global when it runs, after onload of modules). */
export function loadLForms(): Promise<LFormsUtil> {
  loading ??= (async () => {
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = BASE + STYLES;
    document.head.append(link);
    for (const [path, module] of SCRIPTS) await script(BASE + path, module);
    for (let i = 0; i < 100 && !window.LForms?.Util; i += 1) await new Promise((r) => setTimeout(r, 50));
    if (!window.LForms?.Util) throw new Error('The form renderer (LForms) did not start');
    return window.LForms.Util;
  })();
  return loading;
}

/** What a `$questionnaire-package` answer gives the form: the Questionnaire and its draft response, or why there is none. */
export type PackagedForm = { readonly questionnaire: Questionnaire; readonly draft?: QuestionnaireResponse } | { readonly notNeeded: string };

export function packagedForm(answer: Parameters | OperationOutcome): PackagedForm {
  // An OperationOutcome instead of Parameters: the payer says documentation is no longer needed.
  if (answer.resourceType === 'OperationOutcome') return { notNeeded: answer.issue[0]?.diagnostics ?? 'No documentation is needed.' };
  const bundle = answer.parameter?.find((p) => p.resource?.resourceType === 'Bundle')?.resource as Bundle | undefined;
  const resources = (bundle?.entry ?? []).map((e) => e.resource);
  const questionnaire = resources.find((r): r is Questionnaire => r?.resourceType === 'Questionnaire');
  if (!questionnaire) throw new Error('The questionnaire package holds no Questionnaire');
  const draft = resources.find((r): r is QuestionnaireResponse => r?.resourceType === 'QuestionnaireResponse');
  return { questionnaire, ...(draft ? { draft } : {}) };
}

/**
 * Renders the form with the draft's answers merged in. LForms evaluates FHIRPath and x-fhir-query
 * expressions, not CQL: the items' CQL initialExpressions are left to DTR clients that run CQL; here
 * the pre-population is the draft the payer filled from what the CRD call read.
 */
export async function renderForm(container: HTMLElement, form: { readonly questionnaire: Questionnaire; readonly draft?: QuestionnaireResponse }): Promise<void> {
  const lforms = await loadLForms();
  container.replaceChildren();
  await lforms.addFormToPage(form.questionnaire, container, { fhirVersion: 'R4', ...(form.draft ? { questionnaireResponse: form.draft } : {}) });
}

/** The response as the renderer holds it now. */
export function renderedResponse(container: HTMLElement): QuestionnaireResponse {
  if (!window.LForms) throw new Error('The form renderer is not loaded');
  return window.LForms.Util.getFormFHIRData('QuestionnaireResponse', 'R4', container);
}
