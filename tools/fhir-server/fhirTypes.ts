/**
 * FHIR R4 types used by the test server.
 *
 * The brief asked for `fhir/r4` from `@types/fhir`, but the installed `@types/fhir@3.0.2` is the
 * STU3 global namespace and has no `fhir/r4` module. `@medplum/fhirtypes` (R4, shipped with the
 * installed medplum 4.x packages) is what the router and repository speak, so we alias it here:
 * switching to another R4 type package later is a one-file change.
 */
export type {
  Bundle,
  BundleEntry,
  BundleLink,
  CapabilityStatement,
  OperationOutcome,
  Resource,
} from '@medplum/fhirtypes';
