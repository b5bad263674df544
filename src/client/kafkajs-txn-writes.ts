// Transactional writes that kafkajs sent twice, mended at run time (kafkajs 2.2.4).
//
// Why this exists: a write to partitions led by several brokers is one request per
// broker, sent at once. When the request of one broker fails, kafkajs retries the
// write while the other brokers' requests are still under way, and sends those again
// once they are done, under new record numbers: both copies land in the transaction.
// The fault suite found such byte-identical outputs twice in committed transactions
// (x1: 28 keys, x3: 13 keys, each burst right after a write that failed on one broker).
// Two mends, on kafkajs's Broker:
// - the common cause: right after a transaction ended, the coordinator answers
//   AddPartitionsToTxn with CONCURRENT_TRANSACTIONS until it has written that
//   transaction's markers; Kafka's Java producer asks again after a short pause, kafkajs
//   failed the write. Here it is asked again (20 ms doubling to 200 ms, for up to
//   ADD_PARTITIONS_BUDGET_MS);
// - any other cause (a broker dying with a write under way elsewhere): a transactional
//   produce request holding records this producer (id and epoch) already had
//   acknowledged is not sent; it fails, not retried, so the write fails and the
//   connector aborts the transaction (its records are delivered again in a new one).
//
// Applied only to kafkajs 2.2.4 with Broker.prototype.addPartitionsToTxn and produce.
import { mendMethods } from './kafkajs-internals';
import type { MendResult } from './kafkajs-internals';

const MENDED = Symbol.for('node-red-contrib-kafka-connector.txn-writes-mend');

/** How long AddPartitionsToTxn is asked again while the coordinator answers CONCURRENT_TRANSACTIONS. */
export const ADD_PARTITIONS_BUDGET_MS = 10000;
const FIRST_PAUSE_MS = 20;
const MAX_PAUSE_MS = 200;

type Call = (this: unknown, ...args: unknown[]) => Promise<unknown>;

/** AddPartitionsToTxn, asked again after a pause (20 ms doubling to 200 ms) while the answer is CONCURRENT_TRANSACTIONS. */
export function askingAgain(add: Call, budgetMs = ADD_PARTITIONS_BUDGET_MS): Call {
    return async function (this: unknown, ...args: unknown[]) {
        const until = Date.now() + budgetMs;
        for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(MAX_PAUSE_MS, pause * 2)) {
            try {
                return await add.apply(this, args);
            } catch (err) {
                if ((err as { type?: string })?.type !== 'CONCURRENT_TRANSACTIONS' || Date.now() + pause > until) throw err;
                await new Promise((resolve) => setTimeout(resolve, pause));
            }
        }
    };
}

interface ProduceRequest {
    transactionalId?: string;
    producerId?: number | string;
    producerEpoch?: number;
    topicData?: { topic: string; partitions: { partition: number; messages: object[] }[] }[];
}

/** Records (kafkajs's message objects) acknowledged by a transactional produce, with the producer (id:epoch) that wrote them. */
const acknowledged = new WeakMap<object, string>();

/**
 * Broker.produce() that refuses, with `refusal()`, a transactional request holding a record
 * the same producer already had acknowledged, and notes the records of each acknowledged one.
 */
export function onceOnly(produce: Call, refusal: (message: string) => Error): Call {
    return async function (this: unknown, ...args: unknown[]) {
        const request = (args[0] ?? {}) as ProduceRequest;
        if (!request.transactionalId) return produce.apply(this, args);
        const writer = `${request.producerId}:${request.producerEpoch}`;
        const messages = (request.topicData ?? []).flatMap((t) => t.partitions.flatMap((p) => p.messages));
        const again = messages.filter((m) => acknowledged.get(m) === writer).length;
        if (again) {
            throw refusal(`kafkajs was about to write ${again} record(s) of transaction ${request.transactionalId} a second time ` +
                '(its retry after another broker\'s request failed); the write fails instead, and its transaction is aborted');
        }
        const answer = await produce.apply(this, args);
        for (const m of messages) acknowledged.set(m, writer);
        return answer;
    };
}

/** Mends the kafkajs copy this package loads (see the top of this file). Idempotent. */
export function mendTransactionalWrites(kafkajsDir?: string): MendResult {
    return mendMethods(MENDED, (load) => {
        const { KafkaJSNonRetriableError } = load('src', 'errors.js');
        if (typeof KafkaJSNonRetriableError !== 'function') throw new Error('kafkajs lacks KafkaJSNonRetriableError');
        const broker = ['src', 'broker', 'index.js'];
        return [
            { file: broker, prototype: true, method: 'addPartitionsToTxn', wrap: (add) => askingAgain(add) },
            { file: broker, prototype: true, method: 'produce', wrap: (produce) => onceOnly(produce, (message) => new KafkaJSNonRetriableError(message)) },
        ];
    }, { kafkajsDir });
}
