import { describe, expect, it } from 'vitest';
import { hasControlCharacters, printable } from './text.js';

describe('terminal-safe text', () => {
  it('replaces controls and bidi overrides, keeps everything else', () => {
    expect(printable('ok \u001b[31mred\u0007 \u202eevil\u2069 é')).toBe('ok \ufffd[31mred\ufffd \ufffdevil\ufffd é');
  });

  it('finds C0 controls and DEL only', () => {
    expect(hasControlCharacters('line\nbreak')).toBe(true);
    expect(hasControlCharacters('del\u007f')).toBe(true);
    expect(hasControlCharacters('plain text, é, \u202e')).toBe(false);
  });
});
