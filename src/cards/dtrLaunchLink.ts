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
  const appContext = [
    ['questionnaire', ctx.questionnaire],
    ['order', ctx.orderRef],
    ['coverage', ctx.coverageRef],
    ['coverage-assertion-id', ctx.coverageAssertionId],
  ]
    .map(([k, v]) => `${k}=${encodeURI(v).replace(/&/g, '%26')}`)
    .join('&');
  return { label: 'Complete the documentation form (DTR)', url: appUrl, type: 'smart', appContext };
}

/** Adds the link to this order's cards that already link its documentation questionnaire. */
export function withLaunchLink(cards: CdsCard[], orderRef: string, questionnaire: string, link: CdsLink): void {
  cards.forEach((c, i) => {
    const assoc: unknown = c.extension?.['davinci-crd.associated-resource'];
    const forOrder = Array.isArray(assoc) && assoc.some((r: { reference?: unknown }) => r?.reference === orderRef);
    if (forOrder && c.links?.some((l) => l.url === questionnaire)) cards[i] = { ...c, links: [...c.links, link] };
  });
}
