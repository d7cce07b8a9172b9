import type { CodeSystem } from 'fhir/r4.js';
import type { FactCatalogue } from './catalogue.js';
import { SYSTEMS } from '../terminology/valueSets.js';

/** Definitions of the documentation-finding codes (contract section 7); others come from the catalogue. */
const DEFINITIONS: Readonly<Record<string, string>> = {
  'progressive-neurologic-deficit': 'Objective neurological signs worse on repeat in-person exam',
  'saddle-anesthesia': 'Saddle, perianal or perineal numbness or sensory loss',
  'anal-sphincter-laxity': 'Unexpected laxity of the anal sphincter',
  'plain-films-nondiagnostic': 'Plain radiographs of the area done and non-diagnostic',
  'leg-pain-exceeds-back-pain': 'Leg pain greater than back pain, in a nerve-root distribution',
  'straight-leg-raise-positive': 'Positive supine (30 to 70 degrees) or crossed straight-leg raise',
  'radicular-deficit': 'Motor weakness or sensory loss in a radicular distribution',
  'neurogenic-claudication': 'Leg pain on standing, relieved by forward flexion or sitting',
  'no-improvement-after-conservative-care': 'No significant improvement after the conservative treatment',
  'severe-functional-impairment': 'Lack of improvement with severe functional impairment',
  'specialist-determined-intervention': 'A surgeon or interventional specialist determined the need for surgery or other intensive or invasive intervention',
  'surgical-candidate': 'Determined a definite candidate for spine surgery by neurosurgery or orthopedics',
  'surgeon-requests-preoperative-mri': 'The surgeon requests another MRI before surgery',
  'surgery-under-consideration': 'Surgery or other aggressive intervention is under consideration',
  'new-or-worsening-symptoms': 'New or worsening symptoms since the last imaging',
  'insidious-onset': 'Back pain of insidious (gradual) onset',
  'improves-with-exercise': 'Back pain improves with exercise',
  'no-improvement-with-rest': 'Back pain does not improve with rest',
  'night-pain-improves-on-rising': 'Pain at night that improves on getting up',
  'pain-worse-supine-at-night': 'Pain that worsens when supine at night',
  'disease-activity-unclear': 'Ankylosing spondylitis activity unclear after full clinical and laboratory evaluation',
  'mri-changes-biologic-therapy': 'MRI progression would change or stop biologic therapy',
  'bladder-or-bowel-dysfunction': 'New bladder or bowel dysfunction (retention, incontinence)',
  'other-acute-fracture': 'Another acute fracture besides the spine',
  'treatment-since-last-imaging': 'Treatment given since the last lumbar imaging (also read from the record: procedures and medication orders after that imaging)',
};

/** Every documentation-finding code: the contract's and those the fact catalogue reads. */
const KNOWN = new WeakMap<object, ReadonlySet<string>>();

export function knownFindingCodes(facts: Pick<FactCatalogue, 'findingCodes'>): ReadonlySet<string> {
  let known = KNOWN.get(facts);
  if (!known) {
    known = new Set([...Object.keys(DEFINITIONS), ...facts.findingCodes()]);
    KNOWN.set(facts, known);
  }
  return known;
}

/** `GET /fhir/CodeSystem/documentation-finding`: every finding code the policies read. */
export function documentationFindingCodeSystem(facts: FactCatalogue): CodeSystem {
  const codes = [...knownFindingCodes(facts)].sort();
  const textOf = (code: string): string => {
    for (const def of Object.values(facts.definitions)) {
      if (JSON.stringify(def.derive).includes(`"code":"${code}"`)) return def.text;
    }
    return code;
  };
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
    concept: codes.map((code) => ({ code, display: textOf(code), definition: DEFINITIONS[code] ?? textOf(code) })),
  };
}
