/**
 * CDS Hooks 2.0 wire types (https://cds-hooks.hl7.org/2.0/), written once from the spec.
 * FHIR resources are `@types/fhir` R4 types.
 */
import type { FhirResource } from 'fhir/r4.js';
import type { HookName } from './schema.js';

export interface CdsCoding {
  readonly system: string;
  readonly code: string;
  readonly display?: string;
}

export interface CdsSource {
  readonly label: string;
  readonly url?: string;
  readonly icon?: string;
  readonly topic?: CdsCoding;
}

export interface CdsLink {
  readonly label: string;
  readonly url: string;
  readonly type: 'absolute' | 'smart';
  readonly appContext?: string;
}

export interface CdsCreateAction {
  readonly type: 'create';
  readonly description: string;
  readonly resource: FhirResource;
}
export interface CdsUpdateAction {
  readonly type: 'update';
  readonly description: string;
  readonly resource: FhirResource;
}
export interface CdsDeleteAction {
  readonly type: 'delete';
  readonly description: string;
  readonly resourceId: string;
}
export type CdsAction = CdsCreateAction | CdsUpdateAction | CdsDeleteAction;

export interface CdsSuggestion {
  readonly label: string;
  readonly uuid: string;
  readonly isRecommended?: boolean;
  readonly actions?: readonly CdsAction[];
}

export interface CdsCard {
  readonly uuid: string;
  readonly summary: string;
  readonly detail?: string;
  readonly indicator: 'info' | 'warning' | 'critical';
  readonly source: CdsSource;
  readonly suggestions?: readonly CdsSuggestion[];
  readonly selectionBehavior?: 'at-most-one' | 'any';
  readonly overrideReasons?: readonly CdsCoding[];
  readonly links?: readonly CdsLink[];
  readonly extension?: Record<string, unknown>;
}

export interface CdsResponse {
  readonly cards: readonly CdsCard[];
  readonly systemActions?: readonly CdsAction[];
  readonly extension?: Record<string, unknown>;
}

// The request's types are the schema's (src/hooks/schema.ts), so what is parsed is what is typed.
export type { CdsFeedback, FhirAuthorization, HookName, HookRequest } from './schema.js';

export interface CdsServiceDefinition {
  readonly hook: HookName;
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly prefetch: Readonly<Record<string, string>>;
  readonly usageRequirements?: string;
  readonly extension?: Record<string, unknown>;
}
