import type { BulkOutcome } from './contract';

const count = (n: number) => n.toLocaleString('en-US');

/**
 * One line saying what a bulk action did: done (`where`: which namespace, as the notice stays while
 * the operator opens another), skipped as expired, failed with the first reasons.
 */
export function bulkSummary(verb: string, outcome: BulkOutcome, where: string): string {
  const parts = [`${verb} ${count(outcome.done)} ${outcome.done === 1 ? 'entry' : 'entries'} ${where}`];
  if (outcome.skippedExpired) parts.push(`skipped ${count(outcome.skippedExpired)} expired`);
  if (outcome.gone) parts.push(`${count(outcome.gone)} already gone (deleted elsewhere)`);
  if (outcome.failed) {
    const reasons = [...new Set(outcome.failures.map((f) => `${f.hash}: ${f.error.message}`))].slice(0, 3).join('; ');
    parts.push(`${count(outcome.failed)} failed (${reasons}${outcome.failures.length > 3 ? '; …' : ''})`);
  }
  return parts.join(', ');
}
