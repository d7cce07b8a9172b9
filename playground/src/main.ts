/**
 * The playground page: an EHR in miniature. It fires order-select then order-sign at this service,
 * renders cards, suggestions, the coverage information written on the order and the documentation
 * questionnaire, and shows every request and response.
 */
import { marked } from 'marked';
import type { OperationOutcome, Parameters, QuestionnaireResponse } from 'fhir/r4.js';
import type { CdsCard, CdsResponse, CdsServiceDefinition, HookName } from '../../src/hooks/types.js';
import { coverageSummaries, type CoverageSummary } from './coverageInformation.js';
import { packagedForm, renderedResponse, renderForm } from './lforms.js';
import { completedResponse } from './questionnaire.js';
import {
  applyActions,
  applyChoices,
  COVERAGE_PRESETS,
  dateForPreset,
  hookRequest,
  lumbarCode,
  orderDate,
  packageRequest,
  patientBanner,
  primaryOrder,
  recordCoverages,
  sessionFromBundle,
  sessionFromRequest,
  STUDIES,
  type CoverageChoice,
  type CoveragePreset,
  type OrderChoices,
  type Session,
  type StudyCode,
} from './session.js';

// Card detail is markdown from the service; raw HTML in it is shown as text, never run.
marked.use({ renderer: { html: (token) => escapeHtml(token.text) } });

const el = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} missing from index.html`);
  return found as T;
};

const ui = {
  form: el<HTMLFormElement>('order-form'),
  fixture: el<HTMLSelectElement>('fixture'),
  fixtureDescription: el('fixture-description'),
  paste: el<HTMLTextAreaElement>('paste'),
  loadPaste: el<HTMLButtonElement>('load-paste'),
  study: el<HTMLSelectElement>('study'),
  dos: el<HTMLInputElement>('dos'),
  coverage: el<HTMLSelectElement>('coverage'),
  run: el<HTMLButtonElement>('run'),
  drafts: el<HTMLUListElement>('drafts'),
  resultsHeading: el('results-heading'),
  status: el('status'),
  banner: el('patient-banner'),
  coverageInfo: el('coverage-info'),
  questionnairePanel: el('questionnaire-panel'),
  questionnaireForm: el<HTMLFormElement>('questionnaire-form'),
  questionnaire: el('questionnaire'),
  cardsSelect: el('cards-select'),
  cardsSign: el('cards-sign'),
  exchanges: el('exchanges'),
};

const serviceIds: Record<HookName, string> = { 'order-select': 'lumbar-mri-order-select', 'order-sign': 'lumbar-mri-order-sign' };
let session: Session | undefined;
let fixtureDescriptions = new Map<string, string>();
/** The documentation form on screen: for which coverage assertion, and the package's draft response. */
let shownForm: { canonical: string; assertionId: string; draft?: QuestionnaireResponse } | undefined;
/** The coverage information of the last order-sign that asked for documentation. */
let documentation: CoverageSummary | undefined;
let responseCount = 0;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

function setStatus(text: string, error = false): void {
  ui.status.textContent = text;
  ui.status.classList.toggle('error', error);
}

function make<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** One HTTP exchange with the service, logged in the requests panel. */
async function exchange<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const started = performance.now();
  let status = 0;
  let text = '';
  try {
    const res = await fetch(path, {
      method,
      headers: { accept: 'application/json, application/fhir+json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    status = res.status;
    text = await res.text();
  } finally {
    logExchange(method, path, body, status, text, Math.round(performance.now() - started));
  }
  const json: unknown = text ? JSON.parse(text) : undefined;
  if (status === 401) throw new Error(`${path}: 401, the service requires client authentication (run it with CDS_AUTH=off to use the playground)`);
  if (status < 200 || status >= 300) {
    const diagnostics = (json as { issue?: { diagnostics?: string }[] } | undefined)?.issue?.[0]?.diagnostics;
    throw new Error(`${method} ${path}: ${status}${diagnostics ? `, ${diagnostics}` : ''}`);
  }
  return json as T;
}

function logExchange(method: string, path: string, body: unknown, status: number, text: string, ms: number): void {
  const pretty = (s: string): string => {
    try {
      return JSON.stringify(JSON.parse(s), null, 2);
    } catch {
      return s;
    }
  };
  const details = make('details', { className: 'exchange' },
    make('summary', {}, `${method} ${path} → ${status || 'network error'} (${ms} ms)`),
    make('div', { className: 'exchange-body' },
      make('div', {}, make('h3', {}, 'Request'), make('pre', { tabIndex: 0 }, body === undefined ? '(no body)' : JSON.stringify(body, null, 2))),
      make('div', {}, make('h3', {}, 'Response'), make('pre', { tabIndex: 0 }, pretty(text))),
    ),
  );
  ui.exchanges.prepend(details);
  while (ui.exchanges.children.length > 12) ui.exchanges.lastElementChild?.remove();
}

function choices(): OrderChoices {
  return { study: ui.study.value as StudyCode, dateOfService: ui.dos.value || today(), coverage: ui.coverage.value as CoverageChoice };
}

function setSession(s: Session): void {
  session = s;
  shownForm = undefined;
  documentation = undefined;
  const order = primaryOrder(s);
  ui.study.value = lumbarCode(order) ?? '72148';
  ui.dos.value = orderDate(order, today());
  const insured = order?.insurance?.[0]?.reference;
  const options: [string, string][] = recordCoverages(s).map((c) => [
    `record:${c.id}`,
    `In the record: ${c.payor?.[0]?.display ?? 'payer'}${c.type?.coding?.[0]?.display ? `, ${c.type.coding[0].display}` : ''}`,
  ]);
  for (const [kind, preset] of Object.entries(COVERAGE_PRESETS)) options.push([`preset:${kind}`, preset.label]);
  options.push(['none', 'No coverage']);
  ui.coverage.replaceChildren(...options.map(([value, text]) => make('option', { value }, text)));
  const inRecord = options.find(([v]) => insured && v === `record:${insured.replace(/^Coverage\//, '')}`) ?? options.find(([v]) => v.startsWith('record:'));
  ui.coverage.value = inRecord?.[0] ?? 'none';
  for (const c of [ui.coverageInfo, ui.cardsSelect, ui.cardsSign]) c.replaceChildren();
  ui.questionnairePanel.hidden = true;
  renderBanner();
  renderDrafts();
  setStatus(`Patient/${s.patientId} loaded. Choose the study, date and coverage, then select and sign the order.`);
}

function renderBanner(): void {
  ui.banner.textContent = session ? patientBanner(session, ui.dos.value || today()) : '';
}

function renderDrafts(): void {
  if (!session) return;
  ui.drafts.replaceChildren(
    ...session.drafts.map((d) => {
      const coding = d.code?.coding?.[0];
      return make('li', { className: 'draft' }, `${coding?.code ?? '?'} ${d.code?.text ?? coding?.display ?? ''} (ServiceRequest/${d.id}, ${d.status})`);
    }),
  );
  if (!session.drafts.length) ui.drafts.append(make('li', {}, 'No draft orders'));
}

function renderCards(container: HTMLElement, cards: readonly CdsCard[], hook: HookName, empty = 'No cards.'): void {
  container.replaceChildren();
  if (!cards.length) {
    container.append(make('p', { className: 'hint' }, empty));
    return;
  }
  for (const card of cards) {
    const detail = make('div', { className: 'detail' });
    detail.innerHTML = card.detail ? (marked.parse(card.detail, { async: false }) as string) : '';
    const source = make('p', { className: 'source' }, 'Source: ');
    source.append(card.source.url ? make('a', { href: card.source.url, target: '_blank', rel: 'noopener noreferrer' }, card.source.label) : card.source.label);
    if (card.source.topic?.display) source.append(` · ${card.source.topic.display}`);
    const node = make('article', { className: `card ${card.indicator}` },
      make('span', { className: 'indicator' }, card.indicator),
      make('p', { className: 'summary' }, card.summary),
      detail,
      source,
    );
    node.setAttribute('aria-label', `${card.indicator} card: ${card.summary}`);
    if (card.links?.length) {
      node.append(make('ul', { className: 'links' }, ...card.links.map((l) => make('li', {}, cardLink(l.url, l.label)))));
    }
    if (card.suggestions?.length) {
      const box = make('div', { className: 'suggestions' });
      box.setAttribute('role', 'group');
      box.setAttribute('aria-label', 'Suggestions');
      for (const s of card.suggestions) {
        const button = make('button', { type: 'button', className: s.isRecommended ? 'suggestion recommended' : 'suggestion' }, s.label + (s.isRecommended ? ' (recommended)' : ''));
        button.addEventListener('click', () => void acceptSuggestion(card, s.uuid, hook, box, button));
        box.append(button);
      }
      node.append(box);
    }
    container.append(node);
  }
}

/** A card link; the service's documentation questionnaire opens as the rendered form here, not as its JSON. */
function cardLink(url: string, label: string): HTMLAnchorElement {
  const a = make('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, label);
  if (/\/fhir\/Questionnaire[/?]|\/playground\/form\.html\?/.test(url)) {
    a.removeAttribute('target');
    a.addEventListener('click', (e) => {
      e.preventDefault();
      if (!documentation) {
        setStatus('Sign the order first: the form is fetched for the coverage assertion order-sign writes on it.', true);
        return;
      }
      void showForm(documentation).then(
        () => el('questionnaire-heading').scrollIntoView(),
        (err: unknown) => setStatus((err as Error).message, true),
      );
    });
  }
  return a;
}

/** Applies the suggestion's actions to the draft orders, as the EHR would, and tells the service (feedback). */
async function acceptSuggestion(card: CdsCard, suggestionId: string, hook: HookName, box: HTMLElement, button: HTMLButtonElement): Promise<void> {
  if (!session) return;
  const suggestion = card.suggestions?.find((s) => s.uuid === suggestionId);
  if (!suggestion) return;
  applyActions(session, suggestion.actions ?? []);
  const order = primaryOrder(session);
  const code = lumbarCode(order);
  if (code) ui.study.value = code;
  renderDrafts();
  for (const b of Array.from(box.querySelectorAll('button'))) if (card.selectionBehavior === 'at-most-one' || b === button) b.disabled = true;
  button.textContent = `Applied: ${suggestion.label}`;
  // The coverage information belonged to the order as signed; the changed order has none until signed again.
  renderCoverage(session.drafts.flatMap(coverageSummaries), 'The order changed: not signed yet.');
  ui.questionnairePanel.hidden = true;
  // The order-sign cards were about the order before the change.
  renderCards(ui.cardsSign, [], 'order-sign', 'The order changed: select and sign it again for its cards.');
  setStatus(`Applied "${suggestion.label}": ${order ? `the order is now ${code ?? order.code?.coding?.[0]?.code} ${code ? STUDIES[code] : order.code?.text ?? ''}` : 'the order was replaced'}. Select and sign the order again for its decision.`);
  try {
    await exchange('POST', `/cds-services/${serviceIds[hook]}/feedback`, {
      feedback: [{ card: card.uuid, outcome: 'accepted', acceptedSuggestions: [{ id: suggestion.uuid }], outcomeTimestamp: new Date().toISOString() }],
    });
  } catch (err) {
    setStatus(`Feedback failed: ${(err as Error).message}`, true);
  }
}

function renderCoverage(summaries: readonly CoverageSummary[], empty = 'No coverage information on the order (no usable coverage, or not a lumbar MRI order).'): void {
  ui.coverageInfo.replaceChildren();
  if (!summaries.length) {
    ui.coverageInfo.append(make('p', { className: 'hint' }, empty));
    return;
  }
  for (const s of summaries) {
    const rows: [string, string | undefined][] = [
      ['Coverage', `${s.covered}${s.coverage ? ` (${s.coverage})` : ''}`],
      ['Prior authorization', s.priorAuthorization],
      ['Documentation', s.documentation],
      ['Policy', s.policy],
      ['Criterion', s.criterion],
      ['Assertion', s.assertionId ? `${s.assertionId}${s.date ? `, ${s.date}` : ''}` : undefined],
    ];
    const kind = s.covered === 'Not covered' ? ' not-covered' : s.documentation || s.priorAuthorization === 'Prior authorization needed' ? ' needed' : '';
    ui.coverageInfo.append(
      make('section', { className: `coverage${kind}` },
        make('h3', {}, `Coverage information on ${s.order}${s.billingCode ? ` (CPT ${s.billingCode})` : ''}`),
        make('dl', {}, ...rows.filter(([, v]) => v).flatMap(([k, v]) => [make('dt', {}, k), make('dd', {}, v as string)])),
      ),
    );
  }
}

/**
 * The documentation form as a DTR client gets it: `$questionnaire-package` for the coverage-assertion-id
 * order-sign wrote on the order, rendered by LHC-Forms with the package's draft response merged in.
 */
async function showForm(info: CoverageSummary): Promise<void> {
  if (!session || !info.questionnaire || !info.assertionId) return;
  if (shownForm?.assertionId === info.assertionId && !ui.questionnairePanel.hidden) return;
  const form = packagedForm(await exchange<Parameters | OperationOutcome>('POST', '/fhir/Questionnaire/$questionnaire-package', packageRequest(session, choices(), info.assertionId)));
  if ('notNeeded' in form) {
    ui.questionnairePanel.hidden = true;
    setStatus(form.notNeeded);
    return;
  }
  ui.questionnairePanel.hidden = false;
  await renderForm(ui.questionnaire, form);
  shownForm = { canonical: info.questionnaire, assertionId: info.assertionId, ...(form.draft ? { draft: form.draft } : {}) };
}

async function run(): Promise<void> {
  if (!session) {
    setStatus('Choose a fixture or paste a Bundle first.', true);
    return;
  }
  ui.run.disabled = true;
  setStatus('Calling order-select…');
  try {
    const picked = choices();
    applyChoices(session, picked);
    renderDrafts();
    const selected = await exchange<CdsResponse>('POST', `/cds-services/${serviceIds['order-select']}`, hookRequest(session, 'order-select', picked));
    renderCards(ui.cardsSelect, selected.cards ?? [], 'order-select');
    setStatus('Calling order-sign…');
    const signed = await exchange<CdsResponse>('POST', `/cds-services/${serviceIds['order-sign']}`, hookRequest(session, 'order-sign', picked));
    // By default the service repeats at order-sign only a decision that changed since order-select.
    renderCards(ui.cardsSign, signed.cards ?? [], 'order-sign', 'No new cards: the decision is the one order-select showed (below).');
    // The EHR writes the system actions (the coverage information) onto its draft orders.
    applyActions(session, (signed.systemActions ?? []).filter((a) => a.type === 'update'));
    renderDrafts();
    const summaries = session.drafts.flatMap(coverageSummaries);
    renderCoverage(summaries);
    documentation = summaries.find((s) => s.questionnaire && s.assertionId);
    shownForm = undefined;
    if (documentation) await showForm(documentation);
    else ui.questionnairePanel.hidden = true;
    setStatus(summaries.length ? `Signed: ${summaries.map((s) => [s.covered, s.priorAuthorization].filter(Boolean).join(', ')).join('; ')}.` : 'Signed: no coverage information.');
    ui.resultsHeading.focus();
  } catch (err) {
    setStatus((err as Error).message, true);
  } finally {
    ui.run.disabled = false;
  }
}

/** Re-sign with the form's answers in the `questionnaireResponses` prefetch (the DTR loop). */
async function resign(): Promise<void> {
  if (!session || !shownForm) return;
  const form = shownForm;
  const { dateOfService } = choices();
  // An answer dated after the date of service would not count for it.
  const authored = dateOfService < today() ? `${dateOfService}T12:00:00Z` : new Date().toISOString();
  responseCount += 1;
  const qr = completedResponse(renderedResponse(ui.questionnaire), form.draft, { id: `qr-playground-${responseCount}`, canonical: form.canonical, patientId: session.patientId, authored });
  const sameForm = (r: QuestionnaireResponse) => r.questionnaire?.split('|')[0] === form.canonical.split('|')[0];
  session.questionnaireResponses = [...session.questionnaireResponses.filter((r) => !sameForm(r)), qr];
  await run();
}

async function loadFixture(path: string): Promise<void> {
  ui.fixtureDescription.textContent = fixtureDescriptions.get(path) ?? '';
  if (!path) return;
  try {
    setSession(sessionFromRequest(await exchange('GET', `/playground/fixtures/${path.split('/').map(encodeURIComponent).join('/')}`)));
  } catch (err) {
    setStatus((err as Error).message, true);
  }
}

async function init(): Promise<void> {
  ui.form.addEventListener('submit', (e) => {
    e.preventDefault();
    void run();
  });
  ui.questionnaireForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void resign();
  });
  ui.fixture.addEventListener('change', () => void loadFixture(ui.fixture.value));
  ui.dos.addEventListener('change', renderBanner);
  ui.coverage.addEventListener('change', () => {
    const preset = /^preset:(.+)$/.exec(ui.coverage.value)?.[1];
    if (preset && preset in COVERAGE_PRESETS) {
      const moved = dateForPreset(preset as CoveragePreset, ui.dos.value || today());
      if (moved !== ui.dos.value) {
        ui.dos.value = moved;
        setStatus(`Date of service moved to ${moved}, the first day the ${COVERAGE_PRESETS[preset as CoveragePreset].label} policy is in force.`);
        renderBanner();
      }
    }
  });
  ui.loadPaste.addEventListener('click', () => {
    try {
      ui.fixture.value = '';
      ui.fixtureDescription.textContent = 'Pasted record.';
      setSession(sessionFromBundle(JSON.parse(ui.paste.value)));
    } catch (err) {
      setStatus(`Could not use the pasted JSON: ${(err as Error).message}`, true);
    }
  });
  try {
    const discovery = await exchange<{ services: CdsServiceDefinition[] }>('GET', '/cds-services');
    for (const s of discovery.services) serviceIds[s.hook] = s.id;
    const index = await exchange<{ fixtures: { path: string; description?: string; outcome?: string }[] }>('GET', '/playground/fixtures');
    fixtureDescriptions = new Map(index.fixtures.map((f) => [f.path, f.description ?? '']));
    // Grouped by policy (the folder) and the outcome its case table expects.
    const groups = new Map<string, HTMLOptGroupElement>();
    for (const f of index.fixtures) {
      const slash = f.path.lastIndexOf('/');
      const label = `${slash > 0 ? f.path.slice(0, slash) : 'fixtures'}: ${f.outcome ? f.outcome.replace(/-/g, ' ') : 'other requests'}`;
      const group = groups.get(label) ?? make('optgroup', { label });
      groups.set(label, group);
      group.append(make('option', { value: f.path, title: f.description ?? '' }, f.path.slice(slash + 1).replace(/\.json$/, '')));
    }
    ui.fixture.replaceChildren(make('option', { value: '' }, 'Choose a fixture…'), ...[...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, g]) => g));
    setStatus('Choose a fixture patient or paste a Bundle.');
  } catch (err) {
    setStatus((err as Error).message, true);
  }
}

void init();
