/**
 * The exports of the `aggregate-module` world for an aggregate. Only in a module: the build
 * (`bin/cairn-ts-build.mjs`) bundles an entry that exports `aggregate` from
 * `exportAggregate(<the module's default export>)`; componentize-js binds it to the WIT
 * interface `cairn:module/aggregate@0.1.0`.
 */

/// <reference path="../generated/aggregate-module.d.ts" />

import type { Command, Event } from 'cairn:module/types@0.1.0';
import type * as wit from 'cairn:module/aggregate@0.1.0';
import type { DecideError } from 'cairn:module/aggregate@0.1.0';
import { write } from 'cairn:module/log@0.1.0';

import type { AnyAggregate as Aggregate } from '../aggregate';
import * as glue from '../glue';
import type { Result } from '../glue';
import { setLogSink } from '../log';
import type { Conforms } from './conforms';
import { fault, requireKind } from './fault';

/**
 * The functions of the `aggregate` interface. A function whose WIT result is `result<T, E>`
 * returns `{ tag: 'ok', val }` or `{ tag: 'err', val }`; componentize-js passes these through.
 */
export interface AggregateExports {
  init(): Uint8Array;
  evolve(state: Uint8Array, events: Event[]): Result<Uint8Array, string>;
  decide(state: Uint8Array, command: Command): Result<Event[], DecideError>;
  stateJson(state: Uint8Array): Result<string, string>;
}

/** These exports are those of the WIT interface (see `Conforms`). */
export const conformsToWit: Conforms<typeof wit, AggregateExports> = true;

export function exportAggregate(definition: Aggregate): AggregateExports {
  requireKind(definition, 'aggregate');
  setLogSink(write);
  return {
    init: () => fault(() => glue.init(definition)),
    evolve: (state, events) => fault(() => glue.evolve(definition, state, events)),
    decide: (state, command) => fault(() => glue.decide(definition, state, command)),
    stateJson: (state) => fault(() => glue.stateJson(definition, state)),
  };
}
