/**
 * A loopback HTTP server that misbehaves on purpose, for robustness tests of the service's
 * FHIR client (timeouts, error statuses, bad JSON, oversized replies, resets, redirects).
 * Every request, whatever its path, gets the configured behaviour.
 */
import { createServer } from 'node:http';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CORS_HEADERS, closeServer, listen, originOf, readBody, recordRequest, sendJson } from './httpUtil.js';
import type { RecordedRequest } from './httpUtil.js';

export type FaultMode =
  | 'ok'
  | 'slow'
  | 'status500'
  | 'invalidJson'
  | 'hugeBundle'
  | 'dropConnection'
  | 'redirect'
  /** Headers at once, then one byte every `dripMs`, never finishing. */
  | 'slowDrip'
  /** A small compressed reply (`bombEncoding`) that expands to `bombBytes` of JSON whitespace. */
  | 'compressionBomb'
  /** Every page a one-entry searchset whose `next` link is the next page, without end. */
  | 'endlessPages';

export interface FaultServerOptions {
  readonly mode: FaultMode;
  /**
   * Wait before answering. `slow` defaults to 5000 ms, the other modes to 0, so any fault
   * can also come late.
   */
  readonly delayMs?: number;
  /** `redirect`: the `Location` to send (required for that mode). */
  readonly location?: string;
  /** `redirect`: 301, 302 (default), 303, 307 or 308. */
  readonly redirectStatus?: 301 | 302 | 303 | 307 | 308;
  /** `ok` and `slow`: the JSON to serve (default: an empty searchset Bundle). */
  readonly body?: unknown;
  /** `hugeBundle`: approximate size in bytes (default 16 MiB). */
  readonly hugeBundleBytes?: number;
  /** `hugeBundle`: a `next` link to another huge page, without end. */
  readonly hugeBundleNext?: boolean;
  /** `slowDrip`: time between two bytes (default 50 ms). */
  readonly dripMs?: number;
  /** `compressionBomb`: decompressed size (default 64 MiB) and encoding (default `br`). */
  readonly bombBytes?: number;
  readonly bombEncoding?: 'br' | 'gzip';
  readonly port?: number;
  /** Defaults to `127.0.0.1`. */
  readonly host?: string;
}

export interface FaultServer {
  /** `http://127.0.0.1:<port>/fhir`, usable as a CDS Hooks `fhirServer`. */
  readonly baseUrl: string;
  readonly port: number;
  readonly requests: readonly RecordedRequest[];
  /** Changes the behaviour for later requests (port and host stay). */
  configure(options: Partial<Omit<FaultServerOptions, 'port' | 'host'>>): void;
  close(): Promise<void>;
}

const EMPTY_SEARCHSET = { resourceType: 'Bundle', type: 'searchset', total: 0, link: [], entry: [] };

/** A truncated Bundle: the start of valid FHIR JSON that never finishes. */
export const INVALID_JSON_BODY =
  '{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Cond';

/** Starts the fault server on loopback. */
export async function startFaultServer(options: FaultServerOptions): Promise<FaultServer> {
  let current: FaultServerOptions = { ...options };
  if (current.mode === 'redirect' && !current.location) {
    throw new Error('startFaultServer: mode "redirect" needs a location');
  }
  const host = options.host ?? '127.0.0.1';
  const requests: RecordedRequest[] = [];
  let port = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req, 64 * 1024 * 1024);
    requests.push(recordRequest(req, body));
    const settings = current;
    const delay = settings.delayMs ?? (settings.mode === 'slow' ? 5000 : 0);
    if (delay > 0 && !(await waitUnlessClosed(delay, res))) {
      return; // the client gave up (timeout/abort): nothing left to answer
    }
    switch (settings.mode) {
      case 'ok':
      case 'slow':
        sendJson(res, 200, settings.body ?? EMPTY_SEARCHSET);
        return;
      case 'status500':
        sendJson(res, 500, {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'exception', details: { text: 'Injected fault: internal server error' } }],
        });
        return;
      case 'invalidJson':
        res.writeHead(200, { ...CORS_HEADERS, 'Content-Type': 'application/fhir+json; charset=utf-8' });
        res.end(INVALID_JSON_BODY);
        return;
      case 'hugeBundle':
        await streamHugeBundle(res, settings.hugeBundleBytes ?? 16 * 1024 * 1024, settings.hugeBundleNext ? nextPageUrl(req, host, port) : undefined);
        return;
      case 'slowDrip':
        await drip(res, settings.dripMs ?? 50);
        return;
      case 'compressionBomb': {
        const encoding = settings.bombEncoding ?? 'br';
        const body = compressedWhitespace(settings.bombBytes ?? 64 * 1024 * 1024, encoding);
        res.writeHead(200, { ...CORS_HEADERS, 'Content-Type': 'application/fhir+json; charset=utf-8', 'Content-Encoding': encoding, 'Content-Length': String(body.length) });
        res.end(body);
        return;
      }
      case 'endlessPages':
        sendJson(res, 200, {
          resourceType: 'Bundle',
          type: 'searchset',
          link: [{ relation: 'next', url: nextPageUrl(req, host, port) }],
          entry: [{ resource: { resourceType: 'Observation', id: `page-${req.url?.length ?? 0}-${requests.length}`, status: 'final', code: { text: 'endless page' } }, search: { mode: 'match' } }],
        });
        return;
      case 'dropConnection':
        req.socket.destroy();
        return;
      case 'redirect':
        res.writeHead(settings.redirectStatus ?? 302, { ...CORS_HEADERS, Location: settings.location ?? '/' });
        res.end();
        return;
      default: {
        const unreachable: never = settings.mode;
        throw new Error(`unknown fault mode ${String(unreachable)}`);
      }
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  port = await listen(server, options.port ?? 0, host);

  return {
    baseUrl: `${originOf(host, port)}/fhir`,
    port,
    requests,
    configure(next) {
      const merged = { ...current, ...next };
      if (merged.mode === 'redirect' && !merged.location) {
        throw new Error('configure: mode "redirect" needs a location');
      }
      current = merged;
    },
    close: () => closeServer(server),
  };
}

/** The same path and query with `page` one higher: under the server's base, so a careful client may follow it. */
function nextPageUrl(req: IncomingMessage, host: string, port: number): string {
  const url = new URL(req.url ?? '/', originOf(host, port));
  url.searchParams.set('page', String(Number(url.searchParams.get('page') ?? '0') + 1));
  return url.toString();
}

/** Writes one space every `ms` until the client goes away. */
async function drip(res: ServerResponse, ms: number): Promise<void> {
  res.writeHead(200, { ...CORS_HEADERS, 'Content-Type': 'application/fhir+json; charset=utf-8' });
  res.write('{"resourceType":"Bundle","type":"searchset","entry":[');
  while (!res.destroyed && (await waitUnlessClosed(ms, res))) res.write(' ');
}

const bombs = new Map<string, Buffer>();

/** `{"resourceType":"Bundle", <bytes of spaces> }` compressed (made once per size and encoding). */
function compressedWhitespace(bytes: number, encoding: 'br' | 'gzip'): Buffer {
  const key = `${encoding}:${bytes}`;
  let body = bombs.get(key);
  if (!body) {
    const plain = Buffer.alloc(bytes, 0x20);
    plain.write('{"resourceType":"Bundle",');
    plain.write('}', bytes - 1);
    body =
      encoding === 'br'
        ? brotliCompressSync(plain, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 9, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: bytes } })
        : gzipSync(plain, { level: 9 });
    bombs.set(key, body);
  }
  return body;
}

/** Resolves true after `ms`, or false as soon as the client closes the connection. */
function waitUnlessClosed(ms: number, res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onClose = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(true);
    }, ms);
    res.once('close', onClose);
  });
}

/**
 * Writes a valid searchset Bundle of about `bytes` bytes, in chunks and with backpressure, so the
 * server's own memory stays small while the client has to cope with the size.
 */
async function streamHugeBundle(res: ServerResponse, bytes: number, next?: string): Promise<void> {
  const entryFor = (i: number): string =>
    JSON.stringify({
      fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resource: {
        resourceType: 'Observation',
        id: `huge-${String(i).padStart(9, '0')}`,
        status: 'final',
        code: {
          coding: [
            {
              system: 'http://loinc.org',
              code: '72514-3',
              display: 'Pain severity - 0-10 verbal numeric rating [Score] - Reported',
            },
          ],
        },
        subject: { reference: 'Patient/huge-patient' },
        effectiveDateTime: '2024-01-15T09:30:00Z',
        valueInteger: 7,
      },
      search: { mode: 'match' },
    });
  const count = Math.max(1, Math.ceil(bytes / (entryFor(0).length + 1)));
  res.writeHead(200, { ...CORS_HEADERS, 'Content-Type': 'application/fhir+json; charset=utf-8' });
  const write = async (text: string): Promise<boolean> => {
    if (res.destroyed) {
      return false;
    }
    if (!res.write(text)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
    return !res.destroyed;
  };
  const link = next ? `"link":[{"relation":"next","url":${JSON.stringify(next)}}],` : '';
  if (!(await write(`{"resourceType":"Bundle","type":"searchset","total":${count},${link}"entry":[`))) {
    return;
  }
  const perChunk = 200;
  for (let i = 0; i < count; i += perChunk) {
    const parts: string[] = [];
    for (let j = i; j < Math.min(count, i + perChunk); j++) {
      parts.push((j === 0 ? '' : ',') + entryFor(j));
    }
    if (!(await write(parts.join('')))) {
      return;
    }
  }
  res.end(']}');
}
