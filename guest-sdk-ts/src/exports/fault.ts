/**
 * What the exports do with an exception the glue does not turn into a WIT error: a bug in the
 * module. The call must trap, as a panic does in a Rust module, so the host sees a failed call
 * rather than an answer. componentize-js takes what an export throws as the WIT error (its
 * `payload` property, if it has one): an `Error` object is no valid error value, so lowering it
 * fails and the call traps, but a thrown string would pass as a `string` error. So whatever was
 * thrown is thrown again as an `Error` without `payload`, after its message and stack are written
 * to stderr, which the host quotes in the call's error.
 */

export function fault<T>(call: () => T): T {
  try {
    return call();
  } catch (e) {
    const error = e instanceof Error ? e : new Error(`uncaught exception: ${String(e)}`);
    console.error(`${error.name}: ${error.message}${error.stack ? `\n${error.stack}` : ''}`);
    throw new Error(error.message);
  }
}

/** Refuses to build a module whose default export is not the kind its world needs. */
export function requireKind(definition: unknown, kind: 'aggregate' | 'projection'): void {
  const actual = (definition as { kind?: unknown } | null | undefined)?.kind;
  if (actual !== kind) {
    const define = kind === 'aggregate' ? 'defineAggregate' : 'defineProjection';
    throw new Error(
      `the module's default export must be what ${define}(...) returns (its kind is ${String(actual)})`,
    );
  }
}
