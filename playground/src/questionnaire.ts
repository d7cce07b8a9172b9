/**
 * The documentation questionnaire (Da Vinci DTR style): boolean items whose linkId is a
 * documentation-finding code, in groups. Rendered as yes / no / not answered (an unanswered item stays
 * unknown to the service), and answered as a QuestionnaireResponse for the re-sign.
 */
import type { Questionnaire, QuestionnaireItem, QuestionnaireResponse, QuestionnaireResponseItem } from 'fhir/r4.js';

export type Answers = ReadonlyMap<string, boolean>;

/** Answered items only, mirroring the questionnaire's groups. */
export function questionnaireResponse(
  q: Questionnaire,
  canonical: string,
  answers: Answers,
  patientId: string,
  authored: string,
  id: string,
): QuestionnaireResponse {
  const answer = (items: readonly QuestionnaireItem[] | undefined): QuestionnaireResponseItem[] => {
    const out: QuestionnaireResponseItem[] = [];
    for (const item of items ?? []) {
      if (item.type === 'group') {
        const children = answer(item.item);
        if (children.length) out.push({ linkId: item.linkId, ...(item.text ? { text: item.text } : {}), item: children });
      } else if (item.type === 'boolean' && answers.has(item.linkId)) {
        out.push({ linkId: item.linkId, ...(item.text ? { text: item.text } : {}), answer: [{ valueBoolean: answers.get(item.linkId) as boolean }] });
      }
    }
    return out;
  };
  return {
    resourceType: 'QuestionnaireResponse',
    id,
    questionnaire: canonical,
    status: 'completed',
    subject: { reference: `Patient/${patientId}` },
    authored,
    item: answer(q.item),
  };
}

/** Renders the form into `container`; returns a reader of the current answers. */
export function renderQuestionnaire(container: HTMLElement, q: Questionnaire, previous: Answers = new Map()): () => Answers {
  container.replaceChildren();
  const readers: (() => [string, boolean] | undefined)[] = [];
  const render = (items: readonly QuestionnaireItem[] | undefined, parent: HTMLElement): void => {
    for (const item of items ?? []) {
      if (item.type === 'group') {
        const set = document.createElement('fieldset');
        set.className = 'q-group';
        const legend = document.createElement('legend');
        legend.textContent = item.text ?? item.linkId;
        set.append(legend);
        render(item.item, set);
        parent.append(set);
      } else if (item.type === 'boolean') {
        parent.append(booleanItem(item, previous.get(item.linkId), readers));
      } else if (item.type === 'display' && item.text) {
        const p = document.createElement('p');
        p.textContent = item.text;
        parent.append(p);
      }
    }
  };
  render(q.item, container);
  return () => new Map(readers.map((r) => r()).filter((x): x is [string, boolean] => !!x));
}

function booleanItem(item: QuestionnaireItem, prior: boolean | undefined, readers: (() => [string, boolean] | undefined)[]): HTMLElement {
  const set = document.createElement('fieldset');
  set.className = 'q-item';
  set.dataset.linkId = item.linkId;
  const legend = document.createElement('legend');
  legend.textContent = item.text ?? item.linkId;
  set.append(legend);
  const name = `q-${item.linkId}`;
  const inputs: HTMLInputElement[] = [];
  for (const [value, text] of [['true', 'Yes'], ['false', 'No'], ['', 'Not answered']] as const) {
    const label = document.createElement('label');
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = name;
    input.value = value;
    input.checked = prior === undefined ? value === '' : String(prior) === value;
    inputs.push(input);
    label.append(input, ` ${text}`);
    set.append(label);
  }
  readers.push(() => {
    const v = inputs.find((i) => i.checked)?.value;
    return v === 'true' || v === 'false' ? [item.linkId, v === 'true'] : undefined;
  });
  return set;
}
