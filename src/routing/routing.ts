import type { Coverage, Organization } from 'fhir/r4.js';
import { z } from 'zod';
import { inWindow } from '../engine/logic.js';
import type { PolicyVersion } from '../engine/types.js';
import { toDay } from '../fhir/dates.js';
import { PolicyLoadError, type LoadProblem } from '../config/loadError.js';
import type { RecordSource } from '../record/PatientRecord.js';
import { codingsOf } from '../fhir/codings.js';
import type { ValueSetIndex } from '../terminology/valueSets.js';

export const routingFileSchema = z
  .object({
    description: z.string().optional(),
    rules: z
      .array(
        z
          .object({
            id: z.string().min(1),
            description: z.string().optional(),
            /** Matched against Coverage.payor display or the payor Organization's name (prefix, case-insensitive). */
            payorNames: z.array(z.string().min(1)).optional(),
            /** Coverage.type must be in this value set. */
            coverageTypeValueSet: z.string().optional(),
            policyId: z.string().min(1),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

export type RoutingFile = z.infer<typeof routingFileSchema>;
export type RoutingRule = RoutingFile['rules'][number];

export type RoutingResult =
  | { readonly kind: 'routed'; readonly coverage: Coverage; readonly rule: RoutingRule; readonly policy: PolicyVersion }
  /** A coverage matched, but no version of its policy is in force at the date of service. */
  | { readonly kind: 'no-version'; readonly coverage: Coverage; readonly rule: RoutingRule; readonly policyId: string }
  | { readonly kind: 'no-coverage'; readonly reason: string; readonly coverages: readonly Coverage[] };

/** Coverage + date of service -> policy version. Rules are data; this code knows no payer. */
export class Router {
  /** `file` names the routing file in load errors (`cds-services/routing.json` or ROUTING_FILE). */
  constructor(
    private readonly routing: RoutingFile,
    private readonly policies: readonly PolicyVersion[],
    private readonly valueSets: ValueSetIndex,
    file = 'routing file',
  ) {
    const known = new Set(policies.map((p) => p.policyId));
    const problems: LoadProblem[] = [];
    routing.rules.forEach((r, i) => {
      if (!known.has(r.policyId)) problems.push({ file, path: `rules[${i}].policyId`, message: `rule ${r.id}: no policy ${r.policyId} in the policy folder` });
      if (r.coverageTypeValueSet && !valueSets.has(r.coverageTypeValueSet)) {
        problems.push({ file, path: `rules[${i}].coverageTypeValueSet`, message: `rule ${r.id}: unknown value set ${r.coverageTypeValueSet}` });
      }
    });
    if (problems.length) throw new PolicyLoadError(problems);
  }

  /** Active coverages whose period covers the date of service, primary first (`Coverage.order`). */
  activeCoverages(record: RecordSource, dateOfService: string): Coverage[] {
    return record
      .ofType<Coverage>('Coverage')
      .filter((c) => c.status === 'active')
      .filter((c) => {
        const start = toDay(c.period?.start);
        const end = toDay(c.period?.end);
        return (start === undefined || start <= dateOfService) && (end === undefined || end >= dateOfService);
      })
      .map((c, i) => ({ c, i }))
      .sort((a, b) => (a.c.order ?? Number.MAX_SAFE_INTEGER) - (b.c.order ?? Number.MAX_SAFE_INTEGER) || a.i - b.i)
      .map((x) => x.c);
  }

  route(record: RecordSource, dateOfService: string): RoutingResult {
    const all = record.ofType<Coverage>('Coverage');
    const active = this.activeCoverages(record, dateOfService);
    if (active.length === 0) {
      const reason =
        all.length === 0
          ? 'No Coverage was found for the patient.'
          : `No active Coverage covers the date of service ${dateOfService}.`;
      return { kind: 'no-coverage', reason, coverages: all };
    }
    for (const coverage of active) {
      const rule = this.routing.rules.find((r) => this.matches(r, coverage, record));
      if (!rule) continue;
      const policy = this.policies.find((p) => p.policyId === rule.policyId && inWindow(dateOfService, p.effective));
      if (!policy) return { kind: 'no-version', coverage, rule, policyId: rule.policyId };
      return { kind: 'routed', coverage, rule, policy };
    }
    return {
      kind: 'no-coverage',
      reason: `The patient's coverage (${active.map(payorLabel).join('; ')}) is not one this service has a lumbar MRI policy for.`,
      coverages: active,
    };
  }

  private matches(rule: RoutingRule, coverage: Coverage, record: RecordSource): boolean {
    if (rule.payorNames) {
      const names = payorNames(coverage, record).map((n) => n.toLowerCase());
      const wanted = rule.payorNames.map((n) => n.toLowerCase());
      if (!names.some((n) => wanted.some((w) => n.startsWith(w)))) return false;
    }
    if (rule.coverageTypeValueSet) {
      const vs = rule.coverageTypeValueSet;
      if (!codingsOf([coverage.type]).some((c) => this.valueSets.contains(vs, c))) return false;
    }
    return true;
  }
}

function payorNames(coverage: Coverage, record: RecordSource): string[] {
  const out: string[] = [];
  for (const p of payorsOf(coverage)) {
    if (typeof p.display === 'string') out.push(p.display.trim());
    const org = typeof p.reference === 'string' ? record.resolve<Organization>(p.reference) : undefined;
    if (org?.resourceType === 'Organization' && typeof org.name === 'string') out.push(org.name.trim());
  }
  return out;
}

export function payorLabel(coverage: Coverage): string {
  return payorsOf(coverage).map((p) => p.display).filter((d) => typeof d === 'string' && d !== '').join(', ') || `Coverage/${coverage.id ?? '?'}`;
}

/** Coverage.payor as sent: loose clients send one Reference, or nulls, where the spec has a list. */
function payorsOf(coverage: Coverage): NonNullable<Coverage['payor']> {
  const payor: unknown = coverage.payor;
  const list = Array.isArray(payor) ? payor : payor ? [payor] : [];
  return list.filter((p): p is NonNullable<Coverage['payor']>[number] => !!p && typeof p === 'object');
}
