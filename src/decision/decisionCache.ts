/**
 * The decision cache: an order-sign that follows an order-select for the same order and an
 * unchanged record is answered from the decision order-select computed. What is cached is the
 * order's decision (outcome, routing, engine result), never an HTTP response: the hook's own
 * fields (hookInstance, assertion ids, system actions) are rebuilt by the handler on every call.
 */
import { createHash, createHmac, hash, randomBytes, type Hash } from 'node:crypto';
import type { Coverage, Resource, ServiceRequest } from 'fhir/r4.js';
import { z } from 'zod';
import type { EngineOutcome, NodeResult } from '../engine/evaluate.js';
import type { PolicyVersion } from '../engine/types.js';
import type { PolicyLibrary } from '../library/library.js';
import { routingFileSchema, type RoutingResult } from '../routing/routing.js';
import { rawMember } from '../hooks/rawMember.js';
import { MemorySharedCache, type SharedCache } from '../kv/kv.js';
import { sameSecret } from '../security/throttle.js';
import type { OrderDecision } from './decideOrder.js';

/** Part of every key and MAC: entries written by an older release are never read as this one's. */
export const DECISION_CACHE_VERSION = 'decision-v3';

/**
 * Bodies larger than this are decided without the cache. Hashing the prefetch costs about 3.5 µs a KB
 * (bench/stages.ts: 8.4 ms at 2,500 resources) while deciding grows more slowly with the record (facts,
 * engine and cards 7.6 ms there): past about 1 MB the key costs more than the decision it would save.
 */
export const DECISION_CACHE_MAX_BODY_BYTES = 1_000_000;

/** Whether a request of this body is worth keying: absent body (in process) always is. */
export function worthCaching(body: Uint8Array | undefined): boolean {
  return body === undefined || body.byteLength <= DECISION_CACHE_MAX_BODY_BYTES;
}

/** Without DECISION_CACHE_KEY: a key no one else knows, good for this process's own (memory) cache. */
export const PROCESS_DECISION_CACHE_KEY = randomBytes(32);

/** Get and set of a serialised decision per key; errors are the implementation's to swallow. */
export interface DecisionCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, decision: string): Promise<void>;
  /**
   * Notes, once a patient's entries are set, that the cache holds some (for as long as they live):
   * an order-sign for a patient without entries then computes no key (hashing the prefetch is most
   * of a lookup's cost, and an EHR that never calls order-select never has any).
   */
  notePatient(patientId: string): Promise<void>;
  /** False only when no entry can be held for this patient (none was noted within the time to live). */
  mayHoldPatient(patientId: string): Promise<boolean>;
}

/** A DecisionCache on a SharedCache (memory now, Redis later): a cache that fails is a miss. */
export class SharedDecisionCache implements DecisionCache {
  constructor(
    private readonly cache: SharedCache,
    private readonly ttlSeconds: number,
  ) {}

  async get(key: string): Promise<string | undefined> {
    try {
      return await this.cache.get(key);
    } catch {
      return undefined;
    }
  }

  async set(key: string, decision: string): Promise<void> {
    try {
      await this.cache.set(key, decision, this.ttlSeconds);
    } catch {
      // Full (the bound holds) or unreachable: the next request computes the decision again.
    }
  }

  // The note is a key of its own beside the entries, with their time to live: noted after them, it
  // outlives each. A note lost (full, unreachable) only costs order-sign a decision computed again.
  async notePatient(patientId: string): Promise<void> {
    await this.set(patientNoteKey(patientId), '1');
  }

  async mayHoldPatient(patientId: string): Promise<boolean> {
    return (await this.get(patientNoteKey(patientId))) !== undefined;
  }
}

/** Apart from the entries' keys (hex digests) and with no patient id in the clear (the store may be Redis). */
function patientNoteKey(patientId: string): string {
  return `patient:${hash('sha256', `${DECISION_CACHE_VERSION}\n${patientId}`)}`;
}

/**
 * Entries authenticated with an HMAC over the lookup key and the decision: an entry edited where it
 * is stored (Redis), or copied under another key, fails the check and is a miss (`onRejected` is
 * told), never a decision. The secret is DECISION_CACHE_KEY, or one made per process.
 */
export function sealedDecisionCache(inner: DecisionCache, secret: string | Buffer, onRejected: () => void = () => undefined): DecisionCache {
  const mac = (key: string, decision: string): string =>
    createHmac('sha256', secret).update(`${DECISION_CACHE_VERSION}\n${key}\n`).update(decision).digest('base64url');
  return {
    async get(key) {
      const sealed = await inner.get(key);
      if (sealed === undefined) return undefined;
      const dot = sealed.indexOf('.');
      const decision = sealed.slice(dot + 1);
      if (dot < 0 || !sameSecret(sealed.slice(0, dot), mac(key, decision))) {
        onRejected();
        return undefined;
      }
      return decision;
    },
    set: (key, decision) => inner.set(key, `${mac(key, decision)}.${decision}`),
    // A note forged or removed where it is stored only decides whether order-sign looks an entry up.
    notePatient: (patientId) => inner.notePatient(patientId),
    mayHoldPatient: (patientId) => inner.mayHoldPatient(patientId),
  };
}

/** A DecisionCache that reports each lookup (hit or miss), e.g. to the Prometheus metrics. */
export function observedDecisionCache(cache: DecisionCache, onLookup: (hit: boolean) => void): DecisionCache {
  return {
    async get(key) {
      const value = await cache.get(key);
      onLookup(value !== undefined);
      return value;
    },
    set: (key, decision) => cache.set(key, decision),
    notePatient: (patientId) => cache.notePatient(patientId),
    // A patient without entries is a lookup that missed, though no key was looked up.
    async mayHoldPatient(patientId) {
      const may = await cache.mayHoldPatient(patientId);
      if (!may) onLookup(false);
      return may;
    },
  };
}

/** What a decision reads besides the record: the order, its reference and code, the date of service. */
export interface DecisionInput {
  readonly patientId: string;
  readonly prefetch: Readonly<Record<string, Resource | null>> | undefined;
  readonly order: ServiceRequest;
  readonly orderRef: string;
  readonly cpt: string;
  readonly dateOfService: string;
  /** The other draftOrders entries: a QuestionnaireResponse the order's supportingInfo names may travel there. */
  readonly draftEntries?: readonly unknown[];
  /** The request body as received, when there is one: its prefetch bytes are hashed instead of the parsed prefetch serialised again. */
  readonly body?: Uint8Array;
}

const libraryVersions = new WeakMap<PolicyLibrary, string>();

/** The policy library's version: a hash of its value sets, facts, policies and routing. */
export function libraryVersion(library: PolicyLibrary): string {
  let v = libraryVersions.get(library);
  if (!v) {
    const content = JSON.stringify([library.valueSets.definitions, library.facts.definitions, library.policies, library.router]);
    v = hash('sha256', content).slice(0, 16);
    libraryVersions.set(library, v);
  }
  return v;
}

/**
 * The key: a hash of everything the decision reads. The record is the prefetch as given, so any
 * change to any resource (or a key added or removed) is another key.
 */
export function decisionKey(library: PolicyLibrary, input: DecisionInput): string {
  const h = createHash('sha256');
  h.update(`${DECISION_CACHE_VERSION}\n${libraryVersion(library)}\n${input.patientId}\n${input.orderRef}\n${input.cpt}\n${input.dateOfService}\n`);
  h.update(JSON.stringify(input.order));
  h.update('\n');
  h.update(prefetchDigest(input));
  h.update('\n');
  h.update(input.draftEntries ? memoDigest(input.draftEntries, (d) => d.update(JSON.stringify(input.draftEntries))) : '[]');
  return h.digest('hex');
}

// A request with several orders keys each of them: its prefetch and draft entries are hashed once.
const digests = new WeakMap<object, string>();
function memoDigest(of: object, content: (h: Hash) => void): string {
  let d = digests.get(of);
  if (d === undefined) {
    const h = createHash('sha256');
    content(h);
    d = h.digest('hex');
    digests.set(of, d);
  }
  return d;
}

const NO_PREFETCH = hash('sha256', 'null');

/** The prefetch as sent (the same bytes parse to the same record); serialised when the body is absent or ambiguous. */
function prefetchDigest(input: DecisionInput): string {
  const parsed = (h: Hash): void => void h.update(JSON.stringify(input.prefetch ?? null));
  if (!input.body) return input.prefetch ? memoDigest(input.prefetch, parsed) : NO_PREFETCH;
  const body = input.body;
  return memoDigest(body, (h) => {
    const sent = rawMember(body, 'prefetch');
    // Tagged apart from the serialised form; fed in two parts, so the bytes sent are not copied.
    if (sent) h.update('sent\n').update(sent);
    else parsed(h);
  });
}

/**
 * What an answer reads of a Coverage: its id (the assertion's `coverage` reference) and its payors'
 * names (card wording). Member id, subscriber and beneficiary stay out of the cache; a payor that is
 * a person keeps only its reference.
 */
export function coverageSummary(c: Coverage): Coverage {
  const payors: unknown = c.payor;
  const payor = (Array.isArray(payors) ? (payors as Coverage['payor']) : []).map((p) => {
    const reference = typeof p?.reference === 'string' ? p.reference : undefined;
    const person = reference !== undefined && /^(Patient|RelatedPerson)\//.test(reference);
    return { ...(reference ? { reference } : {}), ...(typeof p?.display === 'string' && !person ? { display: p.display } : {}) };
  });
  return { resourceType: 'Coverage', ...(c.id !== undefined ? { id: c.id } : {}), status: c.status, beneficiary: {}, payor };
}

// The cached form, checked on every read: an entry that does not parse (edited, or written by an
// older release whose key version was not bumped) is a miss, never a decision.
/** Arrays read back as the readonly lists the decision types hold. */
const list = <T extends z.ZodType>(item: T) => z.array(item).readonly();
const summaryShape = z.object({
  resourceType: z.literal('Coverage'),
  id: z.string().optional(),
  beneficiary: z.object({}),
  payor: list(z.object({ reference: z.string().optional(), display: z.string().optional() })),
});
const coverageSchema = z.custom<Coverage>((v) => summaryShape.safeParse(v).success, 'a Coverage summary');
const policyRefSchema = z.object({ policyId: z.string(), version: z.string() });
const ruleSchema = routingFileSchema.shape.rules.element;
const routedSchema = z.object({ kind: z.literal('routed'), coverage: coverageSchema, rule: ruleSchema, policy: policyRefSchema });
const noVersionSchema = z.object({ kind: z.literal('no-version'), coverage: coverageSchema, rule: ruleSchema, policyId: z.string() });
const noCoverageSchema = z.object({ kind: z.literal('no-coverage'), reason: z.string(), coverages: list(coverageSchema) });
const truth = z.boolean().nullable();
const citedSchema = z.object({ id: z.string(), text: z.string(), chain: list(z.string()) });
const stepSchema = z.object({
  key: z.string(),
  fact: z.string().optional(),
  value: truth,
  leafId: z.string(),
  leafText: z.string(),
  criterionId: z.string(),
  criterionText: z.string(),
  served: z.boolean().optional(),
});
const pathSchema = z.object({
  sectionId: z.string(),
  chain: list(z.string()),
  cited: z.object({ id: z.string(), text: z.string() }),
  steps: list(stepSchema),
  unknown: list(stepSchema),
  failed: list(stepSchema),
});
const nodeResultSchema: z.ZodType<NodeResult> = z.lazy(() =>
  z.object({
    id: z.string(),
    text: z.string(),
    kind: z.enum(['all', 'any', 'atLeast', 'not', 'fact', 'ref']),
    value: truth,
    inForce: z.boolean(),
    fact: z.string().optional(),
    evidence: list(z.string()),
    children: list(nodeResultSchema).optional(),
  }),
);
const ENGINE_OUTCOMES = ['criteria-met', 'documentation-missing', 'physician-review', 'not-indicated'] as const satisfies readonly EngineOutcome[];
const resultSchema = z.object({
  outcome: z.enum(ENGINE_OUTCOMES),
  decidedBy: z
    .discriminatedUnion('kind', [
      citedSchema.extend({ kind: z.literal('criterion') }),
      z.object({ kind: z.literal('incomplete-record'), text: z.string(), unavailable: list(z.string()) }),
    ])
    .optional(),
  evidence: list(z.string()),
  missing: list(pathSchema),
  wouldChange: list(pathSchema),
  failedPaths: list(pathSchema).optional(),
  blockedApproval: citedSchema.optional(),
  contrast: z.enum(['without', 'with-and-without']).optional(),
  // Policy rules by id: the library holds them (the entry is a miss if one is gone).
  notices: list(z.string()),
  alternatives: list(z.string()),
  trace: list(nodeResultSchema),
});
const base = { dateOfService: z.string(), cpt: z.string() };
const cachedDecisionSchema = z.union([
  z.object({ ...base, outcome: z.literal('patient-deceased'), routing: z.discriminatedUnion('kind', [routedSchema, noVersionSchema, noCoverageSchema]) }),
  z.object({ ...base, outcome: z.literal('no-coverage'), routing: noCoverageSchema }),
  z.object({ ...base, outcome: z.literal('no-policy-version'), routing: noVersionSchema }),
  z.object({ ...base, outcome: z.literal('no-review-required'), routing: routedSchema }),
  z.object({
    ...base,
    outcome: z.enum(ENGINE_OUTCOMES),
    routing: routedSchema,
    result: resultSchema,
    answerProblems: list(z.object({ response: z.string(), linkId: z.string(), reason: z.string() })).optional(),
  }),
]);
type CachedDecision = z.infer<typeof cachedDecisionSchema>;
type CachedRouting = CachedDecision['routing'];

const policyRef = (p: PolicyVersion) => ({ policyId: p.policyId, version: p.version });

function cachedRouting(r: RoutingResult): CachedRouting {
  switch (r.kind) {
    case 'routed':
      return { ...r, coverage: coverageSummary(r.coverage), policy: policyRef(r.policy) };
    case 'no-version':
      return { ...r, coverage: coverageSummary(r.coverage) };
    case 'no-coverage':
      return { ...r, coverages: r.coverages.map(coverageSummary) };
  }
}

export function serializeDecision(d: OrderDecision): string {
  const base = { dateOfService: d.dateOfService, cpt: d.cpt };
  let cached: CachedDecision;
  switch (d.outcome) {
    case 'patient-deceased':
      cached = { ...base, outcome: d.outcome, routing: cachedRouting(d.routing) };
      break;
    case 'no-coverage':
      cached = { ...base, outcome: d.outcome, routing: { ...d.routing, coverages: d.routing.coverages.map(coverageSummary) } };
      break;
    case 'no-policy-version':
      cached = { ...base, outcome: d.outcome, routing: { ...d.routing, coverage: coverageSummary(d.routing.coverage) } };
      break;
    case 'no-review-required':
      cached = { ...base, outcome: d.outcome, routing: { ...d.routing, coverage: coverageSummary(d.routing.coverage), policy: policyRef(d.routing.policy) } };
      break;
    default: {
      const { notices, alternatives, ...result } = d.result;
      cached = {
        ...base,
        outcome: d.outcome,
        routing: { ...d.routing, coverage: coverageSummary(d.routing.coverage), policy: policyRef(d.routing.policy) },
        result: { ...result, notices: notices.map((n) => n.id), alternatives: alternatives.map((a) => a.id) },
        ...(d.answerProblems ? { answerProblems: d.answerProblems } : {}),
      };
    }
  }
  return JSON.stringify(cached);
}

/** Why a cached entry could not be used (for the log): never its content. */
export type CacheMiss = 'not JSON' | 'not a decision of this shape' | 'policy no longer loaded';

/**
 * The decision for this request's order, or why the entry cannot be one (it is then a miss): the
 * entry must parse with the cached form's schema and name policies and rules the library still holds.
 */
export function restoreDecision(json: string, library: PolicyLibrary, order: ServiceRequest, orderRef: string): OrderDecision | CacheMiss {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return 'not JSON';
  }
  const parsed = cachedDecisionSchema.safeParse(raw);
  if (!parsed.success) return 'not a decision of this shape';
  const c = parsed.data;
  const findPolicy = (p: { policyId: string; version: string }) => library.policies.find((x) => x.policyId === p.policyId && x.version === p.version);
  const base = { order, orderRef, cpt: c.cpt, dateOfService: c.dateOfService };
  if (c.outcome === 'no-coverage') return { ...base, outcome: c.outcome, routing: c.routing };
  if (c.outcome === 'no-policy-version') return { ...base, outcome: c.outcome, routing: c.routing, coverage: c.routing.coverage };
  if (c.routing.kind !== 'routed') return c.outcome === 'patient-deceased' ? { ...base, outcome: c.outcome, routing: c.routing } : 'not a decision of this shape';
  const policy = findPolicy(c.routing.policy);
  if (!policy) return 'policy no longer loaded';
  const routing = { ...c.routing, policy };
  if (c.outcome === 'patient-deceased') return { ...base, outcome: c.outcome, routing };
  if (c.outcome === 'no-review-required') return { ...base, outcome: c.outcome, routing, policy, coverage: routing.coverage };
  const notices = c.result.notices.map((id) => policy.notices.find((n) => n.id === id));
  const alternatives = c.result.alternatives.map((id) => policy.alternatives.find((a) => a.id === id));
  if (notices.includes(undefined) || alternatives.includes(undefined)) return 'policy no longer loaded';
  return {
    ...base,
    outcome: c.outcome,
    routing,
    policy,
    coverage: routing.coverage,
    result: { ...c.result, notices: notices.filter((n) => n !== undefined), alternatives: alternatives.filter((a) => a !== undefined) },
    ...(c.answerProblems ? { answerProblems: c.answerProblems } : {}),
  };
}

/**
 * One order's decision through the cache: order-select computes and stores it; order-sign reads it
 * and computes only on a miss (order-sign's answer is final, so it never depends on a stale entry:
 * the key changes with anything the decision reads). order-sign computes no key for a patient the
 * cache holds no entry for.
 */
export async function decideThroughCache(
  cache: DecisionCache,
  library: PolicyLibrary,
  hook: 'order-select' | 'order-sign',
  input: DecisionInput,
  decide: () => OrderDecision,
  /** Told when an entry was found but could not be used (it is a miss). */
  onUnusable: (why: CacheMiss) => void = () => undefined,
): Promise<OrderDecision> {
  if (hook === 'order-sign') {
    if (!(await cache.mayHoldPatient(input.patientId))) return decide();
    const hit = await cache.get(decisionKey(library, input));
    if (hit === undefined) return decide();
    const restored = restoreDecision(hit, library, input.order, input.orderRef);
    if (typeof restored !== 'string') return restored;
    onUnusable(restored);
    return decide();
  }
  const key = decisionKey(library, input);
  const d = decide();
  await cache.set(key, serializeDecision(d));
  await cache.notePatient(input.patientId);
  return d;
}

/** The in-memory decision cache of one instance, bounded by DECISION_CACHE_MAX_KEYS and _TTL_SECONDS (0 turns it off). */
export function createDecisionCache(config: { readonly decisionCacheTtlSeconds: number; readonly decisionCacheMaxKeys: number }): DecisionCache | undefined {
  if (config.decisionCacheTtlSeconds <= 0 || config.decisionCacheMaxKeys <= 0) return undefined;
  return new SharedDecisionCache(new MemorySharedCache({ maxKeys: config.decisionCacheMaxKeys, prefix: 'decision:' }), config.decisionCacheTtlSeconds);
}
