/**
 * The floor: the least an Express 5 service can do with a hook request. It parses the same body
 * (express.json, the service's limit and content types) and answers a fixed card. The service's
 * throughput is reported as a fraction of this.
 */
import express from 'express';

const port = Number(process.env.PORT ?? 3999);
const limit = process.env.BODY_LIMIT ?? '5mb';
const CARD = {
  cards: [{ uuid: '7c1d2b8e-0f1a-4b7e-9a51-3f0e6c1d2b8e', summary: 'Fixed card', indicator: 'info', source: { label: 'floor' } }],
  systemActions: [],
};

const app = express();
app.disable('x-powered-by');
app.post('/cds-services/:id', express.json({ limit, type: ['application/json', 'application/*+json'] }), (req, res) => {
  res.json(req.body && typeof req.body === 'object' ? CARD : { cards: [] });
});
app.get('/health', (_req, res) => {
  res.json({ status: 'ok' });
});
const server = app.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
