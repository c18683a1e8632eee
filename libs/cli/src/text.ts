/**
 * Text from elsewhere (servers, errors, files) made safe to print, and the one check for control
 * characters in text an operator types: shared by every fleetkey command line.
 */

// C0 and C1 controls, DEL, and the bidi overrides that can make text read differently than it is.
// eslint-disable-next-line no-control-regex
const UNSAFE_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** `text` with every control character and bidi override replaced by U+FFFD, safe to write to a terminal. */
export function printable(text: string): string {
  return text.replace(UNSAFE_CHARACTERS, '\ufffd');
}

/** Whether `text` holds a C0 control character or DEL (refused in reasons, names and other typed text). */
export function hasControlCharacters(text: string): boolean {
  return CONTROL_CHARACTERS.test(text);
}
