/**
 * SchemaAgrees is what lets the loaders hand out parsed policy data as the engine's hand-written
 * types without a cast (src/library/loadPolicy.ts, src/facts/catalogue.ts). It only helps if it
 * tells a schema and a type apart whenever they differ, so each case here is compiled by tsc:
 * the agreeing pair must compile, every drift on one side only must not.
 */
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
// A file that is never written: the compiler host serves it from memory, next to the helper's tests.
const CASE_FILE = join(ROOT, 'test', 'library', 'schemaAgreesCases.ts');

const CASES = {
  agrees: 'Node',
  'a field optional in the type only': "Node & { readonly note?: string }",
  'a field optional in the schema, required in the type': "Omit<Node, 'label'> & { readonly label: string }",
  'a field retyped': "Omit<Node, 'children'> & { readonly children: readonly number[] }",
  'a field missing from the type': "Omit<Node, 'kind'>",
  'a narrower union in the type': "Omit<Node, 'kind'> & { readonly kind: 'all' }",
  'a mutable array in the type': "Omit<Node, 'children'> & { readonly children: string[] }",
} as const;

function compile(): Map<string, number> {
  const lines = [
    "import { z } from 'zod';",
    "import type { Assert, SchemaAgrees } from '../../src/config/schemaAgrees.js';",
    "const node = z.object({ id: z.string(), kind: z.enum(['all', 'any']), label: z.string().optional(), children: z.array(z.string()) }).strict();",
    "interface Node { readonly id: string; readonly kind: 'all' | 'any'; readonly label?: string; readonly children: readonly string[] }",
    ...Object.values(CASES).map((type, i) => `export type Case${i} = Assert<SchemaAgrees<typeof node, ${type}>>;`),
  ];
  const options: ts.CompilerOptions = {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const text = lines.join('\n');
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, version, ...rest) =>
    name === CASE_FILE ? ts.createSourceFile(name, text, version) : getSourceFile.call(host, name, version, ...rest);
  host.fileExists = (name) => name === CASE_FILE || fileExists.call(host, name);
  host.readFile = (name) => (name === CASE_FILE ? text : readFile.call(host, name));
  const program = ts.createProgram([CASE_FILE], options, host);
  const errorsByCase = new Map<string, number>(Object.keys(CASES).map((k) => [k, 0]));
  const first = lines.length - Object.keys(CASES).length;
  for (const d of ts.getPreEmitDiagnostics(program)) {
    if (d.file?.fileName !== CASE_FILE || d.start === undefined) throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    const line = d.file.getLineAndCharacterOfPosition(d.start).line;
    const name = Object.keys(CASES)[line - first];
    if (name === undefined) throw new Error(`line ${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    errorsByCase.set(name, (errorsByCase.get(name) ?? 0) + 1);
  }
  return errorsByCase;
}

describe('SchemaAgrees', () => {
  it('compiles for a schema and a type that agree, and fails for each drift on one side only', () => {
    const errors = compile();
    expect(Object.fromEntries(errors)).toEqual({
      agrees: 0,
      'a field optional in the type only': 1,
      'a field optional in the schema, required in the type': 1,
      'a field retyped': 1,
      'a field missing from the type': 1,
      'a narrower union in the type': 1,
      // The engine holds readonly lists; a mutable one in the type is the schema's shape, not a drift.
      'a mutable array in the type': 0,
    });
  });
});
