/**
 * Each documentation questionnaire item is a yes/no question in its own finding's words (contract
 * section 7), read here against the finding's definition: a clinician who answers as worded must
 * record what the finding means, never another fact's words or their negation.
 */
import type { Questionnaire, QuestionnaireItem } from 'fhir/r4.js';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { knownFindingCodes } from '../../src/facts/documentationFindings.js';

const { app, library } = createApp(testConfig());
const NEGATION = /\b(not|no|without|fails?)\b/i;
const STOP = new Set(['with', 'that', 'this', 'from', 'after', 'there', 'other', 'their', 'been', 'have', 'does', 'into', 'than', 'some', 'when', 'what', 'which', 'since']);

/** The words that carry a finding's meaning (four letters or more, not a stop word). */
function contentWords(text: string): string[] {
  return [...new Set(text.toLowerCase().match(/[a-z][a-z/-]{3,}/g) ?? [])].filter((w) => !STOP.has(w));
}

async function questionnaires(): Promise<Questionnaire[]> {
  const out: Questionnaire[] = [];
  for (const p of library.policies.filter((x) => x.kind === 'criteria')) {
    const res = await request(app).get(`/fhir/Questionnaire/${p.policyId}-${p.version}`);
    expect(res.status).toBe(200);
    out.push(res.body as Questionnaire);
  }
  return out;
}

const itemsOf = (q: Questionnaire): QuestionnaireItem[] => (q.item ?? []).flatMap((g) => g.item ?? []);

describe('documentation questionnaire items say what they mean', () => {
  it('every finding code the facts read, and every code of the contract, has its own words', () => {
    const missing = [...knownFindingCodes(library.facts)].filter((c) => !library.findings.has(c));
    expect(missing).toEqual([]);
  });

  it('each item is its own finding\'s yes/no question, read against the finding\'s definition', async () => {
    for (const q of await questionnaires()) {
      const items = itemsOf(q);
      expect(items.length, q.id).toBeGreaterThan(0);
      for (const item of items) {
        const words = library.findings.get(item.linkId);
        expect(words, `${q.id} ${item.linkId}`).toBeDefined();
        if (!words) continue;
        expect(item.type).toBe('boolean');
        expect(item.text, item.linkId).toBe(words.question);
        expect(item.text?.endsWith('?'), item.linkId).toBe(true);
        expect(item.code?.[0].display, item.linkId).toBe(words.finding);
        // Yes must mean the finding is present: a negation in the question only where the finding has one.
        expect(NEGATION.test(words.question), `${item.linkId}: "${words.question}" vs "${words.finding}"`).toBe(NEGATION.test(words.finding));
        // The question says the finding: most of the finding's meaning-carrying words are in it.
        const finding = contentWords(words.finding);
        const asked = words.question.toLowerCase();
        const said = finding.filter((w) => asked.includes(w.replace(/s$/, '')));
        expect(said.length / finding.length, `${item.linkId}: "${words.question}" misses "${words.finding}"`).toBeGreaterThanOrEqual(0.6);
      }
      const texts = items.map((i) => i.text);
      expect(new Set(texts).size, `${q.id}: two items share words`).toBe(texts.length);
    }
  });

  it('no longer words an item as another fact (surgical candidate, the two EMG results)', async () => {
    const kp = (await questionnaires()).find((q) => q.id === 'kp-wa-lumbar-mri-2024-01-01');
    const item = (code: string) => itemsOf(kp ?? { resourceType: 'Questionnaire', status: 'active' }).find((i) => i.linkId === code)?.text ?? '';
    expect(item('surgical-candidate')).toMatch(/definite candidate for spine surgery\?$/);
    expect(item('surgical-candidate')).not.toMatch(NEGATION);
    expect(item('emg-confirms-radiculopathy')).toMatch(/confirm .*radiculopathy/);
    expect(item('new-emg-changes')).toMatch(/new changes/);
    expect(item('emg-confirms-radiculopathy')).not.toMatch(/performed/i);
    expect(item('new-emg-changes')).not.toMatch(/performed/i);
  });

  it('asks for every documentable leaf of cauda equina and of repeat imaging', async () => {
    const all = await questionnaires();
    const codes = (id: string) => itemsOf(all.find((q) => q.id === id) ?? { resourceType: 'Questionnaire', status: 'active' }).map((i) => i.linkId);
    expect(codes('kp-wa-lumbar-mri-2024-01-01')).toEqual(expect.arrayContaining(['saddle-anesthesia', 'bladder-or-bowel-dysfunction', 'anal-sphincter-laxity']));
    expect(codes('medicare-advantage-lumbar-mri-1.1')).toEqual(expect.arrayContaining(['treatment-since-last-imaging', 'new-or-worsening-symptoms', 'surgery-under-consideration']));
  });

  it('the finding code system says each finding in the same words', async () => {
    const res = await request(app).get('/fhir/CodeSystem/documentation-finding');
    expect(res.status).toBe(200);
    const concepts = res.body.concept as { code: string; display: string }[];
    for (const c of concepts) expect(c.display, c.code).toBe(library.findings.get(c.code)?.finding);
  });
});
