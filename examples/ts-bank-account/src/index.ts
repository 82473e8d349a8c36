/**
 * A bank account: open it, deposit, withdraw. It never goes overdrawn, and amounts are whole
 * cents greater than zero. The TypeScript twin of examples/bank-account: the same commands,
 * events, state and rejections, so either module serves the other's streams.
 *
 * Amounts are JavaScript numbers, exact up to 2^53 - 1 cents; the Rust module's `i64` reaches
 * 2^63 - 1. An amount beyond 2^53 - 1 does not decode here (the command is invalid), and a
 * balance would overflow at 2^53 - 1 rather than at 2^63 - 1.
 */

import { defineAggregate, type Infer, json, type OneOf, Rejection } from '@cairn/sdk';

const account = json.object({
  owner: json.nullable(json.string),
  /** In cents. */
  balance: json.integer,
});

const commands = {
  Open: json.object({ owner: json.string }),
  Deposit: json.object({ amount: json.integer }),
  Withdraw: json.object({ amount: json.integer }),
};

const events = {
  Opened: json.object({ owner: json.string }),
  Deposited: json.object({ amount: json.integer }),
  Withdrawn: json.object({ amount: json.integer }),
};

export type Account = Infer<typeof account>;
export type AccountCommand = OneOf<typeof commands>;
export type AccountEvent = OneOf<typeof events>;

function requireOpen(account: Account): void {
  if (account.owner === null) throw new Rejection('the account is not open');
}

function requirePositive(amount: number): void {
  if (!(amount > 0)) throw new Rejection(`the amount must be greater than zero, not ${amount}`);
}

export default defineAggregate(
  { state: account, initialState: { owner: null, balance: 0 }, commands, events },
  {
    decide(account, command): AccountEvent[] {
      switch (command.type) {
        case 'Open': {
          const { owner } = command.data;
          if (account.owner !== null) throw new Rejection('the account is already open');
          if (owner.trim() === '') throw new Rejection('an account needs an owner');
          return [{ type: 'Opened', data: { owner } }];
        }
        case 'Deposit': {
          const { amount } = command.data;
          requireOpen(account);
          requirePositive(amount);
          if (!Number.isSafeInteger(account.balance + amount)) {
            throw new Rejection('the balance would overflow');
          }
          return [{ type: 'Deposited', data: { amount } }];
        }
        case 'Withdraw': {
          const { amount } = command.data;
          requireOpen(account);
          requirePositive(amount);
          if (amount > account.balance) {
            throw new Rejection(
              `insufficient funds: the balance is ${account.balance}, the withdrawal ${amount}`,
            );
          }
          return [{ type: 'Withdrawn', data: { amount } }];
        }
      }
    },

    evolve(account, event): Account {
      switch (event.type) {
        case 'Opened':
          return { ...account, owner: event.data.owner };
        case 'Deposited':
          return { ...account, balance: account.balance + event.data.amount };
        case 'Withdrawn':
          return { ...account, balance: account.balance - event.data.amount };
      }
    },
  },
);
