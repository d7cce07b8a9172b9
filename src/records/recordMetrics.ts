import { Counter, Gauge, type Registry } from 'prom-client';
import type { RecordLog } from '../store/types.js';

/**
 * Decision-record delivery in `/metrics`: records answered but not yet in the store of record
 * (the local outbox while PostgreSQL is away), delivered, and failed attempts, read from the log
 * at each scrape.
 */
export function registerRecordMetrics(registry: Registry, log: RecordLog): void {
  new Gauge({
    name: 'cds_decision_records_pending',
    help: 'Decision records kept on local disk and not yet delivered to PostgreSQL (0 with the embedded store)',
    registers: [registry],
    collect() {
      this.set(log.pending());
    },
  });
  const counter = (name: string, help: string, read: () => number): void => {
    let seen = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const now = read();
        if (now > seen) this.inc(now - seen);
        seen = now;
      },
    });
  };
  counter('cds_decision_records_stored_total', 'Decision records written to the store of record', () => log.stats().delivered);
  counter('cds_decision_record_delivery_failures_total', 'Failed deliveries of a batch of decision records to PostgreSQL', () => log.stats().deliveryFailures);
  counter(
    'cds_decision_record_local_write_failures_total',
    'Decision records that could not be written locally (their hook call was answered 503)',
    () => log.stats().localWriteFailures,
  );
}
