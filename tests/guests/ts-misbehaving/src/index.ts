/**
 * An aggregate that misbehaves on command, to show that a TypeScript module's faults meet the
 * same typed errors as a Rust module's (tests/guests/misbehaving): `Throw` throws an error that
 * is no rejection, `Loop` never returns, `Bomb` allocates without bound. `Entropy` reads the
 * clock and randomness, for the determinism test; `Fine` decides nothing.
 */

import { defineAggregate, json } from '@cairn/sdk';

const nothing = json.object({});

export default defineAggregate(
  {
    state: json.object({ decided: json.integer }),
    initialState: { decided: 0 },
    commands: { Throw: nothing, Loop: nothing, Bomb: nothing, Entropy: nothing, Fine: nothing },
    events: {
      Entropy: json.object({
        now: json.integer,
        date: json.string,
        random: json.array(json.number),
      }),
    },
  },
  {
    decide(_state, command) {
      switch (command.type) {
        case 'Throw':
          throw new Error('deliberate error in decide');
        case 'Loop': {
          let n = 0;
          for (;;) n = (n + 1) % 7;
        }
        case 'Bomb': {
          // Ever larger buffers, from 64 MiB: the engine zeroes each one it gets, so small
          // ones would spend the fuel before the memory.
          const hoard: ArrayBuffer[] = [];
          for (let bytes = 1 << 26; ; bytes *= 2) hoard.push(new ArrayBuffer(bytes));
        }
        case 'Entropy':
          return [
            {
              type: 'Entropy',
              data: {
                now: Date.now(),
                date: new Date().toISOString(),
                random: [Math.random(), Math.random(), Math.random()],
              },
            },
          ];
        case 'Fine':
          return [];
      }
    },
    evolve(state) {
      return { decided: state.decided + 1 };
    },
  },
);
