/** Middleware every call passes at the edge: request id, the rejection log line, JSON only, request limits. */
import { randomUUID } from 'node:crypto';
import express, { type Request, type RequestHandler } from 'express';
import type { Config } from '../config/config.js';
import { HttpError } from '../hooks/errors.js';
import { checkRequestLimits, type RequestLimits } from '../hooks/limits.js';
import type { Logger } from '../log.js';
import type {} from './locals.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
const JSON_TYPES = ['application/json', 'application/*+json'];

/** The caller's `x-request-id` when it is a plain token (it reaches the log), else a new one; echoed back. */
export const requestId: RequestHandler = (req, res, next) => {
  const given = req.get('x-request-id');
  const id = given && REQUEST_ID.test(given) ? given : randomUUID();
  res.locals.requestId = id;
  res.set('x-request-id', id);
  next();
};

/**
 * One line per rejected request (4xx), ids and the field at fault only: an integrator sees why a
 * call failed without the log holding PHI (no body, no query string).
 */
export function rejectionLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    res.on('finish', () => {
      if (res.statusCode < 400 || res.statusCode >= 500) return;
      logger.warn({ reqId: res.locals.requestId, method: req.method, path: req.path, status: res.statusCode, ...res.locals.rejection }, 'request rejected');
    });
    next();
  };
}

/** 415 unless the body is JSON (before the parser, so a form post is never read). */
export const requireJson: RequestHandler = (req, _res, next) => {
  next(req.is(JSON_TYPES) ? undefined : new HttpError(415, 'not-supported', 'Content-Type must be application/json'));
};

// The body as received, kept for the decision-cache key (src/hooks/rawMember.ts) while its request lives.
const rawBodies = new WeakMap<object, Buffer>();

/** The bytes the JSON body parser read for this request (absent when it read none). */
export function rawBodyOf(req: Request): Buffer | undefined {
  return rawBodies.get(req);
}

/**
 * Lets the bytes go once the pipeline has read them, as the handler lets the parsed body go: the
 * request object lives until its answer is sent (and, on a kept-alive connection, may outlive it).
 */
export function releaseRawBody(req: Request): void {
  rawBodies.delete(req);
}

/** The JSON body parser (413 past BODY_LIMIT, 400 on bad JSON: both answered by the error handler). */
export function jsonBody(config: Pick<Config, 'bodyLimit'>): RequestHandler {
  return express.json({ limit: config.bodyLimit, type: JSON_TYPES, verify: (req, _res, buf) => void rawBodies.set(req, buf) });
}

/** 422 when the parsed body is deeper, longer or wider than the configured limits. */
export function withinLimits(limits: RequestLimits): RequestHandler {
  return (req, _res, next) => {
    checkRequestLimits(req.body, limits);
    next();
  };
}
