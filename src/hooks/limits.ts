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

interface Frame {
  readonly value: unknown;
  readonly depth: number;
  readonly bundles: number;
  /** Inside `prefetch` or `context.draftOrders`: resources there count. */
  readonly counted: boolean;
  /** Where the value sits, kept as links so a path string is built only for an error. */
  readonly parent?: Frame;
  readonly key?: string | number;
}

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
  const fail = (frame: Frame, what: string): HttpError => {
    const path = pathOf(frame);
    return tooCostly(`${path || '(body)'}: ${what}`, path || undefined);
  };
  let resources = 0;
  // Only objects and arrays are stacked: a string is checked where it is found (most of a body's
  // values are strings and numbers; a frame for each was most of this walk's cost).
  const checkString = (value: string, parent: Frame, key: string | number): void => {
    if (value.length > limits.maxStringLength) throw fail({ value, depth: parent.depth + 1, bundles: parent.bundles, counted: parent.counted, parent, key }, `a string longer than ${limits.maxStringLength} characters`);
  };
  const root: Frame = { value: body, depth: 1, bundles: 0, counted: false };
  if (typeof body === 'string' && body.length > limits.maxStringLength) throw fail(root, `a string longer than ${limits.maxStringLength} characters`);
  const stack: Frame[] = [root];
  while (stack.length > 0) {
    const frame = stack.pop() as Frame;
    const { value, depth, counted } = frame;
    if (value === null || typeof value !== 'object') continue;
    if (depth > limits.maxJsonDepth) throw fail(frame, `nested deeper than ${limits.maxJsonDepth} levels`);
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        const v: unknown = value[i];
        if (typeof v === 'string') checkString(v, frame, i);
        else if (v !== null && typeof v === 'object') stack.push({ value: v, depth: depth + 1, bundles: frame.bundles, counted, parent: frame, key: i });
      }
      continue;
    }
    const record = value as Record<string, unknown>;
    let bundles = frame.bundles;
    if (typeof record.resourceType === 'string') {
      if (counted && ++resources > limits.maxResources) {
        throw tooCostly(`the request carries more than ${limits.maxResources} resources in prefetch and draftOrders`, 'prefetch');
      }
      if (record.resourceType === 'Bundle' && ++bundles > limits.maxBundleDepth) throw fail(frame, `Bundles nested deeper than ${limits.maxBundleDepth}`);
    }
    for (const key of Object.keys(record)) {
      if (key.length > limits.maxStringLength) throw fail(frame, `a member name longer than ${limits.maxStringLength} characters`);
      const v = record[key];
      if (typeof v === 'string') {
        checkString(v, frame, key);
        continue;
      }
      if (v === null || typeof v !== 'object') continue;
      const inScope = counted || (depth === 1 && key === 'prefetch') || (depth === 2 && frame.key === 'context' && key === 'draftOrders');
      stack.push({ value: v, depth: depth + 1, bundles, counted: inScope, parent: frame, key });
    }
  }
}

function draftOrderEntries(body: unknown): number {
  const entry = (body as { context?: { draftOrders?: { entry?: unknown } } } | null)?.context?.draftOrders?.entry;
  return Array.isArray(entry) ? entry.length : 0;
}

/** `prefetch.conditions.entry[3].resource`, clipped: the place named in the OperationOutcome. */
function pathOf(frame: Frame): string {
  const parts: string[] = [];
  let f: Frame | undefined = frame;
  for (; f?.parent && parts.length < 40; f = f.parent) parts.push(typeof f.key === 'number' ? `[${f.key}]` : `.${String(f.key)}`);
  const path = (f?.parent ? '…' : '') + parts.reverse().join('').replace(/^\./, '');
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}
