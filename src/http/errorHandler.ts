import type { ErrorRequestHandler } from 'express';
import { HttpError } from '../hooks/errors.js';
import type { Logger } from '../log.js';
import type {} from './locals.js';

/** What body-parser and other Express middleware attach to the errors they raise. */
interface ExpressError {
  readonly type?: unknown;
  readonly status?: unknown;
  readonly statusCode?: unknown;
  readonly message?: unknown;
}

const isObject = (x: unknown): x is ExpressError => typeof x === 'object' && x !== null;

/** A client error in the words of the OperationOutcome it is answered with; undefined for the unforeseen. */
export function clientError(err: unknown, bodyLimit: string): HttpError | undefined {
  if (err instanceof HttpError) return err;
  if (!isObject(err)) return undefined;
  if (err.type === 'entity.parse.failed') return new HttpError(400, 'invalid', 'The request body is not valid JSON');
  if (err.type === 'entity.too.large') return new HttpError(413, 'too-costly', `The request body is larger than the limit (${bodyLimit})`);
  const status = typeof err.status === 'number' ? err.status : err.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // body-parser's 415 (charset, encoding) and the like: their own status, their own words.
    return new HttpError(status, status === 415 ? 'not-supported' : 'invalid', typeof err.message === 'string' ? err.message : 'Bad request');
  }
  return undefined;
}

/**
 * The one error handler at the edge: every refusal (400, 401, 403, 404, 413, 415, 422, 429, 503...)
 * is an OperationOutcome with its status and headers; 500 only for the unforeseen, logged.
 */
export function errorHandler(bodyLimit: string, logger: Logger): ErrorRequestHandler {
  return function answerError(err: unknown, _req, res, next) {
    if (res.headersSent) {
      next(err);
      return;
    }
    const known = clientError(err, bodyLimit);
    if (!known) {
      const e = isObject(err) ? err : {};
      logger.error({ reqId: res.locals.requestId, err: { message: e.message, type: e.type } }, 'unhandled error');
    }
    const answer = known ?? new HttpError(500, 'exception', 'Internal error');
    // The log line names body-parser's own error type (entity.too.large...) where there is one.
    const type = !(err instanceof HttpError) && isObject(err) && typeof err.type === 'string' ? err.type : undefined;
    if (known) res.locals.rejection = { code: type ?? known.code, expression: known.expression };
    res.status(answer.status).set(answer.options.headers ?? {}).json(answer.toOperationOutcome());
  };
}
