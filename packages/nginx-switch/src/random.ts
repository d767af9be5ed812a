/**
 * Eight random hex digits for a temporary file or link name. node:crypto loads on first use: reading the routing
 * (what `rel monitor` and `rel status` do) never needs it, and loading it costs milliseconds of CPU at start-up.
 */
export async function randomHex(): Promise<string> {
  const { randomBytes } = await import('node:crypto');
  return randomBytes(4).toString('hex');
}
