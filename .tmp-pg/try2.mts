import { readFileSync } from 'node:fs';
import request from 'supertest';
import { createApp } from '../src/app.js';
import { testConfig } from '../src/config/config.js';
const { app } = createApp(testConfig());
for (const f of ['order-select-entering-tab','order-select-72148-low-back-pain','order-select-72149-low-back-pain','order-select-72158-lumbar-radiculopathy']) {
  const b = JSON.parse(readFileSync(`fixtures/sandbox/${f}.json`,'utf8'));
  const r = await request(app).post('/cds-services/lumbar-mri-order-select').send(b);
  console.log(f, r.status, JSON.stringify(r.body.cards?.map((c: any) => [c.indicator, c.summary, c.detail?.slice(0,300)])));
}
