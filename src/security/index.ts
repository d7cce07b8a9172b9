/** Client authentication for CDS Hooks calls (CDS Hooks 2.0 §Security). */
export {
  AuthError,
  createClientAuthenticator,
  DEFAULT_ALGORITHMS,
  SUPPORTED_ALGORITHMS,
  type AuthenticatedClient,
  type AuthFailureReason,
  type ClientAuthenticator,
  type ClientAuthenticatorOptions,
  type ClientJwtAlgorithm,
} from './clientAuth.js';
export {
  createMemoryReplayCache,
  ReplayCacheFullError,
  type MemoryReplayCache,
  type MemoryReplayCacheOptions,
  type ReplayCache,
} from './replayCache.js';
export {
  loadTrustedClients,
  parseTrustedClients,
  TrustedClientsError,
  type PublicJwk,
  type PublicJwks,
  type TrustedClient,
} from './trustedClients.js';
export {
  expectedAudience,
  isFhirServerAllowed,
  requireClientAuth,
  type AuthLogger,
  type ClientAuthMiddlewareOptions,
} from './middleware.js';
export { createRemoteJwks, JwksUnavailableError, type RemoteJwksOptions } from './remoteJwks.js';
