/** Vitest global setup: the playground is built on demand (playground/dist is not committed). */
import { buildPlayground } from '../../scripts/build-playground.js';

export default async function setup(): Promise<void> {
  await buildPlayground();
}
