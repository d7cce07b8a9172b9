/**
 * The page the documentation card's link opens outside the playground (form.html): the keys of the
 * card's link (those of the DTR app's appContext) -> `$questionnaire-package` -> the form rendered by
 * LHC-Forms -> the completed QuestionnaireResponse, shown for the EHR to send with the next order-sign.
 */
import type { Coverage, OperationOutcome, Parameters } from 'fhir/r4.js';
import { packagedForm, renderedResponse, renderForm } from './lforms.js';
import { completedResponse } from './questionnaire.js';

const byId = (id: string): HTMLElement => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} missing from form.html`);
  return found;
};

function setStatus(text: string, error = false): void {
  byId('status').textContent = text;
  byId('status').classList.toggle('error', error);
}

/** The package request from the link: the assertion when order-sign kept one, else the questionnaire canonical. */
function formRequest(query: URLSearchParams): Parameters {
  const coverageId = /^Coverage\/(.+)$/.exec(query.get('coverage') ?? '')?.[1];
  if (!coverageId) throw new Error('The link names no coverage (coverage=Coverage/<id>)');
  const patient = query.get('patient');
  // The EHR would send its Coverage resource; the link carries its reference, which is all the payer matches on.
  const coverage: Coverage = { resourceType: 'Coverage', id: coverageId, status: 'active', ...(patient ? { beneficiary: { reference: patient } } : { beneficiary: {} }), payor: [] };
  const context = query.get('coverage-assertion-id');
  const questionnaire = query.get('questionnaire');
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'coverage', resource: coverage },
      ...(context ? [{ name: 'context', valueString: context }] : questionnaire ? [{ name: 'questionnaire', valueCanonical: questionnaire }] : []),
    ],
  };
}

async function main(): Promise<void> {
  const query = new URLSearchParams(location.search);
  const res = await fetch('/fhir/Questionnaire/$questionnaire-package', {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
    body: JSON.stringify(formRequest(query)),
  });
  const answer = (await res.json()) as Parameters | OperationOutcome;
  if (!res.ok) throw new Error(`$questionnaire-package: ${res.status}${answer.resourceType === 'OperationOutcome' ? `, ${answer.issue[0]?.diagnostics ?? ''}` : ''}`);
  const form = packagedForm(answer);
  if ('notNeeded' in form) {
    setStatus(form.notNeeded);
    return;
  }
  const container = byId('questionnaire');
  await renderForm(container, form);
  const canonical = query.get('questionnaire') ?? `${form.questionnaire.url}|${form.questionnaire.version}`;
  const patientId = (query.get('patient') ?? form.draft?.subject?.reference ?? '').replace(/^Patient\//, '');
  setStatus(query.get('coverage-assertion-id') ? `For coverage assertion ${query.get('coverage-assertion-id')}.` : 'The whole form (order-select keeps no coverage assertion).');
  byId('complete').hidden = false;
  byId('questionnaire-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const qr = completedResponse(renderedResponse(container), form.draft, { id: `qr-form-${Date.now()}`, canonical, patientId, authored: new Date().toISOString() });
    byId('response').textContent = JSON.stringify(qr, null, 2);
    byId('result').hidden = false;
  });
}

main().catch((err: unknown) => setStatus((err as Error).message, true));
