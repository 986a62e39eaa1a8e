/** Catching what a step under test throws, so the test can assert on the error itself. */

/** The error `run` throws, which must be a `type`; fails the test when it throws nothing, and rethrows any other error. */
export function thrownBy<E extends Error>(type: abstract new (...args: never[]) => E, run: () => unknown): E {
  try {
    run();
  } catch (error) {
    if (error instanceof type) return error;
    throw error;
  }
  throw new Error(`expected a ${type.name}`);
}

/** The error a promise rejects with; fails the test when it resolves. `E` names fields the test reads (code, field). */
export async function rejectionOf<E extends Error = Error>(promise: Promise<unknown>): Promise<E> {
  try {
    await promise;
  } catch (error) {
    return error as E;
  }
  throw new Error('expected a rejection');
}

/** The error a promise rejects with, which must be a `type`; fails the test when it resolves, and rethrows any other error. */
export async function rejectionOfType<E extends Error>(type: abstract new (...args: never[]) => E, promise: Promise<unknown>): Promise<E> {
  const error = await rejectionOf(promise);
  if (error instanceof type) return error;
  throw error;
}

/** How a call ended, for a table of outcomes: 'answered', or the name of the error it failed with. */
export function outcomeName(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'answered',
    (error: unknown) => (error as Error).name,
  );
}
