const escapes: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * A path as a terminal line shows it: control characters (C0, DEL, C1) escaped as `\n`, `\t`,
 * `\xHH`. A file name may hold a newline (one failure would read as two lines, the second forged
 * by whoever named the file) or an escape sequence (clearing or recolouring the terminal); --json
 * keeps names as they are.
 */
export function printable(path: string): string {
  return path.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => escapes[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
