/**
 * Strict JSON records kept in the store's settings (controller keys, fleet keys): the field
 * shapes they share and the one way to read them back. What is read back is treated as
 * untrusted — someone may have edited the database — so every field is validated.
 */
import { InvalidArgument } from '@fleetkey/key-types';
import { z } from 'zod';

/** A KMS key id or ARN / URL: printable ASCII, no spaces. */
export const kmsKeyIdSchema = z.string().min(1).max(1024).regex(/^[\x21-\x7e]+$/);
/** A DER certificate in standard base64. */
export const base64DerSchema = z.string().min(1).max(32_768).regex(/^[A-Za-z0-9+/]+={0,2}$/);

/** @throws InvalidArgument naming `what` when the text is not JSON of the schema's shape. */
export function parseStoredJson<S extends z.ZodType>(text: string, schema: S, what: string): z.output<S> {
  try {
    return schema.parse(JSON.parse(text));
  } catch {
    throw new InvalidArgument(`the stored ${what} is malformed`);
  }
}
