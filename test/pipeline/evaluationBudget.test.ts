import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Resource } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { loadLibrary } from '../../src/library/library.js';
import { EvaluationBudget, EvaluationBudgetExceeded } from '../../src/pipeline/evaluationBudget.js';
import { PatientRecord } from '../../src/record/PatientRecord.js';

const ROOT = join(import.meta.dirname, '..', '..');
const valueSets = loadLibrary().valueSets;
const recordOf = (id: string): PatientRecord =>
  new PatientRecord(id, [{ resourceType: 'Patient', id } as Resource, { resourceType: 'Coverage', id: `cov-${id}`, status: 'active' } as Resource], valueSets);

describe('EvaluationBudget: every record read is a checkpoint', () => {
  it('reads through the guard until the budget is spent, then throws; after finish() reads are free again', () => {
    let now = 0;
    const budget = new EvaluationBudget(10, () => now);
    const guarded = budget.guard(recordOf('p1'));
    expect(guarded.patientId).toBe('p1');
    expect(guarded.patient?.id).toBe('p1');
    expect(guarded.ofType('Coverage').map((c) => c.id)).toEqual(['cov-p1']);
    expect(guarded.resolve('Coverage/cov-p1')?.id).toBe('cov-p1');
    now = 10;
    expect(() => guarded.ofType('Coverage')).toThrow(EvaluationBudgetExceeded);
    expect(() => guarded.patient).toThrow(EvaluationBudgetExceeded);
    expect(() => guarded.resolve('Coverage/cov-p1')).toThrow(EvaluationBudgetExceeded);
    expect(() => guarded.inValueSet('Coverage', 'any')).toThrow(EvaluationBudgetExceeded);
    // Reading the id or what could not be read is no evaluation: never a checkpoint.
    expect(guarded.patientId).toBe('p1');
    expect(guarded.unavailable.size).toBe(0);
    budget.finish();
    expect(guarded.ofType('Coverage')).toHaveLength(1);
  });

  it('is a plain fast object of one shape for every request (V8), not a dictionary object with accessors', () => {
    // A guard built as an object literal with getters was a dictionary object whose accessor pairs V8
    // keeps in the old generation: they held each request's record and body through every minor collection.
    const script = `
      const { EvaluationBudget } = await import(${JSON.stringify(join(ROOT, 'src/pipeline/evaluationBudget.ts'))});
      const rec = (id) => ({ patientId: id, patient: undefined, unavailable: new Set(), ofType: () => [], inValueSet: () => [], resolve: () => undefined });
      const a = new EvaluationBudget(1000).guard(rec('a'));
      const b = new EvaluationBudget(1000).guard(rec('b'));
      process.stdout.write(JSON.stringify([%HaveSameMap(a, b), %HasFastProperties(a), %HasFastProperties(b)]));
    `;
    const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([true, true, true]);
  });
});
