import { z } from 'zod';

/**
 * The words of each documentation finding (`cds-services/common/findings.json`, contract section 7): the
 * finding itself and the yes/no question the documentation questionnaire asks for it. A finding's
 * words live there only, so an item can never carry another fact's words (or its negation).
 */
const findingWordsSchema = z
  .object({
    /** The finding, as the contract's `finding` column says it. */
    finding: z.string().min(1),
    /** A yes/no question in the finding's own words: yes means present, no means documented absent. */
    question: z.string().regex(/\?$/, 'a question ending in "?"'),
  })
  .strict();

export const findingsFileSchema = z
  .object({
    $comment: z.string().optional(),
    findings: z.record(z.string().regex(/^[a-z0-9-]+$/), findingWordsSchema),
  })
  .strict();

export type FindingWords = z.infer<typeof findingWordsSchema>;

/** Finding code -> its words. */
export type FindingLexicon = ReadonlyMap<string, FindingWords>;

export function findingLexicon(file: z.infer<typeof findingsFileSchema>): FindingLexicon {
  return new Map(Object.entries(file.findings));
}
