import type { Patient, Resource } from 'fhir/r4.js';
import type { RecordSource } from '../record/PatientRecord.js';

/** Thrown at a record read once the evaluation budget is spent; the order gets a "could not be completed" card. */
export class EvaluationBudgetExceeded extends Error {
  override readonly name = 'EvaluationBudgetExceeded';
}

/**
 * A time budget for evaluating the orders of one request. Evaluation is synchronous, so it cannot
 * be interrupted from outside: instead every record read (routing and every fact read the record)
 * is a checkpoint that throws once the budget is spent. After `finish()`, reads are free again
 * (cards read the facts already computed).
 */
export class EvaluationBudget {
  private readonly deadline: number;
  private finished = false;

  constructor(
    budgetMs: number,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.deadline = clock() + budgetMs;
  }

  exhausted(): boolean {
    return !this.finished && this.clock() >= this.deadline;
  }

  finish(): void {
    this.finished = true;
  }

  /** The record, with a checkpoint on every read. */
  guard(record: RecordSource): RecordSource {
    const check = (): void => {
      if (this.exhausted()) throw new EvaluationBudgetExceeded('the evaluation budget was spent');
    };
    return {
      get patientId() {
        return record.patientId;
      },
      get unavailable() {
        return record.unavailable;
      },
      get patient(): Patient | undefined {
        check();
        return record.patient;
      },
      ofType<T extends Resource = Resource>(type: string): readonly T[] {
        check();
        return record.ofType<T>(type);
      },
      inValueSet<T extends Resource = Resource>(type: string, valueSetId: string): readonly T[] {
        check();
        return record.inValueSet<T>(type, valueSetId);
      },
      resolve<T extends Resource = Resource>(reference: string | undefined): T | undefined {
        check();
        return record.resolve<T>(reference);
      },
    };
  }
}
