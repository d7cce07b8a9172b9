import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * JSON logs. Fields are ids and outcomes only: never resource contents, names, identifiers, birth
 * dates or tokens. Authorization headers are redacted in case a request object is ever logged.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'lumbar-mri-cds' },
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.access_token', 'fhirAuthorization'], remove: true },
  };
  // A destination only for tests that read the logs (test/log.test.ts); stdout otherwise.
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
