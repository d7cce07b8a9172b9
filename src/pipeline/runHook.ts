import { hash } from 'node:crypto';
import type { BundleEntry, Resource, ServiceRequest } from 'fhir/r4.js';
import { decisionCards, recordProblemsCard, unfinishedCard } from '../cards/cards.js';
import { coverageInformation, withCoverageInformation, type AssertionIds } from '../cards/coverageInformation.js';
import { unresolvedCoverageInformation, unresolvedCoverageRef, unresolvedReason } from '../cards/unresolvedCoverage.js';
import { describeEvidence } from '../cards/evidence.js';
import { withOverrideReasons } from '../cards/overrideReasons.js';
import { pamaSystemActions, withRatedSuggestions } from '../cards/pamaRating.js';
import { coverageOf, dateOfService, decideOrder, hasPolicy, lumbarMriCode, type OrderDecision } from '../decision/decideOrder.js';
import { decideThroughCache, worthCaching, type CacheMiss, type DecisionCache } from '../decision/decisionCache.js';
import type { OrderSignCards, ShownDecisions } from '../decision/shownDecisions.js';
import { todayUtc } from '../fhir/dates.js';
import type { PolicyLibrary } from '../library/library.js';
import { loadRecord, type LoadedRecord, type RecordAccessOptions } from '../record/loadRecord.js';
import { answerProblemsCard } from '../cards/answerProblemsCard.js';
import type { TerminologyServer } from '../terminology/terminologyServer.js';
import { authorizationNumber } from '../decision/authorizationNumber.js';
import { dtrLaunchLink, withFormPage, withLaunchLink, type FormPageContext } from '../cards/dtrLaunchLink.js';
import { EvaluationBudget, EvaluationBudgetExceeded } from './evaluationBudget.js';
import type { CrdVersion } from '../hooks/discovery.js';
import type { CdsAction, CdsCard, CdsLink, CdsResponse, HookRequest } from '../hooks/types.js';

export interface HookContext {
  readonly library: PolicyLibrary;
  readonly record: Omit<RecordAccessOptions, 'valueSets' | 'deadline'> & { readonly requestDeadlineMs: number };
  /** Questionnaire canonical for a policy version (documentation missing). */
  readonly questionnaireUrl: (policyId: string, version: string) => string;
  readonly now?: () => Date;
  /** Time for routing, facts and criteria of all orders once the record is loaded (default: none). */
  readonly evaluationBudgetMs?: number;
  /** order-select decisions reused by order-sign (absent: no cache). */
  readonly decisionCache?: DecisionCache;
  /** Optional value set membership checks for codes the local sets do not list (TERMINOLOGY_SERVER_URL). */
  readonly terminology?: TerminologyServer;
  /** What order-select showed per draft order (absent: order-sign shows every card). */
  readonly shownDecisions?: ShownDecisions;
  /** `changed` (default): order-sign shows an order's cards only if its decision changed since order-select. */
  readonly orderSignCards?: OrderSignCards;
  /** SMART launch URL of a DTR app: documentation cards on order-sign link it (absent: no link). */
  readonly dtrAppUrl?: string;
  /** Told when a decision cache entry was found but could not be used (a miss): for the log. */
  readonly onUnusableCacheEntry?: (why: CacheMiss) => void;
  /** A page that renders the documentation form (the playground's): the card's questionnaire link opens it (absent: the Questionnaire). */
  readonly formPageUrl?: string;
  /** The request body as received (HTTP): the decision-cache key hashes its prefetch bytes. */
  readonly requestBody?: Uint8Array;
}

export interface HookOutcome {
  readonly response: CdsResponse;
  readonly decisions: readonly OrderDecision[];
  readonly assertions: ReadonlyMap<string, AssertionIds>;
  readonly fhirCalls: number;
  readonly fhirFailures: number;
  /** Orders not decided within the evaluation budget (they get a "could not be completed" card). */
  readonly unfinishedOrders: readonly string[];
  /** Orders whose evaluation failed on data the service could not interpret (logged; a card says so). */
  readonly orderErrors: readonly OrderError[];
}

/** A draft lumbar MRI order the hook is about: the resource, its reference in the draft, its CPT. */
export interface OrderInScope {
  readonly order: ServiceRequest;
  readonly ref: string;
  readonly cpt: string;
}

export interface OrderError {
  readonly order: string;
  readonly error: string;
}

/** What deciding the orders gave: a decision per order, except those that ran out of time or failed alone. */
export interface DecidedOrders {
  readonly decisions: readonly OrderDecision[];
  readonly unfinishedOrders: readonly string[];
  readonly orderErrors: readonly OrderError[];
}

/**
 * The hook pipeline: orders in scope -> patient record -> a decision per order (routing, facts,
 * criteria) -> the response (cards, assertion ids, CRD coverage information, systemActions).
 */
export async function runHook(req: HookRequest, ctx: HookContext): Promise<HookOutcome> {
  const today = todayUtc(ctx.now?.() ?? new Date());
  const orders = ordersInScope(req);
  if (orders.length === 0) return noOrders(req);
  const loaded = await loadPatientRecord(req, ctx);
  const decided = await decideOrders(req, orders, loaded, ctx, today);
  return respond(req, ctx, loaded, decided, today);
}

/** The lumbar MRI orders a hook is about: all drafts on order-sign, the selected ones on order-select. */
export function ordersInScope(req: HookRequest): OrderInScope[] {
  const selections = new Set(req.context.selections ?? []);
  const out: OrderInScope[] = [];
  draftEntries(req).forEach((e, i) => {
    const order = e?.resource;
    if (!isServiceRequest(order)) return;
    const ref = `ServiceRequest/${order.id ?? `draft-${i + 1}`}`;
    if (req.hook === 'order-select' && !selections.has(ref) && !selections.has(order.id ?? '')) return;
    const cpt = lumbarMriCode(order);
    if (cpt) out.push({ order, ref, cpt });
  });
  return out;
}

/** No lumbar MRI order: no card, and on order-sign no system action. */
function noOrders(req: HookRequest): HookOutcome {
  const response = { cards: [], ...(req.hook === 'order-sign' ? { systemActions: [] } : {}) };
  return { response, decisions: [], assertions: new Map(), fhirCalls: 0, fhirFailures: 0, unfinishedOrders: [], orderErrors: [] };
}

/** The patient's record: prefetch first, the FHIR server for what is missing, within the request's deadline. */
export async function loadPatientRecord(req: HookRequest, ctx: Pick<HookContext, 'record' | 'library' | 'terminology'>): Promise<LoadedRecord> {
  const loaded = await loadRecord(req, {
    ...ctx.record,
    valueSets: ctx.library.valueSets,
    // The deadline is wall-clock time, whatever date the decision is judged at (`now` may be injected).
    deadline: Date.now() + ctx.record.requestDeadlineMs,
  });
  if (ctx.terminology) await ctx.terminology.refine(loaded.record, ctx.library.valueSets);
  return loaded;
}

/**
 * A decision per order within the evaluation budget, through the decision cache when the record is
 * the prefetch alone; an order that fails (time, or data it cannot interpret) fails alone.
 */
export async function decideOrders(
  req: HookRequest,
  orders: readonly OrderInScope[],
  loaded: LoadedRecord,
  ctx: Pick<HookContext, 'library' | 'evaluationBudgetMs' | 'decisionCache' | 'onUnusableCacheEntry' | 'requestBody'>,
  today: string,
): Promise<DecidedOrders> {
  const budget = new EvaluationBudget(ctx.evaluationBudgetMs ?? Number.POSITIVE_INFINITY);
  const record = budget.guard(loaded.record);
  const decisions: OrderDecision[] = [];
  const unfinishedOrders: string[] = [];
  const orderErrors: OrderError[] = [];
  // Only a record read wholly from the prefetch is keyed by it; FHIR reads and problems are never cached,
  // nor a body so large that hashing it costs more than deciding.
  const cache = loaded.fhirCalls === 0 && loaded.problems.length === 0 && worthCaching(ctx.requestBody) ? ctx.decisionCache : undefined;
  const entries = draftEntries(req);
  for (const o of orders) {
    try {
      const decide = () => decideOrder(ctx.library, record, o.order, o.ref, o.cpt, today, entries);
      if (!cache) {
        decisions.push(decide());
        continue;
      }
      // The cache key's input (and its date of service) only when there is a cache to key.
      const input = { patientId: req.context.patientId, prefetch: req.prefetch, order: o.order, orderRef: o.ref, cpt: o.cpt, dateOfService: dateOfService(o.order, today), draftEntries: entries, body: ctx.requestBody };
      decisions.push(await decideThroughCache(cache, ctx.library, req.hook, input, decide, ctx.onUnusableCacheEntry));
    } catch (err) {
      // Fail the order, not the request: a 500 would tell the clinician nothing.
      if (err instanceof EvaluationBudgetExceeded) unfinishedOrders.push(o.ref);
      else orderErrors.push({ order: o.ref, error: describeError(err) });
    }
  }
  budget.finish();
  return { decisions, unfinishedOrders, orderErrors };
}

/** The answer: cards (record problems, unfinished orders, each decision's), assertion ids, CRD coverage information, PAMA. */
export async function respond(req: HookRequest, ctx: HookContext, loaded: LoadedRecord, decided: DecidedOrders, today: string): Promise<HookOutcome> {
  const configuration = readConfiguration(req);
  const cards: CdsCard[] = problemCards(loaded, decided);
  const systemActions: CdsAction[] = [];
  const assertions = new Map<string, AssertionIds>();
  for (const d of decided.decisions) {
    // The coverage-information system action below is sent either way; only the cards repeat.
    // Without a store of shown decisions there is nothing to wait for (no turn of the event loop).
    if (!(ctx.shownDecisions && (await cardsAlreadyShown(req, ctx, ctx.shownDecisions, d)))) cards.push(...orderCards(req, ctx, loaded, d));
    const unusedAnswers = answerProblemsCard(d);
    if (unusedAnswers) cards.push(unusedAnswers);
    const asserted = assertCoverage(req, ctx, loaded, configuration, d, today);
    if (!asserted) continue;
    assertions.set(d.orderRef, asserted.ids);
    if (asserted.launch) withLaunchLink(cards, d.orderRef, asserted.launch.questionnaire, asserted.launch.link);
    if (asserted.action) systemActions.push(asserted.action);
    if (asserted.formPage) withFormPage(cards, d.orderRef, asserted.formPage.questionnaire, asserted.formPage.pageUrl, asserted.formPage.context);
  }
  const shown = withRatedSuggestions(
    cards.filter((c) => configuration.enabled(c.source.topic?.code)).slice(0, configuration.maxCards),
    req.hookInstance,
  );
  // The Argonaut PAMA form (response extension) besides the spec's top-level systemActions.
  const pama = decided.decisions.length > 0 ? { extension: { systemActions: pamaSystemActions(decided.decisions, req.hookInstance) } } : {};
  return {
    response: { cards: shown, ...(req.hook === 'order-sign' ? { systemActions } : {}), ...pama },
    ...decided,
    assertions,
    fhirCalls: loaded.fhirCalls,
    fhirFailures: loaded.fhirFailures,
  };
}

/** Cards about the call rather than one decision: what could not be read, what was not decided. */
function problemCards(loaded: LoadedRecord, decided: DecidedOrders): CdsCard[] {
  const problems = recordProblemsCard(loaded.problems);
  return [
    ...(problems ? [problems] : []),
    ...(decided.unfinishedOrders.length > 0 ? [unfinishedCard(decided.unfinishedOrders, 'time')] : []),
    ...(decided.orderErrors.length > 0 ? [unfinishedCard(decided.orderErrors.map((e) => e.order), 'data')] : []),
  ];
}

const questionnaireOf = (ctx: HookContext, d: OrderDecision): string | undefined =>
  hasPolicy(d) ? ctx.questionnaireUrl(d.policy.policyId, d.policy.version) : undefined;

/** One decision's cards, with the override reasons its outcome allows. */
function orderCards(req: HookRequest, ctx: HookContext, loaded: LoadedRecord, d: OrderDecision): CdsCard[] {
  const cards = decisionCards(d, {
    facts: ctx.library.facts,
    findings: ctx.library.findings,
    questionnaireUrl: (x) => questionnaireOf(ctx, x),
    patientRef: `Patient/${req.context.patientId}`,
    describe: (ref) => (ref === d.orderRef ? orderReasonEvidence(d.order, ref) : describeEvidence(loaded.record, ref)),
  });
  return withOverrideReasons(cards, d.outcome);
}

/** What one decision asserts about coverage: its ids, a DTR launch link, the coverage-information system action. */
interface CoverageAssertion {
  readonly ids: AssertionIds;
  readonly launch?: { readonly questionnaire: string; readonly link: CdsLink };
  /** The playground's form page for the card's questionnaire link (order-select too: it shows the whole form). */
  readonly formPage?: { readonly questionnaire: string; readonly pageUrl: string; readonly context: FormPageContext };
  readonly action?: CdsAction;
}

/**
 * CRD: the same coverage gets the same assertion id within a response, a new one per coverage; an
 * order that could not be routed still gets coverage information with the reason (CRD 2.2).
 */
function assertCoverage(req: HookRequest, ctx: HookContext, loaded: LoadedRecord, configuration: CrdConfiguration, d: OrderDecision, today: string): CoverageAssertion | undefined {
  const coverage = coverageOf(d);
  const unresolved =
    d.outcome === 'no-coverage' && configuration.crdVersion === '2.2' ? unresolvedReason(d, loaded.record, ctx.library.router.activeCoverages(loaded.record, d.dateOfService)) : undefined;
  const unresolvedRef = unresolved ? unresolvedCoverageRef(d) : undefined;
  const assertedCoverage = coverage ? `Coverage/${coverage.id}` : unresolvedRef;
  if (!assertedCoverage) return undefined;
  const id = assertionIdFor(req.hookInstance, assertedCoverage, d.orderRef);
  const paId = configuration.unsolicitedDeterm ? authorizationNumber(req.context.patientId, d) : undefined;
  const ids = { coverageAssertionId: id, ...(paId ? { satisfiedPaId: paId } : {}) };
  const form = questionnaireOf(ctx, d);
  // Only order-sign assertions are kept, so only they can be resumed by a DTR app.
  const launch =
    ctx.dtrAppUrl && form && req.hook === 'order-sign' && d.outcome === 'documentation-missing'
      ? { questionnaire: form, link: dtrLaunchLink(ctx.dtrAppUrl, { coverageAssertionId: id, orderRef: d.orderRef, coverageRef: assertedCoverage, questionnaire: form }) }
      : undefined;
  const formPage =
    ctx.formPageUrl && form && d.outcome === 'documentation-missing'
      ? {
          questionnaire: form,
          pageUrl: ctx.formPageUrl,
          context: { ...(req.hook === 'order-sign' ? { coverageAssertionId: id } : {}), orderRef: d.orderRef, coverageRef: assertedCoverage, questionnaire: form, patientRef: `Patient/${req.context.patientId}` },
        }
      : undefined;
  if (req.hook !== 'order-sign' || !configuration.coverageInfo) return { ids, launch, formPage };
  const ext =
    d.outcome === 'no-coverage' && unresolved && unresolvedRef
      ? unresolvedCoverageInformation(d, unresolved, unresolvedRef, ids, today, d.routing.reason)
      : coverageInformation(d, ids, today, form, req.hook, configuration.crdVersion);
  if (!ext) return { ids, launch, formPage };
  const action: CdsAction = {
    type: 'update',
    description: `Coverage information for ${d.orderRef} (CPT ${d.cpt}): ${d.outcome.replace(/-/g, ' ')}`,
    resource: withCoverageInformation(d.order, ext),
  };
  return { ids, launch, formPage, action };
}

/**
 * order-select remembers each decision it shows; order-sign (by default) leaves out the cards of a
 * decision order-select already showed for the same draft order.
 */
async function cardsAlreadyShown(req: HookRequest, ctx: HookContext, shown: ShownDecisions, d: OrderDecision): Promise<boolean> {
  if (req.hook === 'order-select') {
    await shown.remember(req.context.patientId, d);
    return false;
  }
  return (ctx.orderSignCards ?? 'changed') === 'changed' && (await shown.alreadyShown(req.context.patientId, d));
}

/** An unforeseen error, for the log: its kind and where, clipped (never the request's data). */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return 'non-error thrown';
  const at = err.stack?.split('\n').find((l) => l.includes('/src/'))?.trim() ?? '';
  return `${err.name}: ${err.message.slice(0, 160)} ${at}`.trim();
}

/** A stable id per hook call, coverage and order, so repeated answers name the same assertion. */
function assertionIdFor(hookInstance: string, coverage: string, order: string): string {
  const h = hash('sha256', `${hookInstance}|${coverage}|${order}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** CRD `davinci-crd.configuration`: honour what we support, ignore unknown codes and odd values. */
interface CrdConfiguration {
  readonly coverageInfo: boolean;
  readonly unsolicitedDeterm: boolean;
  readonly crdVersion: CrdVersion;
  readonly maxCards: number;
  readonly enabled: (code?: string) => boolean;
}

function readConfiguration(req: HookRequest): CrdConfiguration {
  const raw = req.extension?.['davinci-crd.configuration'];
  const cfg = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const bool = (k: string): boolean => cfg[k] !== false;
  const max = typeof cfg['max-cards'] === 'number' && Number.isInteger(cfg['max-cards']) && cfg['max-cards'] >= 0 ? cfg['max-cards'] : 10;
  // CRD 2.2 `davinci-crd.requestedVersion` ("2.2" or a list); anything else keeps the 2.0.1 answer.
  const requested: unknown = req.extension?.['davinci-crd.requestedVersion'];
  const asked = (Array.isArray(requested) ? requested : [requested]).some((v) => typeof v === 'string' && /^2\.2(\.|$)/.test(v));
  return {
    coverageInfo: bool('coverage-info'),
    unsolicitedDeterm: bool('unsolicited-determ'),
    crdVersion: asked ? '2.2' : '2.0',
    maxCards: max,
    enabled: (code) => (code === undefined || code === 'clinical-reminder' ? true : bool(code)),
  };
}

/** The draftOrders entries (a QuestionnaireResponse the order's supportingInfo names may travel there). */
function draftEntries(req: HookRequest): readonly BundleEntry[] {
  return req.context.draftOrders.entry ?? [];
}

function isServiceRequest(r: Resource | undefined): r is ServiceRequest {
  return r?.resourceType === 'ServiceRequest';
}

/** The order itself as evidence: the indication the clinician chose (reasonCode). */
function orderReasonEvidence(order: ServiceRequest, ref: string): string {
  const reasons = (Array.isArray(order.reasonCode) ? order.reasonCode : [])
    .map((c) => (typeof c?.text === 'string' && c.text) || c?.coding?.find((x) => typeof x?.display === 'string')?.display)
    .filter((x): x is string => typeof x === 'string');
  return reasons.length ? `The order's reason: ${reasons.join('; ')}: ${ref}` : ref;
}
