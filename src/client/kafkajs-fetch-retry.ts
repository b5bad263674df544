// The consumer's fetch loop outlasts a partition leader's failover (kafkajs 2.2.4,
// mended at run time).
//
// Why this exists: kafkajs runs a consumer's fetches under the retry options the
// consumer was given, which here are the manual's rebalance settings (4 retries,
// 2 s apart by default). When a broker dies, the fetcher for it fails until the
// cluster has moved its partitions' leadership (the dead broker's session timeout
// plus an election: 8-10 s on the fault suite's loaded machine), and each failure
// stops and restarts every fetcher. Once the retries ran out, kafkajs crashed the
// consumer, which then joined again as a new member (the group rebalanced, the
// fault suite's scenario c saw the member evicted). Here the fetch loop gets its
// own budget, long enough for a failover (about 30 s, growing pauses up to 2 s);
// heartbeats go on between attempts, from the fetchers of the brokers still up.
// A cluster with no broker at all still ends the loop at once (kafkajs bails on
// that), so a whole-cluster outage is handled as before. Joining, syncing and
// offset commits keep the rebalance settings.
//
// Applied only to kafkajs 2.2.4 with Runner.prototype.scheduleFetchManager present.
import { mendMethods } from './kafkajs-internals';
import type { MendResult } from './kafkajs-internals';

const MENDED = Symbol.for('node-red-contrib-kafka-connector.fetch-retry-mend');
const FETCH_RETRIER = Symbol('fetch-retrier');

/** The fetch loop's retry options: 300 ms doubling to 2 s, about 30 s in all. */
export const FETCH_RETRY = { initialRetryTime: 300, maxRetryTime: 2000, multiplier: 2, factor: 0.2, retries: 17 };

interface Runner {
    retrier: unknown;
    [FETCH_RETRIER]?: unknown;
}
type Schedule = (this: Runner, ...args: unknown[]) => unknown;

/** Mends the kafkajs copy this package loads (see the top of this file). Idempotent. */
export function mendFetchRetry(kafkajsDir?: string): MendResult {
    return mendMethods(MENDED, (load) => {
        const createRetry: unknown = load('src', 'retry', 'index.js');
        if (typeof createRetry !== 'function') throw new Error('kafkajs lacks its retry');
        // The fetch loop starts its retries synchronously from this.retrier; the runner's
        // own retrier (offset commits) is put back at once.
        const wrap = (schedule: Schedule): Schedule => function (this: Runner, ...args: unknown[]) {
            const own = this.retrier;
            this.retrier = this[FETCH_RETRIER] ??= createRetry({ ...FETCH_RETRY });
            try {
                return schedule.apply(this, args);
            } finally {
                this.retrier = own;
            }
        };
        return [{ file: ['src', 'consumer', 'runner.js'], prototype: true, method: 'scheduleFetchManager', wrap }];
    }, { kafkajsDir });
}
