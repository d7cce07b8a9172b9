/**
 * One GET to a FHIR server whose every cost is bounded: a single timer covers connecting, the
 * headers, the body and its decompression; the decompressed size is counted as it streams and the
 * read is abandoned the moment it passes the limit (a gzip or brotli bomb costs at most `maxBytes`
 * of output); a byte budget shared by all the calls of one request bounds what a request holds in
 * memory. Redirects are never followed. Built on node:http and node:zlib because fetch decompresses
 * out of sight, where neither limit can be applied.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/** What went wrong, in words for a card (never the data itself). */
export class ReadProblem extends Error {}

/** Decompressed bytes still allowed for one request's record, shared by its calls. */
export interface ByteBudget {
  remaining: number;
  readonly limit: number;
}

export interface BoundedGetOptions {
  readonly headers: Readonly<Record<string, string>>;
  /** The whole read, from connecting to the last decompressed byte. */
  readonly timeoutMs: number;
  /** Largest decompressed reply. */
  readonly maxBytes: number;
  readonly budget?: ByteBudget;
}

/** 64 KiB output chunks (zlib's default is 16): a quarter of the thread-pool round trips per byte. */
const CHUNK = 64 * 1024;
const DECODERS: Readonly<Record<string, () => NodeJS.ReadWriteStream & Readable>> = {
  gzip: () => createGunzip({ chunkSize: CHUNK }),
  'x-gzip': () => createGunzip({ chunkSize: CHUNK }),
  deflate: () => createInflate({ chunkSize: CHUNK }),
  br: () => createBrotliDecompress({ chunkSize: CHUNK }),
};

/** The reply's body as text, or a ReadProblem (non-2xx, timeout, too large, undecodable, cut off). */
export function boundedGet(url: string, options: BoundedGetOptions): Promise<string> {
  const { timeoutMs, maxBytes, budget } = options;
  return new Promise<string>((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    let response: IncomingMessage | undefined;
    let decoder: Readable | undefined;
    const finish = (problem: ReadProblem | undefined, text?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (problem) {
        decoder?.destroy();
        response?.destroy();
        req.destroy();
        reject(problem);
      } else resolve(text ?? '');
    };
    const tooLarge = (): ReadProblem => new ReadProblem(`the FHIR server's answer is larger than ${maxBytes} bytes; not read`);
    const timer = setTimeout(() => finish(new ReadProblem(`the FHIR server did not answer within ${timeoutMs} ms`)), timeoutMs);

    const req = send(target, { method: 'GET', headers: { ...options.headers, 'accept-encoding': 'gzip, deflate, br' } }, (res) => {
      response = res;
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400) return finish(new ReadProblem('the FHIR server could not be reached (connection failed or redirected)'));
      if (status < 200 || status >= 300) return finish(new ReadProblem(`the FHIR server answered HTTP ${status}`));
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) return finish(tooLarge());
      const encoding = (res.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
      const makeDecoder = DECODERS[encoding];
      if (!makeDecoder && encoding !== 'identity' && encoding !== '') {
        return finish(new ReadProblem(`the FHIR server answered in an encoding this service does not read (${encoding.slice(0, 40)})`));
      }
      let raw = 0;
      res.on('data', (chunk: Buffer) => {
        raw += chunk.length;
        if (raw > maxBytes) finish(tooLarge());
      });
      res.on('error', () => finish(new ReadProblem('the FHIR server closed the connection before its answer was complete')));
      res.on('close', () => {
        if (!res.complete) finish(new ReadProblem('the FHIR server closed the connection before its answer was complete'));
      });
      let body: Readable = res;
      if (makeDecoder) {
        decoder = res.pipe(makeDecoder());
        decoder.on('error', () => finish(new ReadProblem(`the FHIR server's ${encoding} answer could not be decoded`)));
        body = decoder;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      body.on('data', (chunk: Buffer) => {
        if (settled) return;
        size += chunk.length;
        if (size > maxBytes) return finish(tooLarge());
        if (budget) {
          budget.remaining -= chunk.length;
          if (budget.remaining < 0) return finish(new ReadProblem(`the record read from the FHIR server is larger than ${budget.limit} bytes; the rest was not read`));
        }
        chunks.push(chunk);
      });
      body.on('end', () => finish(undefined, Buffer.concat(chunks).toString('utf8')));
    });
    req.on('error', () => finish(new ReadProblem('the FHIR server could not be reached (connection failed or redirected)')));
    req.end();
  });
}
