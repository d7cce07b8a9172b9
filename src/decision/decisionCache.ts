/**
 * The decision cache: an order-sign that follows an order-select for the same order and an
 * unchanged record is answered from the decision order-select computed. What is cached is the
 * order's decision (outcome, routing, engine result), never an HTTP response: the hook's own
 * fields (hookInstance, assertion ids, system actions) are rebuilt by the handler on every call.
 */
import { createHash } from 'node:crypto';
import type { Coverage, Resource, ServiceRequest } from 'fhir/r4.js';
import type { EngineResult } from '../engine/evaluate.js';
import type { PolicyLibrary } from '../library/library.js';
import type { RoutingResult } from '../routing/routing.js';
import { MemorySharedCache, type SharedCache } from '../store/kv.js';
import type { OrderDecision } from './decideOrder.js';

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
  h.update(`${libraryVersion(library)}\n${input.patientId}\n${input.orderRef}\n${input.cpt}\n${input.dateOfService}\n`);
  h.update(JSON.stringify(input.order));
  h.update('\n');
  h.update(JSON.stringify(input.prefetch ?? null));
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

export function serializeDecision(d: OrderDecision): string {
  const ref = (p: { policyId: string; version: string }) => ({ policyId: p.policyId, version: p.version });
  const routing = d.routing.kind === 'routed' ? { ...d.routing, policy: ref(d.routing.policy) } : d.routing;
  const cached: CachedDecision = {
    outcome: d.outcome,
    dateOfService: d.dateOfService,
    cpt: d.cpt,
    routing,
    ...(d.policy ? { policy: ref(d.policy) } : {}),
    ...(d.coverage ? { coverage: d.coverage } : {}),
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
