/**
 * The decision cache: an order-sign that follows an order-select for the same order and an
 * unchanged record is answered from the decision order-select computed. What is cached is the
 * order's decision (outcome, routing, engine result), never an HTTP response: the hook's own
 * fields (hookInstance, assertion ids, system actions) are rebuilt by the handler on every call.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Coverage, Resource, ServiceRequest } from 'fhir/r4.js';
import type { EngineResult } from '../engine/evaluate.js';
import type { PolicyLibrary } from '../library/library.js';
import type { RoutingResult } from '../routing/routing.js';
import { rawMember } from '../hooks/rawMember.js';
import { MemorySharedCache, type SharedCache } from '../store/kv.js';
import { sameSecret } from '../security/throttle.js';
import type { OrderDecision } from './decideOrder.js';

/** Part of every key and MAC: entries written by an older release are never read as this one's. */
export const DECISION_CACHE_VERSION = 'decision-v2';

/** Without DECISION_CACHE_KEY: a key no one else knows, good for this process's own (memory) cache. */
export const PROCESS_DECISION_CACHE_KEY = randomBytes(32);

/** Get and set of a serialised decision per key; errors are the implementation's to swallow. */
export interface DecisionCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, decision: string): Promise<void>;
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
    v = createHash('sha256').update(content).digest('hex').slice(0, 16);
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
  // The prefetch as sent (the same bytes parse to the same record); serialised when the body is absent or ambiguous.
  const sent = input.body ? rawMember(input.body, 'prefetch') : undefined;
  if (sent) h.update('sent\n').update(sent);
  else h.update(JSON.stringify(input.prefetch ?? null));
  h.update('\n');
  h.update(JSON.stringify(input.draftEntries ?? []));
  return h.digest('hex');
}

/** The cached form: policy by id and version (the library holds it), everything else as data. */
interface CachedDecision {
  readonly outcome: OrderDecision['outcome'];
  readonly dateOfService: string;
  readonly cpt: string;
  readonly routing:
    | { readonly kind: 'routed'; readonly coverage: Coverage; readonly rule: unknown; readonly policy: { readonly policyId: string; readonly version: string } }
    | Exclude<RoutingResult, { kind: 'routed' }>;
  readonly policy?: { readonly policyId: string; readonly version: string };
  readonly coverage?: Coverage;
  readonly result?: EngineResult;
  readonly answerProblems?: OrderDecision['answerProblems'];
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

export function serializeDecision(d: OrderDecision): string {
  const ref = (p: { policyId: string; version: string }) => ({ policyId: p.policyId, version: p.version });
  const r = d.routing;
  const routing: CachedDecision['routing'] =
    r.kind === 'routed'
      ? { ...r, coverage: coverageSummary(r.coverage), policy: ref(r.policy) }
      : r.kind === 'no-version'
        ? { ...r, coverage: coverageSummary(r.coverage) }
        : { ...r, coverages: r.coverages.map(coverageSummary) };
  const cached: CachedDecision = {
    outcome: d.outcome,
    dateOfService: d.dateOfService,
    cpt: d.cpt,
    routing,
    ...(d.policy ? { policy: ref(d.policy) } : {}),
    ...(d.coverage ? { coverage: coverageSummary(d.coverage) } : {}),
    ...(d.result ? { result: d.result } : {}),
    ...(d.answerProblems ? { answerProblems: d.answerProblems } : {}),
  };
  return JSON.stringify(cached);
}

/** The decision for this request's order, or undefined when the entry no longer fits the library. */
export function restoreDecision(json: string, library: PolicyLibrary, order: ServiceRequest, orderRef: string): OrderDecision | undefined {
  let cached: CachedDecision;
  try {
    cached = JSON.parse(json) as CachedDecision;
  } catch {
    return undefined;
  }
  const find = (p: { policyId: string; version: string } | undefined) =>
    p ? library.policies.find((x) => x.policyId === p.policyId && x.version === p.version) : undefined;
  const policy = find(cached.policy);
  if (cached.policy && !policy) return undefined;
  let routing: RoutingResult;
  if (cached.routing.kind === 'routed') {
    const routedPolicy = find(cached.routing.policy);
    if (!routedPolicy) return undefined;
    routing = { ...cached.routing, policy: routedPolicy } as RoutingResult;
  } else routing = cached.routing;
  return {
    order,
    orderRef,
    cpt: cached.cpt,
    dateOfService: cached.dateOfService,
    routing,
    outcome: cached.outcome,
    ...(policy ? { policy } : {}),
    ...(cached.coverage ? { coverage: cached.coverage } : {}),
    ...(cached.result ? { result: cached.result } : {}),
    ...(cached.answerProblems ? { answerProblems: cached.answerProblems } : {}),
  };
}

/**
 * One order's decision through the cache: order-select computes and stores it; order-sign reads it
 * and computes only on a miss (order-sign's answer is final, so it never depends on a stale entry:
 * the key changes with anything the decision reads).
 */
export async function decideThroughCache(
  cache: DecisionCache,
  library: PolicyLibrary,
  hook: 'order-select' | 'order-sign',
  input: DecisionInput,
  decide: () => OrderDecision,
): Promise<OrderDecision> {
  const key = decisionKey(library, input);
  if (hook === 'order-sign') {
    const hit = await cache.get(key);
    const restored = hit === undefined ? undefined : restoreDecision(hit, library, input.order, input.orderRef);
    if (restored) return restored;
    return decide();
  }
  const d = decide();
  await cache.set(key, serializeDecision(d));
  return d;
}

/** The in-memory decision cache of one instance, bounded by DECISION_CACHE_MAX_KEYS and _TTL_SECONDS (0 turns it off). */
export function createDecisionCache(config: { readonly decisionCacheTtlSeconds: number; readonly decisionCacheMaxKeys: number }): DecisionCache | undefined {
  if (config.decisionCacheTtlSeconds <= 0 || config.decisionCacheMaxKeys <= 0) return undefined;
  return new SharedDecisionCache(new MemorySharedCache({ maxKeys: config.decisionCacheMaxKeys, prefix: 'decision:' }), config.decisionCacheTtlSeconds);
}
