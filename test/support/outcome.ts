/** Tests read decisions the way the bench and the CLI do: src/cards/observedDecision.ts. */
export * from '../../src/cards/observedDecision.js';
