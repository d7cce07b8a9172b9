import { HttpError } from './errors.js';

/** What one request may carry (README "Security"; defaults in src/config/config.ts). */
export interface RequestLimits {
  /** Resources (objects with a `resourceType`) under `prefetch` and `context.draftOrders`, contained ones included. */
  readonly maxResources: number;
  /** Any string value or object key, in UTF-16 code units. */
  readonly maxStringLength: number;
  /** Nesting of objects and arrays, the body itself being depth 1. */
  readonly maxJsonDepth: number;
  /** Bundles inside Bundles: a prefetch Bundle holding Bundles is depth 2. */
  readonly maxBundleDepth: number;
  readonly maxDraftOrders: number;
}

/** 422: well-formed JSON the service will not process because it exceeds a limit. */
const tooCostly = (message: string, expression?: string): HttpError => new HttpError(422, 'too-costly', message, expression);

/**
 * Checks a parsed JSON body against the limits before anything recursive reads it (schema,
 * FHIRPath, logging): one iterative walk, so a body nested a million deep costs no stack.
 * Throws a 422 HttpError naming the limit and where it was exceeded.
 */
export function checkRequestLimits(body: unknown, limits: RequestLimits): void {
  const draftEntries = draftOrderEntries(body);
  if (draftEntries > limits.maxDraftOrders) {
    throw tooCostly(`context.draftOrders has ${draftEntries} entries; this service takes at most ${limits.maxDraftOrders}`, 'context.draftOrders.entry');
  }
  const { maxStringLength, maxJsonDepth, maxBundleDepth, maxResources } = limits;
  const longString = `a string longer than ${maxStringLength} characters`;
  if (typeof body === 'string' && body.length > maxStringLength) throw exceeded([], 1, longString);
  if (body === null || typeof body !== 'object') return;

  // The objects and arrays still to visit, with what the walk knows of each, in parallel stacks:
  // the walk allocates nothing per value (a frame object each, and Object.keys, were most of its bytes).
  const values: object[] = [body];
  /** The member name or index each value sits at (the body's own is never read). */
  const keys: (string | number)[] = [''];
  /** Nesting: the body is depth 1. */
  const depths: number[] = [1];
  /** Bundles around each value, itself excluded. */
  const bundleDepths: number[] = [0];
  /** Inside `prefetch` or `context.draftOrders`: resources there count. */
  const counted: boolean[] = [false];
  // Depth first, so the values last visited at depths 2..d are the path to the one visited at depth d:
  // the path is rebuilt from them only when a limit is exceeded.
  const path: (string | number)[] = [];
  let resources = 0;
  while (values.length > 0) {
    const value = values.pop() as object;
    const key = keys.pop() as string | number;
    const depth = depths.pop() as number;
    let bundles = bundleDepths.pop() as number;
    const inRecord = counted.pop() as boolean;
    path[depth] = key;
    if (depth > maxJsonDepth) throw exceeded(path, depth, `nested deeper than ${maxJsonDepth} levels`);
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        const v: unknown = value[i];
        if (typeof v === 'string') {
          if (v.length > maxStringLength) throw exceeded(path, depth, longString, i);
        } else if (v !== null && typeof v === 'object') {
          values.push(v);
          keys.push(i);
          depths.push(depth + 1);
          bundleDepths.push(bundles);
          counted.push(inRecord);
        }
      }
      continue;
    }
    const record = value as Record<string, unknown>;
    const resourceType = record.resourceType;
    if (typeof resourceType === 'string') {
      if (inRecord && ++resources > maxResources) {
        throw tooCostly(`the request carries more than ${maxResources} resources in prefetch and draftOrders`, 'prefetch');
      }
      if (resourceType === 'Bundle' && ++bundles > maxBundleDepth) throw exceeded(path, depth, `Bundles nested deeper than ${maxBundleDepth}`);
    }
    // for-in, not Object.keys: no array of the names per object (a parsed body's members are all its own).
    for (const name in record) {
      if (name.length > maxStringLength) throw exceeded(path, depth, `a member name longer than ${maxStringLength} characters`);
      const v = record[name];
      if (typeof v === 'string') {
        if (v.length > maxStringLength) throw exceeded(path, depth, longString, name);
      } else if (v !== null && typeof v === 'object') {
        values.push(v);
        keys.push(name);
        depths.push(depth + 1);
        bundleDepths.push(bundles);
        counted.push(inRecord || (depth === 1 && name === 'prefetch') || (depth === 2 && key === 'context' && name === 'draftOrders'));
      }
    }
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
