import type { OperationEnd, RunningOperation } from '../../src-shared/contract';
import { counted, formatBytes, formatCount } from './format';

/** An operation main runs, as a window that did not start it shows it: what it does, and how far it has got. */
export function describeOperation(op: RunningOperation): { title: string; progress: string } {
  const where = `namespace ${op.namespace}`;
  const file = op.subject || 'a file';
  const bytes = `${formatBytes(op.done)}${op.total === null ? '' : ` of ${formatBytes(op.total)}`}`;
  switch (op.kind) {
    case 'hash':
      return { title: `Hashing ${file} for ${where}`, progress: bytes };
    case 'store':
      return { title: `Storing ${file} into ${where}`, progress: bytes };
    case 'verify':
      return {
        title: `Verifying ${op.namespace === null ? 'the whole store' : where}${op.subject === 'repair' ? ' and repairing what is safe to' : ''}`,
        progress: `${counted(op.done, 'key', 'keys')} checked${op.total === null ? '' : ` of ${formatCount(op.total)} listed so far`}`,
      };
    case 'prune':
      return { title: `Pruning ${where}`, progress: op.total === null ? `${counted(op.done, 'version', 'versions')} done so far` : `${formatCount(op.done)} of ${counted(op.total, 'version', 'versions')} done` };
    case 'delete':
      return { title: `Deleting picked entries in ${where}`, progress: op.total === null ? 'finding the entries picked' : `${formatCount(op.done)} of ${counted(op.total, 'entry', 'entries')} done` };
  }
}

/** How it ended, as a notice ends: `finished`, `stopped: the prune was cancelled after …`, `failed: …`. */
export function endedText({ outcome, message }: OperationEnd): string {
  if (outcome === 'finished') return message ? `finished: ${message}` : 'finished';
  if (outcome === 'failed') return `failed: ${message ?? 'no reason given'}`;
  if (!message) return 'stopped';
  return message.startsWith('stopped') ? message : `stopped: ${message}`;
}
