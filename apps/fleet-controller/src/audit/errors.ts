/**
 * Typed errors of the audit log.
 *
 * Trust boundary: the message names the offending FIELD only, never its value (the value is what
 * looked like a secret).
 */
import { FleetkeyError } from '@fleetkey/key-types';

/** An audit append carried something that looks like a token, key or other secret; nothing was written. */
export class AuditDetailsRefused extends FleetkeyError {
  readonly code = 'AUDIT_DETAILS_REFUSED' as const;
  constructor(readonly field: string) {
    super(`audit record refused: field "${field}" looks like secret material`);
  }
}
