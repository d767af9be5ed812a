/**
 * Replaces every occurrence of each secret in `text` with `***`, also where JSON escapes it (a secret with `"`, `\`
 * or a control character inside a JSON line, as `--json` prints), longest secrets first so that one containing
 * another is replaced whole. Short secrets (< 4 chars) are replaced too.
 */
export function redact(text: string, secrets: readonly string[]): string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (!secret) continue;
    forms.add(secret);
    forms.add(JSON.stringify(secret).slice(1, -1));
  }
  let out = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) out = out.split(form).join('***');
  return out;
}
