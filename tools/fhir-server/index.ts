/** In-memory FHIR R4 test server, fault-injection server and test-data loader. */
export { startFhirServer } from './FhirTestServer.js';
export type { FhirInput, FhirServerOptions, FhirTestServer, LoadResult } from './FhirTestServer.js';
export { INVALID_JSON_BODY, startFaultServer } from './faults.js';
export type { FaultMode, FaultServer, FaultServerOptions } from './faults.js';
export { loadFolder } from './loadFolder.js';
export type { FolderLoad, LoadFileError, LoadFolderOptions, LoadedFile, LoadedFileKind } from './loadFolder.js';
export type { RecordedRequest } from './httpUtil.js';
export { ResourceCollector, rewriteReferences } from './normalize.js';
export type { CollectWarning } from './normalize.js';
export { ensureFhirDefinitions } from './definitions.js';
