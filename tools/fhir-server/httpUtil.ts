import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the loopback server received it, so a test can assert what a client sent. */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query string exactly as received, e.g. `/fhir/Condition?patient=pat-1`. */
  readonly url: string;
  /** Path without the query string. */
  readonly path: string;
  /** Query parameters, every value as a list (repeated parameters such as `date` keep all). */
  readonly query: Readonly<Record<string, readonly string[]>>;
  readonly headers: IncomingHttpHeaders;
  /** The `Authorization` header value, when one was sent. */
  readonly authorization?: string;
  readonly hasAuthorization: boolean;
  /** Request body as text (POST/PUT), cut at {@link MAX_RECORDED_BODY} characters. */
  readonly body?: string;
  readonly receivedAt: Date;
}

/** Large uploads (Synthea bundles) stay out of the log beyond this many characters. */
export const MAX_RECORDED_BODY = 64 * 1024;

/** CORS for browser clients such as the CDS Hooks sandbox (no credentials, so `*` is allowed). */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'authorization, content-type, accept, if-match, if-none-exist, prefer',
  'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, PATCH, OPTIONS',
  'Access-Control-Expose-Headers': 'Location, ETag, Content-Location, Last-Modified',
  'Access-Control-Max-Age': '600',
};

/** Reads the whole body; rejects when it passes `limit` bytes (the socket is then left to close). */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error(`request body larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Builds the log record of a request (the body is passed in once read). */
export function recordRequest(req: IncomingMessage, body: string | undefined): RecordedRequest {
  const url = req.url ?? '/';
  const parsed = new URL(url, 'http://loopback');
  const query: Record<string, string[]> = {};
  for (const [key, value] of parsed.searchParams) {
    (query[key] ??= []).push(value);
  }
  const authorization = req.headers.authorization;
  return {
    method: req.method ?? 'GET',
    url,
    path: parsed.pathname,
    query,
    headers: { ...req.headers },
    authorization,
    hasAuthorization: authorization !== undefined,
    body: body === undefined || body === '' ? undefined : body.slice(0, MAX_RECORDED_BODY),
    receivedAt: new Date(),
  };
}

/** Sends a JSON body with the FHIR media type and CORS headers. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {}
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...CORS_HEADERS,
    'Content-Type': 'application/fhir+json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** Listens on `host:port` (port 0 picks a free one) and resolves with the port actually bound. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Closes the server, cutting keep-alive and in-flight connections so tests do not hang. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}

/** `http://127.0.0.1:1234`; IPv6 literals get brackets. */
export function originOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
