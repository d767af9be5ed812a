/** Replaces every occurrence of each secret in `text` with `***`. Short secrets (< 4 chars) are replaced too. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret) out = out.split(secret).join('***');
  }
  return out;
}
