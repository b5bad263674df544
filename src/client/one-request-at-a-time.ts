// A transaction whose operations reach the client one at a time.
//
// kafkajs 2.2.4 numbers an idempotent producer's records per partition when it
// builds a request, takes that number back when the request fails, and retries
// with whatever number the partition has then. Two requests of one producer in
// flight at once (possible whenever they go to different brokers, e.g. to the old
// and the new leader of a partition just after a broker died) get each other's
// numbers: a retried request that the dead leader had already written, and
// replicated, can be written a second time under a new number, and it commits
// with the transaction (the fault suite's scenario x1 found byte-identical copies
// of one write inside committed transactions, always around a broker kill).
// One request at a time keeps a retry's numbers those of its first attempt, so
// the new leader recognises it as the copy it already has.
//
// Aborting waits for the request under way (Java's producer does the same): an
// abort ahead of a late write would leave that write in a transaction that never
// ends on its partition, and read-committed readers would stall behind it.
// Writes not yet started when the abort is asked for fail at once.
import type { ProducerTransaction } from '../lib/producer-client';

export class TransactionOverError extends Error {
    constructor() {
        super('The transaction was aborted before this write was sent; its records are delivered again');
        this.name = 'TransactionOverError';
    }
}

export function oneRequestAtATime(txn: ProducerTransaction): ProducerTransaction {
    let tail: Promise<unknown> = Promise.resolve();
    let aborting = false;
    /** Runs `op` once everything asked for before it has settled. */
    const inTurn = <T>(op: () => Promise<T>, yieldsToAbort: boolean): Promise<T> => {
        const run = tail.then(() => {
            if (yieldsToAbort && aborting) throw new TransactionOverError();
            return op();
        });
        tail = run.catch(() => undefined);
        return run;
    };
    return {
        send: (batches, options) => inTurn(() => txn.send(batches, options), true),
        sendOffsets: (groupId, offsets) => inTurn(() => txn.sendOffsets(groupId, offsets), true),
        commit: () => inTurn(() => txn.commit(), false),
        abort: () => {
            aborting = true;
            return inTurn(() => txn.abort(), false);
        },
    };
}
