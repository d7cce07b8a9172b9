import { readFileSync } from 'node:fs';

/** One thing wrong in the policy data: the file, the field in it (a JSON path) and what to fix. */
export interface LoadProblem {
  readonly file: string;
  /** `indications[0].children[2].fact`; empty for the file as a whole. */
  readonly path: string;
  readonly message: string;
}

/**
 * Policy data that does not load (cds-services/, a ROUTING_FILE). Every check of the library throws
 * this one class, so start-up can print one line naming the file and the field, never a stack.
 */
export class PolicyLoadError extends Error {
  readonly problems: readonly LoadProblem[];

  constructor(problems: readonly LoadProblem[] | LoadProblem) {
    const list = Array.isArray(problems) ? problems : [problems];
    super(list.map(describe).join('; '));
    this.name = 'PolicyLoadError';
    this.problems = list;
  }

  /** The first problem's file, the one the operator opens. */
  get file(): string {
    return this.problems[0]?.file ?? '';
  }

  /** One line for the operator: the first problem, and how many more there are. */
  get summary(): string {
    const [first] = this.problems;
    const more = this.problems.length > 1 ? ` (and ${this.problems.length - 1} more)` : '';
    return first ? `${describe(first)}${more}` : this.message;
  }
}

function describe(p: LoadProblem): string {
  return p.path ? `${p.file}: ${p.path}: ${p.message}` : `${p.file}: ${p.message}`;
}

/** A JSON path from a list of keys: `rules[2].policyId`. */
export function jsonPath(keys: readonly PropertyKey[]): string {
  return keys.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
}

interface SchemaLike<T> {
  safeParse(x: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

/** Parses with a zod schema; each issue becomes a problem at its field. */
export function parseFile<T>(schema: SchemaLike<T>, json: unknown, file: string): T {
  const r = schema.safeParse(json);
  if (!r.success) throw new PolicyLoadError(r.error.issues.map((i) => ({ file, path: jsonPath(i.path), message: i.message })));
  return r.data;
}

/** A JSON file's content; a file that cannot be read or is not JSON is a load error naming it. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PolicyLoadError({ file, path: '', message: `cannot be read (${err instanceof Error ? err.message : String(err)})` });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PolicyLoadError({ file, path: '', message: `not JSON: ${err instanceof Error ? err.message : String(err)}` });
  }
}
