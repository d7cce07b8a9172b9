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

/** The boolean items a card asks for: those whose text the card's detail names. */
export function itemsAskedBy(q: Questionnaire, cardText: string): Set<string> {
  const out = new Set<string>();
  const walk = (items: readonly QuestionnaireItem[] | undefined): void => {
    for (const item of items ?? []) {
      if (item.type === 'boolean' && item.text && cardText.includes(item.text)) out.add(item.linkId);
      walk(item.item);
    }
  };
  walk(q.item);
  return out;
}

/** How many boolean items a list holds, groups included, leaving out `skip`. */
function countItems(items: readonly QuestionnaireItem[] | undefined, skip: ReadonlySet<string>): number {
  return (items ?? []).reduce((n, i) => n + (i.type === 'boolean' && !skip.has(i.linkId) ? 1 : 0) + countItems(i.item, skip), 0);
}

/**
 * Renders the form into `container`; returns a reader of the current answers. The items in `asked`
 * (what the card asks for) come first; the rest of the questionnaire is folded below them.
 */
export function renderQuestionnaire(container: HTMLElement, q: Questionnaire, previous: Answers = new Map(), asked: ReadonlySet<string> = new Set()): () => Answers {
  container.replaceChildren();
  const readers: (() => [string, boolean] | undefined)[] = [];
  const flat = (items: readonly QuestionnaireItem[] | undefined): QuestionnaireItem[] => (items ?? []).flatMap((i) => [i, ...flat(i.item)]);
  const first = flat(q.item).filter((i) => i.type === 'boolean' && asked.has(i.linkId));
  let restParent: HTMLElement = container;
  if (first.length > 0) {
    const set = document.createElement('fieldset');
    set.className = 'q-group q-asked';
    const legend = document.createElement('legend');
    legend.textContent = 'What the card asks for';
    set.append(legend, ...first.map((i) => booleanItem(i, previous.get(i.linkId), readers)));
    const rest = document.createElement('details');
    rest.className = 'q-rest';
    const summary = document.createElement('summary');
    summary.textContent = `The rest of the questionnaire (${countItems(q.item, asked)} items)`;
    rest.append(summary);
    container.append(set, rest);
    restParent = rest;
  }
  const render = (items: readonly QuestionnaireItem[] | undefined, parent: HTMLElement): void => {
    for (const item of items ?? []) {
      if (asked.has(item.linkId) && item.type === 'boolean') continue;
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
  render(q.item, restParent);
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
