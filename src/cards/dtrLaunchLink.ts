import type { CdsCard, CdsLink } from '../hooks/types.js';

export interface LaunchContext {
  readonly coverageAssertionId: string;
  readonly orderRef: string;
  readonly coverageRef: string;
  readonly questionnaire: string;
}

/**
 * The SMART link that opens a DTR app on the documentation form. `appContext` in the form the Da Vinci
 * reference DTR app reads (`key=value&…`), with the CRD coverage-assertion-id the app passes back to
 * `$questionnaire-package` as `context`. The EHR adds `iss` and `launch` to the URL.
 */
export function dtrLaunchLink(appUrl: string, ctx: LaunchContext): CdsLink {
  return { label: 'Complete the documentation form (DTR)', url: appUrl, type: 'smart', appContext: launchQuery(ctx) };
}

/** `key=value&…`, the keys the reference DTR app reads; absent values left out. */
function launchQuery(ctx: Partial<LaunchContext> & { readonly patientRef?: string }): string {
  return [
    ['questionnaire', ctx.questionnaire],
    ['order', ctx.orderRef],
    ['coverage', ctx.coverageRef],
    ['coverage-assertion-id', ctx.coverageAssertionId],
    ['patient', ctx.patientRef],
  ]
    .filter((kv): kv is [string, string] => kv[1] !== undefined)
    .map(([k, v]) => `${k}=${encodeURI(v).replace(/&/g, '%26')}`)
    .join('&');
}

/**
 * The documentation card's own link (type absolute) opens a page that renders the form for this order
 * (the playground's form page, `$questionnaire-package` with these keys) instead of the Questionnaire's
 * JSON. Without a kept assertion (order-select) the page asks for the questionnaire by its canonical.
 */
/** What the form page is opened with: no assertion id on order-select (none is kept). */
export type FormPageContext = Omit<LaunchContext, 'coverageAssertionId'> & { readonly coverageAssertionId?: string; readonly patientRef: string };

export function withFormPage(cards: CdsCard[], orderRef: string, questionnaire: string, pageUrl: string, ctx: FormPageContext): void {
  const url = `${pageUrl}?${launchQuery(ctx)}`;
  cards.forEach((c, i) => {
    const assoc: unknown = c.extension?.['davinci-crd.associated-resource'];
    const forOrder = Array.isArray(assoc) && assoc.some((r: { reference?: unknown }) => r?.reference === orderRef);
    if (forOrder && c.links?.some((l) => l.type === 'absolute' && l.url === questionnaire)) {
      cards[i] = { ...c, links: c.links.map((l) => (l.type === 'absolute' && l.url === questionnaire ? { ...l, url } : l)) };
    }
  });
}

/** Adds the link to this order's cards that already link its documentation questionnaire. */
export function withLaunchLink(cards: CdsCard[], orderRef: string, questionnaire: string, link: CdsLink): void {
  cards.forEach((c, i) => {
    const assoc: unknown = c.extension?.['davinci-crd.associated-resource'];
    const forOrder = Array.isArray(assoc) && assoc.some((r: { reference?: unknown }) => r?.reference === orderRef);
    if (forOrder && c.links?.some((l) => l.url === questionnaire)) cards[i] = { ...c, links: [...c.links, link] };
  });
}
