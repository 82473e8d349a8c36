/**
 * Account balances, projected from the `bank_account` aggregate's events: every balance, the
 * total ever deposited, and the top N balances. The TypeScript twin of
 * examples/account-balances: the same subscription, read model keys and values, queries and
 * answers, so either module builds and reads the other's read model.
 *
 * `bank_account` streams are named `bank_account-{id}`: their category (the part before the
 * first `-`) is the module's name, and the account id is the rest.
 *
 * Read model keys:
 * - `balance/{id}`: the account's balance, in cents;
 * - `rank/{inverted balance}/{id}`: an index in descending balance order (the balance is
 *   stored as `i64::MAX - balance`, zero-padded to 20 digits, so key order is balance order
 *   reversed);
 * - `total_deposits`: the sum of every deposit.
 *
 * Balances are JavaScript numbers, exact up to 2^53 - 1 cents (see examples/ts-bank-account).
 */

import { defineProjection, json, type OneOf, ProjectionError, Subscription } from '@cairn/sdk';

/** The `bank_account` events this projection reads (its own view of them). */
const events = {
  Opened: json.object({ owner: json.string }),
  Deposited: json.object({ amount: json.integer }),
  Withdrawn: json.object({ amount: json.integer }),
};

export type AccountEvent = OneOf<typeof events>;

/**
 * Requests: `{"type": "total_deposits"}`, `{"type": "top", "n": 3}` or
 * `{"type": "balance", "account": "7"}`.
 */
const queries = json.tagged('type', {
  total_deposits: json.unit,
  /** The `n` largest balances (at most 100), largest first. */
  top: json.object({ n: json.u32 }),
  balance: json.object({ account: json.string }),
});

export interface Ranked {
  account: string;
  balance: number;
}

export type BalanceAnswer = { total_deposits: number } | { top: Ranked[] } | { balance: number | null };

/** The account id of a `bank_account-{id}` stream. */
function accountOf(stream: string): string {
  return stream.startsWith('bank_account-') ? stream.slice('bank_account-'.length) : stream;
}

function balanceKey(account: string): string {
  return `balance/${account}`;
}

const I64_MAX = 9_223_372_036_854_775_807n;

function rankKey(balance: number, account: string): string {
  // Balances are never negative (no overdraft); clamp so a bad one still sorts.
  const inverted = I64_MAX - BigInt(Math.max(balance, 0));
  return `rank/${inverted.toString().padStart(20, '0')}/${account}`;
}

export default defineProjection(
  { subscription: Subscription.category('bank_account'), events, queries },
  {
    apply(model, recorded) {
      const account = accountOf(recorded.stream);
      const old = model.getJson(balanceKey(account), json.integer);
      const { event } = recorded;
      let balance: number;
      if (event.type === 'Opened') {
        balance = old ?? 0;
      } else if (old === undefined) {
        throw new ProjectionError(`${recorded.stream} moved money before it was opened`);
      } else if (event.type === 'Deposited') {
        model.add('total_deposits', event.data.amount);
        balance = old + event.data.amount;
      } else {
        balance = old - event.data.amount;
      }
      if (old !== undefined) model.deleteKey(rankKey(old, account));
      model.putJson(rankKey(balance, account), null);
      model.putJson(balanceKey(account), balance);
    },

    query(model, query): BalanceAnswer {
      switch (query.type) {
        case 'total_deposits':
          return { total_deposits: model.getJson('total_deposits', json.integer) ?? 0 };
        case 'top': {
          const top: Ranked[] = [];
          for (const [key] of model.scan('rank/', undefined, Math.min(query.n, 100))) {
            const account = new TextDecoder().decode(key).split('/').slice(2).join('/');
            const balance = model.getJson(balanceKey(account), json.integer) ?? 0;
            top.push({ account, balance });
          }
          return { top };
        }
        case 'balance':
          return { balance: model.getJson(balanceKey(query.account), json.integer) ?? null };
      }
    },
  },
);
