/**
 * A module that reports what the JavaScript engine reads from the host: `Probe` decides one
 * event whose data holds the clocks and random numbers as the module sees them; `Log` writes to
 * the host's log and to stdout; `Crash` and `ThrowString` throw something that is not a
 * rejection.
 */

import { defineAggregate, json, log } from '@cairn/sdk';

export default defineAggregate(
  {
    state: json.unknown,
    initialState: {},
    commands: { Probe: json.unit, Log: json.unit, Crash: json.unit, ThrowString: json.unit },
    events: { Probed: json.unknown, Logged: json.unit },
  },
  {
    decide(_state, command) {
      switch (command.type) {
        case 'Probe':
          return [
            {
              type: 'Probed',
              data: {
                now: Date.now(),
                date: new Date().toISOString(),
                random: [Math.random(), Math.random(), Math.random()],
                bytes: [...crypto.getRandomValues(new Uint8Array(4))],
                uuid: crypto.randomUUID(),
                performance: performance.now(),
              },
            },
          ];
        case 'Log':
          log('warn', 'a line for the host');
          console.log('a line on stdout');
          return [{ type: 'Logged' }];
        case 'Crash':
          throw new TypeError('a bug in the module');
        case 'ThrowString':
          throw 'a string';
      }
    },
    evolve() {},
  },
);
