import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { it } from 'vitest';
import { handleHook } from '../src/hooks/handler.js';
import { parseHookRequest } from '../src/hooks/schema.js';
import { loadLibrary } from '../src/library.js';
type Json = any;
function pathsOf(value: Json, prefix: any[] = [], out: any[][] = []): any[][] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...prefix, i], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) pathsOf(v, [...prefix, k], out);
  return out;
}
const cases: [string, number, unknown][] = [
  ['kp-wa-lumbar-mri/I.0-onset-undated-cauda-equina-missing-doc.json', 28, { resourceType: 'OperationOutcome', issue: [] }],
  ['kp-wa-lumbar-mri/I.A-progressive-foot-drop-met.json', 105180961, { reference: 'Patient/nobody' }],
  ['medicare-advantage-lumbar-mri/IND.4-ct-conclusive.json', 1638586201, { reference: 'Patient/nobody' }],
];
it('x', async () => {
  const library = loadLibrary();
  for (const [f, at, v] of cases) {
    const body = JSON.parse(readFileSync('fixtures/' + f, 'utf8'));
    const paths = pathsOf(body);
    const p = paths[at % paths.length];
    let parent = body; for (const k of p.slice(0,-1)) parent = parent[k];
    parent[p[p.length-1]] = v;
    try {
      await handleHook(parseHookRequest(body, 'order-sign'), { library, record: { fhirServerAllowed: () => false, fhirTimeoutMs: 100, requestDeadlineMs: 100, maxPages: 1, maxResources: 1000 }, questionnaireUrl: () => 'q' });
      console.log(p, 'ok');
    } catch (e) { console.log(p, (e as Error).stack?.split('\n').slice(0,5).join('\n')); }
  }
});
