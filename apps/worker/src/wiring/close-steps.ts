/**
 * Runs every shutdown step in order, each in its own `finally` (as BullMQ's `Worker.close` does): one that throws
 * does not stop the next. The first error is thrown once all have run.
 */
export async function runCloseSteps(steps: ReadonlyArray<() => unknown>): Promise<void> {
  let firstError: unknown;
  let failed = false;
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      if (!failed) firstError = error;
      failed = true;
    }
  }
  if (failed) throw firstError;
}

/** A `close()` that runs once: a second call (SIGTERM then SIGINT, a test's afterAll) gets the same promise. */
export function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => (closing ??= close());
}
