import type { HookObserver } from '../pipeline/events.js';
import { isEngineDecision, type OrderDecision } from '../decision/decideOrder.js';
import type { NodeResult } from '../engine/evaluate.js';
import type { FactCatalogue } from '../facts/catalogue.js';
import type { SharedCache } from '../kv/kv.js';
import type { KnownAnswers } from './form.js';

/**
 * The documentation findings an order-sign decision already read (from the record's Observations or
 * earlier answers), kept per coverage-assertion-id so the package's draft response can carry them.
 * Only values, keyed by finding code: no resource content. Lost on restart (then the draft is empty).
 */
const TTL_SECONDS = 7 * 24 * 3600;
const key = (assertionId: string): string => `dtr:known:${assertionId}`;

/** Facts that are exactly one documented finding: their value is the answer to that finding's item. */
function findingFacts(facts: FactCatalogue): [factId: string, code: string][] {
  return Object.entries(facts.definitions).flatMap(([id, def]) => ('source' in def.derive && def.derive.source === 'finding' ? [[id, def.derive.code] as [string, string]] : []));
}

export function knownAnswersOf(d: OrderDecision, facts: FactCatalogue): KnownAnswers {
  const out: Record<string, boolean> = {};
  // Evidence names where a value came from: an absent-means-false default is not an answer anyone gave.
  const keep = (code: string, value: unknown, evidence: readonly string[]): void => {
    if (typeof value === 'boolean' && evidence.length > 0) out[code] = value;
  };
  if (!isEngineDecision(d)) return out;
  if (d.facts) {
    for (const [id, code] of findingFacts(facts)) {
      const v = d.facts.fact(id);
      keep(code, v.value, v.evidence);
    }
    return out;
  }
  // A decision order-select cached has no fact context: its criteria trace holds the leaves it read.
  const codeOf = new Map(findingFacts(facts));
  const walk = (nodes: readonly NodeResult[]): void => {
    for (const n of nodes) {
      const code = n.fact ? codeOf.get(n.fact) : undefined;
      if (code) keep(code, n.value, n.evidence);
      walk(n.children ?? []);
    }
  };
  walk(d.result.trace);
  return out;
}

export class KnownAnswerStore {
  constructor(private readonly cache: SharedCache) {}

  async get(assertionId: string): Promise<KnownAnswers> {
    const raw = await this.cache.get(key(assertionId));
    if (!raw) return {};
    const parsed: unknown = JSON.parse(raw);
    if (!parsed || typeof parsed !== 'object') return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, boolean] => typeof e[1] === 'boolean'));
  }

  /** Keeps the answers of each order-sign decision that carries a coverage-assertion-id. */
  observer(facts: FactCatalogue, onError: (err: Error) => void): HookObserver {
    return {
      onHook: (e) => {
        if (e.hook !== 'order-sign') return;
        for (const d of e.outcome.decisions) {
          const id = e.outcome.assertions.get(d.orderRef)?.coverageAssertionId;
          if (!id || (d.outcome !== 'documentation-missing' && d.outcome !== 'physician-review')) continue;
          this.cache.set(key(id), JSON.stringify(knownAnswersOf(d, facts)), TTL_SECONDS).catch(onError);
        }
      },
    };
  }
}
