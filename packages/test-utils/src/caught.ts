/** What a promise rejected with, for assertions on RelErrors (its code, details); fails if it resolved. */
export async function caught(promise: Promise<unknown>): Promise<Error & { code?: string; details?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection, got a result');
}
