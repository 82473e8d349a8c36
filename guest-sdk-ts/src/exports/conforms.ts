/**
 * A check, at type level, that the exports the SDK builds match the WIT interface as jco
 * generates it (src/generated/): the same functions, taking the same parameters, with the same
 * result. The generated declarations type a `result<T, E>` as returning `T` (and throwing `E`);
 * the exports return `{ tag: 'ok', val: T }` or `{ tag: 'err', val: E }` instead, which
 * componentize-js also accepts, so `T` is compared with the `ok` value.
 */

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Ok<R> = R extends { tag: 'ok'; val: infer T } ? T : R extends { tag: 'err' } ? never : R;
type Returned<R> = [R] extends [void] ? undefined : R;

type Functions<M> = {
  [K in keyof M as M[K] extends (...args: never[]) => unknown ? K : never]: M[K];
};

type Matches<W, E> = W extends (...args: infer P) => infer R
  ? E extends (...args: infer Q) => infer S
    ? Same<P, Q> extends true
      ? Same<Returned<R>, Ok<S>>
      : false
    : false
  : false;

/** `true` where `Exports` has exactly the functions of the WIT interface `Wit`, else `false`. */
export type Conforms<Wit, Exports> =
  Same<keyof Functions<Wit>, keyof Exports> extends true
    ? false extends {
        [K in keyof Exports]: K extends keyof Functions<Wit> ? Matches<Functions<Wit>[K], Exports[K]> : false;
      }[keyof Exports]
      ? false
      : true
    : false;
