import { CacheError } from '../../../src-shared/errors';
import type { StorageBackend } from './types';

/**
 * Refuses `action` before anything is sent or written when the store is open read-only (S3
 * credentials that may list and read but not write): the server would refuse its writes anyway, and
 * an operation must not be left half-done or its report lost to the first refused write.
 */
export function assertWritable(storage: StorageBackend, action: string): void {
  if (storage.capabilities.readOnly) {
    throw new CacheError('access_denied', `cannot ${action}: ${storage.description} is open read-only (its credentials may read but not write); nothing was changed`);
  }
}
