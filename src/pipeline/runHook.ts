import { createHash } from 'node:crypto';
import type { ServiceRequest } from 'fhir/r4.js';
import { decisionCards, recordProblemsCard, unfinishedCard } from '../cards/cards.js';
import { coverageInformation, withCoverageInformation } from '../cards/coverageInformation.js';
import { unresolvedCoverageInformation, unresolvedCoverageRef, unresolvedReason } from '../cards/unresolvedCoverage.js';
import { describeEvidence } from '../cards/evidence.js';
import { withOverrideReasons } from '../cards/overrideReasons.js';
import { pamaSystemActions, withRatedSuggestions } from '../cards/pamaRating.js';
import type { OrderDecision } from '../decision/decideOrder.js';
import { dateOfService, decideOrder, lumbarMriCode } from '../decision/decideOrder.js';
import { decideThroughCache, type DecisionCache } from '../decision/decisionCache.js';
import type { OrderSignCards, ShownDecisions } from '../decision/shownDecisions.js';
import { todayUtc } from '../fhir/dates.js';
import type { PolicyLibrary } from '../library/library.js';
import { loadRecord, type RecordAccessOptions } from '../record/loadRecord.js';
import { answerProblemsCard } from '../cards/answerProblemsCard.js';
import type { TerminologyServer } from '../terminology/terminologyServer.js';
import { authorizationNumber } from '../decision/authorizationNumber.js';
import { dtrLaunchLink, withLaunchLink } from '../cards/dtrLaunchLink.js';
import { EvaluationBudget, EvaluationBudgetExceeded } from './evaluationBudget.js';
import type { CrdVersion } from '../hooks/discovery.js';
import type { CdsAction, CdsCard, CdsResponse, HookRequest } from '../hooks/types.js';

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
  /** The request body as received (HTTP): the decision-cache key hashes its prefetch bytes. */
  readonly requestBody?: Uint8Array;
}

export interface HookOutcome {
  readonly response: CdsResponse;
  readonly decisions: readonly OrderDecision[];
  readonly assertions: ReadonlyMap<string, { coverageAssertionId: string; satisfiedPaId?: string }>;
  readonly fhirCalls: number;
  readonly fhirFailures: number;
  /** Orders not decided within the evaluation budget (they get a "could not be completed" card). */
  readonly unfinishedOrders?: readonly string[];
  /** Orders whose evaluation failed on data the service could not interpret (logged; a card says so). */
  readonly orderErrors?: readonly { readonly order: string; readonly error: string }[];
}

/** The lumbar MRI orders a hook is about: all drafts on order-sign, the selected ones on order-select. */
export function ordersInScope(req: HookRequest): { order: ServiceRequest; ref: string; cpt: string }[] {
  const selections = new Set(req.context.selections ?? []);
  const out: { order: ServiceRequest; ref: string; cpt: string }[] = [];
  (req.context.draftOrders.entry ?? []).forEach((e, i) => {
    const r = e?.resource;
    if (!r || r.resourceType !== 'ServiceRequest') return;
    const order = r as ServiceRequest;
    const ref = `ServiceRequest/${order.id ?? `draft-${i + 1}`}`;
    if (req.hook === 'order-select' && !selections.has(ref) && !selections.has(order.id ?? '')) return;
    const cpt = lumbarMriCode(order);
    if (cpt) out.push({ order, ref, cpt });
  });
  return out;
}

/**
 * The hook pipeline: orders in scope -> patient record -> per order: routing, facts, criteria ->
 * cards and the CRD coverage-information system action.
 */
export async function runHook(req: HookRequest, ctx: HookContext): Promise<HookOutcome> {
  const now = ctx.now?.() ?? new Date();
  const today = todayUtc(now);
  const orders = ordersInScope(req);
  const configuration = readConfiguration(req);
  if (orders.length === 0) {
    return { response: { cards: [], ...(req.hook === 'order-sign' ? { systemActions: [] } : {}) }, decisions: [], assertions: new Map(), fhirCalls: 0, fhirFailures: 0 };
  }
  const loaded = await loadRecord(req, {
    ...ctx.record,
    valueSets: ctx.library.valueSets,
    // The deadline is wall-clock time, whatever date the decision is judged at (`now` may be injected).
    deadline: Date.now() + ctx.record.requestDeadlineMs,
  });
  if (ctx.terminology) await ctx.terminology.refine(loaded.record, ctx.library.valueSets);
  const budget = new EvaluationBudget(ctx.evaluationBudgetMs ?? Number.POSITIVE_INFINITY);
  const record = budget.guard(loaded.record);
  const decisions: OrderDecision[] = [];
  const unfinishedOrders: string[] = [];
  const orderErrors: { order: string; error: string }[] = [];
  // Only a record read wholly from the prefetch is keyed by it; FHIR reads and problems are never cached.
  const cache = loaded.fhirCalls === 0 && loaded.problems.length === 0 ? ctx.decisionCache : undefined;
  for (const o of orders) {
    try {
      const decide = () => decideOrder(ctx.library, record, o.order, o.ref, o.cpt, today, req.context.draftOrders.entry ?? []);
      const input = { patientId: req.context.patientId, prefetch: req.prefetch, order: o.order, orderRef: o.ref, cpt: o.cpt, dateOfService: dateOfService(o.order, today), draftEntries: req.context.draftOrders.entry ?? [], body: ctx.requestBody };
      decisions.push(cache ? await decideThroughCache(cache, ctx.library, req.hook, input, decide) : decide());
    } catch (err) {
      // Fail the order, not the request: a 500 would tell the clinician nothing.
      if (err instanceof EvaluationBudgetExceeded) unfinishedOrders.push(o.ref);
      else orderErrors.push({ order: o.ref, error: describeError(err) });
    }
  }
  budget.finish();

  const cards: CdsCard[] = [];
  const systemActions: CdsAction[] = [];
  const assertions = new Map<string, { coverageAssertionId: string; satisfiedPaId?: string }>();
  const problems = recordProblemsCard(loaded.problems);
  if (problems) cards.push(problems);
  if (unfinishedOrders.length > 0) cards.push(unfinishedCard(unfinishedOrders, 'time'));
  if (orderErrors.length > 0) cards.push(unfinishedCard(orderErrors.map((e) => e.order), 'data'));
  const questionnaire = (d: OrderDecision) => (d.policy ? ctx.questionnaireUrl(d.policy.policyId, d.policy.version) : undefined);
  for (const d of decisions) {
    // The coverage-information system action below is sent either way; only the cards repeat.
    if (!(await cardsAlreadyShown(req, ctx, d))) {
      cards.push(
        ...withOverrideReasons(
          decisionCards(d, {
            facts: ctx.library.facts,
            findings: ctx.library.findings,
            questionnaireUrl: questionnaire,
            patientRef: `Patient/${req.context.patientId}`,
            describe: (ref) => (ref === d.orderRef ? orderReasonEvidence(d.order, ref) : describeEvidence(loaded.record, ref)),
          }),
          d.outcome,
        ),
      );
    }
    const unusedAnswers = answerProblemsCard(d);
    if (unusedAnswers) cards.push(unusedAnswers);
    // CRD: the same coverage gets the same assertion id within a response; a new one per coverage.
    const coverageKey = d.coverage ? `Coverage/${d.coverage.id}` : undefined;
    // CRD 2.2: an order that could not be routed still gets coverage information, with the reason.
    const unresolved = !coverageKey && configuration.crdVersion === '2.2' ? unresolvedReason(d, loaded.record, ctx.library.router.activeCoverages(loaded.record, d.dateOfService)) : undefined;
    const unresolvedRef = unresolved ? unresolvedCoverageRef(d) : undefined;
    const assertedCoverage = coverageKey ?? unresolvedRef;
    if (!assertedCoverage) continue;
    const id = assertionIdFor(req.hookInstance, assertedCoverage, d.orderRef);
    const paId = configuration.unsolicitedDeterm ? authorizationNumber(req.context.patientId, d) : undefined;
    const ids = { coverageAssertionId: id, ...(paId ? { satisfiedPaId: paId } : {}) };
    assertions.set(d.orderRef, ids);
    const form = questionnaire(d);
    // Only order-sign assertions are kept, so only they can be resumed by a DTR app.
    if (ctx.dtrAppUrl && form && req.hook === 'order-sign' && d.outcome === 'documentation-missing') {
      withLaunchLink(cards, d.orderRef, form, dtrLaunchLink(ctx.dtrAppUrl, { coverageAssertionId: id, orderRef: d.orderRef, coverageRef: assertedCoverage, questionnaire: form }));
    }
    if (req.hook !== 'order-sign' || configuration.coverageInfo === false) continue;
    const ext = unresolved && unresolvedRef
      ? unresolvedCoverageInformation(d, unresolved, unresolvedRef, ids, today, d.routing.kind === 'no-coverage' ? d.routing.reason : unresolved)
      : coverageInformation(d, ids, today, questionnaire(d), req.hook, configuration.crdVersion);
    if (!ext) continue;
    systemActions.push({
      type: 'update',
      description: `Coverage information for ${d.orderRef} (CPT ${d.cpt}): ${d.outcome.replace(/-/g, ' ')}`,
      resource: withCoverageInformation(d.order, ext),
    });
  }
  const filtered = cards.filter((c) => configuration.enabled(c.source.topic?.code));
  const limited = withRatedSuggestions(filtered.slice(0, configuration.maxCards), req.hookInstance);
  // The Argonaut PAMA form (response extension) besides the spec's top-level systemActions.
  const pama = decisions.length > 0 ? { extension: { systemActions: pamaSystemActions(decisions, req.hookInstance) } } : {};
  return {
    response: { cards: limited, ...(req.hook === 'order-sign' ? { systemActions } : {}), ...pama },
    decisions,
    assertions,
    fhirCalls: loaded.fhirCalls,
    fhirFailures: loaded.fhirFailures,
    unfinishedOrders,
    orderErrors,
  };
}

/**
 * order-select remembers each decision it shows; order-sign (by default) leaves out the cards of a
 * decision order-select already showed for the same draft order.
 */
async function cardsAlreadyShown(req: HookRequest, ctx: HookContext, d: OrderDecision): Promise<boolean> {
  const shown = ctx.shownDecisions;
  if (!shown) return false;
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
  const h = createHash('sha256').update(`${hookInstance}|${coverage}|${order}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** CRD `davinci-crd.configuration`: honour what we support, ignore unknown codes and odd values. */
function readConfiguration(req: HookRequest): { coverageInfo: boolean; unsolicitedDeterm: boolean; crdVersion: CrdVersion; maxCards: number; enabled: (code?: string) => boolean } {
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

/** The order itself as evidence: the indication the clinician chose (reasonCode). */
function orderReasonEvidence(order: ServiceRequest, ref: string): string {
  const reasons = (Array.isArray(order.reasonCode) ? order.reasonCode : [])
    .map((c) => (typeof c?.text === 'string' && c.text) || c?.coding?.find((x) => typeof x?.display === 'string')?.display)
    .filter((x): x is string => typeof x === 'string');
  return reasons.length ? `The order's reason: ${reasons.join('; ')}: ${ref}` : ref;
}
