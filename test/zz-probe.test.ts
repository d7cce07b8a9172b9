import { readFileSync } from 'node:fs';
import request from 'supertest';
import { it } from 'vitest';
import { createApp } from '/work/main/src/app.js';
import { testConfig } from '/work/main/src/config/config.js';
it('probe', async () => {
  const base = JSON.parse(readFileSync('/work/main/fixtures/kp-wa-lumbar-mri/I.0-onset-undated-cauda-equina-missing-doc.json', 'utf8'));
  const { app } = createApp(testConfig({ rateLimitPerMinute: 0, logLevel: 'error' }));
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, p: (string | number)[]) => { paths.push(p); if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) walk(c, [...p, Array.isArray(v) ? Number(k) : k]); };
  walk(base, []);
  const values = [null, {}, [], 'x', 1e308, -1, true, [null], [{}], '2024-13-45', { reference: 'Condition/x' }];
  let n = 0;
  for (const p of paths) for (const v of values) for (const hook of ['order-sign', 'order-select']) {
    if (p.length === 0) continue;
    const body = structuredClone(base); let o = body; for (const k of p.slice(0, -1)) o = o[k]; o[p.at(-1)!] = v;
    body.hook = hook; if (hook === 'order-select' && body.context && typeof body.context === 'object') body.context.selections = [`ServiceRequest/${base.context.draftOrders.entry[0].resource.id}`];
    const res = await request(app).post(`/cds-services/lumbar-mri-${hook}`).send(body);
    n++;
    if (res.status >= 500) console.log('500 at', p.join('.'), JSON.stringify(v), hook);
  }
  console.log('requests', n);
}, 600000);
