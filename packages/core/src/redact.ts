/** `password=` in a key=value connection string (libpq, ADO.NET/Npgsql), with its value: plain, or quoted. */
const PASSWORD_PAIR = /(password\s*=\s*)("(?:[^"]|"")*"|'(?:[^']|'')*'|[^;\s]*)/gi;

/**
 * `text` with every secret replaced by `***`: each non-empty secret, also where JSON escapes it (a secret with `"`,
 * `\` or a control character inside a JSON line), longest first so that a secret containing another is replaced
 * whole; short secrets too. The value of every `password=` pair of a key=value connection string is replaced as
 * well (`Host=db;Password="a;b";Port=5432` becomes `Host=db;Password=***;Port=5432`), secret list or not.
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
  return out.replace(PASSWORD_PAIR, '$1***');
}
