import { PassThrough } from 'node:stream';
import type { CliIO } from '../../src/cli/main.js';

/** Captures what the CLI prints. */
export function captureIO(stderrIsTTY = false): CliIO & { stdout: () => string; stderrText: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  const stderr = new PassThrough();
  stderr.on('data', (chunk: Buffer) => err.push(chunk.toString()));
  return {
    out: (line) => out.push(`${line}\n`),
    err: (line) => err.push(`${line}\n`),
    stderrIsTTY,
    stderr,
    stdout: () => out.join(''),
    stderrText: () => err.join(''),
  };
}
