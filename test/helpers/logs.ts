/** Test helper: a pino logger whose JSON lines are kept in memory, for assertions on what was logged. */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export function captureLogger(level: pino.LevelWithSilent = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: pino({ level }, stream), lines };
}
