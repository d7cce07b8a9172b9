/**
 * The same record as `count` distinct patients (the patient id and hookInstance changed throughout),
 * about 50 MB of bodies at most, so the service sees no repeated patient (no decision-cache hit).
 */
export function patientsOf(body: string, count = Math.max(4, Math.min(200, Math.floor(50e6 / body.length)))): string[] {
  const { context, hookInstance } = JSON.parse(body) as { context: { patientId: string }; hookInstance: string };
  const id = context.patientId;
  return Array.from({ length: count }, (_, i) =>
    body.split(id).join(`${id}-${i.toString(36)}`).split(hookInstance).join(`${hookInstance.slice(0, -6)}${i.toString(16).padStart(6, '0')}`),
  );
}
