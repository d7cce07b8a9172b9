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
  readonly path: string;
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
  let resources = 0;
  const stack: Frame[] = [{ value: body, depth: 1, bundles: 0, counted: false, path: '' }];
  while (stack.length > 0) {
    const { value, depth, bundles, counted, path } = stack.pop() as Frame;
    if (typeof value === 'string') {
      if (value.length > limits.maxStringLength) throw tooCostly(`${where(path)}: a string longer than ${limits.maxStringLength} characters`, path || undefined);
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth > limits.maxJsonDepth) throw tooCostly(`${where(path)}: nested deeper than ${limits.maxJsonDepth} levels`, path || undefined);
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], depth: depth + 1, bundles, counted, path: `${path}[${i}]` });
      continue;
    }
    const record = value as Record<string, unknown>;
    let nested = bundles;
    if (typeof record.resourceType === 'string') {
      if (counted && ++resources > limits.maxResources) {
        throw tooCostly(`the request carries more than ${limits.maxResources} resources in prefetch and draftOrders`, 'prefetch');
      }
      if (record.resourceType === 'Bundle' && ++nested > limits.maxBundleDepth) {
        throw tooCostly(`${where(path)}: Bundles nested deeper than ${limits.maxBundleDepth}`, path || undefined);
      }
    }
    for (const key of Object.keys(record)) {
      if (key.length > limits.maxStringLength) throw tooCostly(`${where(path)}: a member name longer than ${limits.maxStringLength} characters`, path || undefined);
      const child = path ? `${path}.${key}` : key;
      const inScope = counted || child === 'prefetch' || child === 'context.draftOrders';
      stack.push({ value: record[key], depth: depth + 1, bundles: nested, counted: inScope, path: child });
    }
  }
}

function draftOrderEntries(body: unknown): number {
  const entry = (body as { context?: { draftOrders?: { entry?: unknown } } } | null)?.context?.draftOrders?.entry;
  return Array.isArray(entry) ? entry.length : 0;
}

function where(path: string): string {
  return path === '' ? '(body)' : path.length > 120 ? `${path.slice(0, 120)}…` : path;
}
