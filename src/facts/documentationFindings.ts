import type { CodeSystem } from 'fhir/r4.js';
import type { FactCatalogue } from './catalogue.js';
import type { FindingLexicon } from './findingWords.js';
import { SYSTEMS } from '../terminology/valueSets.js';

/** The codes contract section 7 names (never renamed); their words are in cds-services/common/findings.json. */
const CONTRACT_CODES: readonly string[] = [
  'progressive-neurologic-deficit',
  'saddle-anesthesia',
  'anal-sphincter-laxity',
  'plain-films-nondiagnostic',
  'leg-pain-exceeds-back-pain',
  'straight-leg-raise-positive',
  'radicular-deficit',
  'neurogenic-claudication',
  'no-improvement-after-conservative-care',
  'severe-functional-impairment',
  'specialist-determined-intervention',
  'surgical-candidate',
  'surgeon-requests-preoperative-mri',
  'surgery-under-consideration',
  'new-or-worsening-symptoms',
  'insidious-onset',
  'improves-with-exercise',
  'no-improvement-with-rest',
  'night-pain-improves-on-rising',
  'pain-worse-supine-at-night',
  'disease-activity-unclear',
  'mri-changes-biologic-therapy',
  'bladder-or-bowel-dysfunction',
  'other-acute-fracture',
  'treatment-since-last-imaging',
];

/** Every documentation-finding code: the contract's and those the fact catalogue reads. */
const KNOWN = new WeakMap<object, ReadonlySet<string>>();

export function knownFindingCodes(facts: Pick<FactCatalogue, 'findingCodes'>): ReadonlySet<string> {
  let known = KNOWN.get(facts);
  if (!known) {
    known = new Set([...CONTRACT_CODES, ...facts.findingCodes()]);
    KNOWN.set(facts, known);
  }
  return known;
}

/** `GET /fhir/CodeSystem/documentation-finding`: every finding code the policies read. */
export function documentationFindingCodeSystem(facts: FactCatalogue, words: FindingLexicon): CodeSystem {
  const codes = [...knownFindingCodes(facts)].sort();
  const wordsOf = (code: string) => words.get(code);
  return {
    resourceType: 'CodeSystem',
    id: 'documentation-finding',
    url: SYSTEMS.finding,
    version: '1.0.0',
    name: 'DocumentationFinding',
    title: 'Lumbar MRI documentation findings',
    status: 'active',
    content: 'complete',
    caseSensitive: true,
    description:
      'Findings that live only in clinical notes and have no standard code. Record one as an Observation with this code and valueBoolean (true: present; false: documented absent), or answer the documentation questionnaire item whose linkId is the code.',
    concept: codes.map((code) => ({ code, display: wordsOf(code)?.finding ?? code, definition: wordsOf(code)?.finding ?? code })),
  };
}
