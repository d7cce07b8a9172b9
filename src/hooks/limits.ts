import { HttpError } from './errors.js';

/** What one request may carry (README "Security"; defaults in src/config/config.ts). */
export interface RequestLimits {
  /** Resources (objects with a `resourceType`) under `prefetch` and `context.draftOrders`, contained ones included. */
  readonly maxResources: number;
  /** Any string value or object key, in UTF-16 code units. */
  readonly maxStringLength: number;
  /** Nesting of objects and arrays, the body itself being depth 1: at most MAX_JSON_DEPTH_CEILING. */
  readonly maxJsonDepth: number;
  /** Bundles inside Bundles: a prefetch Bundle holding Bundles is depth 2. */
  readonly maxBundleDepth: number;
  readonly maxDraftOrders: number;
}

/**
 * The deepest nesting a configuration may allow. The walk below recurses once per level and stops at
 * the limit, so this bounds its stack whatever a body holds (a thousand frames is well within Node's
 * default stack; a test walks a million-deep body at this limit).
 */
export const MAX_JSON_DEPTH_CEILING = 1000;

/** 422: well-formed JSON the service will not process because it exceeds a limit. */
const tooCostly = (message: string, expression?: string): HttpError => new HttpError(422, 'too-costly', message, expression);

/**
 * Checks a parsed JSON body against the limits before anything recursive reads it (schema,
 * FHIRPath, logging): one walk that goes no deeper than `maxJsonDepth` (so a body nested a million
 * deep costs no more stack than one nested to the limit) and allocates nothing per value.
 * Throws a 422 HttpError naming the limit and where it was exceeded.
 */
export function checkRequestLimits(body: unknown, limits: RequestLimits): void {
  const draftEntries = draftOrderEntries(body);
  if (draftEntries > limits.maxDraftOrders) {
    throw tooCostly(`context.draftOrders has ${draftEntries} entries; this service takes at most ${limits.maxDraftOrders}`, 'context.draftOrders.entry');
  }
  if (limits.maxJsonDepth > MAX_JSON_DEPTH_CEILING) throw new RangeError(`maxJsonDepth ${limits.maxJsonDepth} is over ${MAX_JSON_DEPTH_CEILING}`);
  const { maxStringLength } = limits;
  if (typeof body === 'string' && body.length > maxStringLength) throw exceeded([], 1, `a string longer than ${maxStringLength} characters`);
  if (body === null || typeof body !== 'object') return;
  new LimitsWalk(limits).visit(body, '', 1, 0, false);
}

/** One walk's state: the resources counted so far, and the member names or indexes down to the value being visited. */
class LimitsWalk {
  private resources = 0;
  /** path[d] is the key of the value visited at depth d: rebuilt into a place only when a limit is exceeded. */
  private readonly path: (string | number)[] = [];

  constructor(private readonly limits: RequestLimits) {}

  /**
   * `bundles`: Bundles around `value`, itself excluded; `inRecord`: inside `prefetch` or
   * `context.draftOrders`, where resources count.
   */
  visit(value: object, key: string | number, depth: number, bundles: number, inRecord: boolean): void {
    const { maxJsonDepth, maxStringLength } = this.limits;
    this.path[depth] = key;
    if (depth > maxJsonDepth) throw exceeded(this.path, depth, `nested deeper than ${maxJsonDepth} levels`);
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const v: unknown = value[i];
        if (typeof v === 'string') {
          if (v.length > maxStringLength) throw this.longString(depth, i);
        } else if (v !== null && typeof v === 'object') {
          this.visit(v, i, depth + 1, bundles, inRecord);
        }
      }
      return;
    }
    const record = value as Record<string, unknown>;
    const resourceType = record.resourceType;
    if (typeof resourceType === 'string') {
      if (inRecord && ++this.resources > this.limits.maxResources) {
        throw tooCostly(`the request carries more than ${this.limits.maxResources} resources in prefetch and draftOrders`, 'prefetch');
      }
      if (resourceType === 'Bundle' && ++bundles > this.limits.maxBundleDepth) throw exceeded(this.path, depth, `Bundles nested deeper than ${this.limits.maxBundleDepth}`);
    }
    // for-in, not Object.keys: no array of the names per object (a parsed body's members are all its own).
    for (const name in record) {
      if (name.length > maxStringLength) throw exceeded(this.path, depth, `a member name longer than ${maxStringLength} characters`);
      const v = record[name];
      if (typeof v === 'string') {
        if (v.length > maxStringLength) throw this.longString(depth, name);
      } else if (v !== null && typeof v === 'object') {
        this.visit(v, name, depth + 1, bundles, inRecord || (depth === 1 && name === 'prefetch') || (depth === 2 && key === 'context' && name === 'draftOrders'));
      }
    }
  }

  private longString(depth: number, last: string | number): HttpError {
    return exceeded(this.path, depth, `a string longer than ${this.limits.maxStringLength} characters`, last);
  }
}

function draftOrderEntries(body: unknown): number {
  const entry = (body as { context?: { draftOrders?: { entry?: unknown } } } | null)?.context?.draftOrders?.entry;
  return Array.isArray(entry) ? entry.length : 0;
}

/**
 * The 422 for a limit exceeded at the value at `depth` (the member `last` of it, when given), named by
 * its place: `prefetch.conditions.entry[3].resource`, clipped to its last 40 steps and 200 characters.
 */
function exceeded(path: readonly (string | number)[], depth: number, what: string, last?: string | number): HttpError {
  const steps = last === undefined ? path.slice(2, depth + 1) : [...path.slice(2, depth + 1), last];
  const shown = steps.slice(-40).map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`));
  const place = (steps.length > 40 ? '…' : '') + shown.join('').replace(/^\./, '');
  const clipped = place.length > 200 ? `${place.slice(0, 200)}…` : place;
  return tooCostly(`${clipped || '(body)'}: ${what}`, clipped || undefined);
}
