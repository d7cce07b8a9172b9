/**
 * The house rule: the request's way through src/ goes one direction, top to bottom.
 * docs/architecture.md draws the same picture. CI runs this (npm run lint).
 *
 *   entry       server.ts, cli/
 *   http        http/ (app factory, named handlers, the error handler, edge middleware, health, metrics,
 *               shared state, the PAS routes), playground/, records/, questionnaire/routes.ts
 *   pipeline    pipeline/            runHook: orders in scope, record, decisions, response
 *               pas/                 Claim/$submit: the PAS Bundle, decisions per item, ClaimResponse; the report
 *   cards       cards/, questionnaire/ (forms)
 *   decision    decision/            one order: routing, facts, engine
 *   policy      routing/, facts/, library/
 *   record      record/, terminology/
 *   engine      engine/              pure three-valued logic: imports nothing else
 *   base        hooks/ (CDS Hooks protocol), config/, fhir/ (shared FHIR helpers), log.ts
 *
 * Adapters (store/, security/, kv/) implement what the layers above need; the core (pipeline and
 * below) reaches them only through types, except the decision cache's key-value port.
 *
 * tools/ (the test FHIR server, fault servers, test-data loading) is not the product: only the
 * CLI (serve-fhir, survey, evaluate, upload) and tests use it; it may use src/'s shared helpers.
 */
const LAYERS = [
  ['entry', '^src/(server\\.ts|cli/)'],
  ['http', '^src/(http|playground|records)/|^src/questionnaire/routes\\.ts$'],
  ['pipeline', '^src/(pipeline|pas)/'],
  ['cards', '^src/cards/|^src/questionnaire/(?!routes\\.ts$)'],
  ['decision', '^src/decision/'],
  ['policy', '^src/(routing|facts|library)/'],
  ['record', '^src/(record|terminology)/'],
  ['engine', '^src/engine/'],
  ['base', '^src/(hooks|config|fhir)/|^src/log\\.ts$'],
];

const upward = LAYERS.slice(1).map(([name, path], i) => ({
  name: `layer-${name}-not-upward`,
  comment: `${name} may import only layers below it (${LAYERS.slice(i + 2).map(([n]) => n).join(', ') || 'none'})`,
  severity: 'error',
  from: { path },
  to: { path: LAYERS.slice(0, i + 1).map(([, p]) => `(${p})`).join('|') },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycle at file level (scripts/folder-cycles.ts, also run by npm run lint, checks folders).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...upward,
    {
      name: 'engine-is-pure',
      comment: 'The criteria engine knows no FHIR, no HTTP, no files: it imports only itself.',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { pathNot: '^src/engine/', dependencyTypesNot: ['core'] },
    },
    {
      name: 'core-reaches-adapters-by-type-only',
      comment: 'pipeline and the layers below use store/, security/ and kv/ through types (the decision cache key-value port excepted).',
      severity: 'error',
      from: { path: '^src/(pipeline|pas|cards|questionnaire|decision|routing|facts|library|record|terminology|engine|hooks|config|fhir)/', pathNot: '^src/decision/decisionCache\\.ts$' },
      to: { path: '^src/(store|security|kv)/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'product-imports-no-tests',
      comment: 'src/, tools/ and bench/ never import test code.',
      severity: 'error',
      from: { path: '^(src|tools|bench)/' },
      to: { path: '^test/' },
    },
    {
      name: 'product-imports-no-tools',
      comment: 'The service ships without tools/ (test FHIR server, fault servers): only the CLI entry (src/cli/) may import it.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^tools/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|playground/dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.d.ts'] },
    moduleSystems: ['es6', 'cjs'],
  },
};
