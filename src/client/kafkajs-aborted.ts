// Read committed for kafkajs 2.2.4, mended at run time.
//
// Why this exists: a read-committed Fetch answer lists the aborted transactions that
// overlap the records returned (producer id, first offset), and the client must drop
// a transactional record of such a producer from that first offset until the
// producer's ABORT marker. kafkajs 2.2.4 (consumer/filterAbortedMessages.js) walks
// that list in the order the broker sends it (the order of the abort markers, not of
// the first offsets) and starts at most one aborted transaction per record. With
// several producers' transactions interleaved in one partition (exactly-once flows
// write that way: one transactional producer per input partition), records of
// aborted transactions reach read-committed consumers: the fault suite's kafkajs
// reader saw 1,734 of them in one run where Kafka's own Java reader saw none.
//
// So the fetch answers of the kafkajs copy this package loads are filtered here,
// as Kafka's Java client does (aborted transactions taken in first-offset order, all
// of them that start at or before a record), before kafkajs sees them; kafkajs's own
// filter then has nothing left to do. The Fetch response decoders are module
// objects that kafkajs looks up on every request, so the mend holds whichever
// module loaded kafkajs first. Only kafkajs 2.2.4; anything else is left alone.
import { mendMethods } from './kafkajs-internals';
import type { MendResult } from './kafkajs-internals';

const MENDED = Symbol.for('node-red-contrib-kafka-connector.aborted-mend');
/** A control record's key: version 0, type 0 (ABORT). */
const ABORT_KEY = Buffer.from([0, 0, 0, 0]);
/** The Fetch versions whose answers carry aborted transactions. */
const VERSIONS = [4, 5, 6, 7, 8, 9, 10, 11];

export interface AbortedTransaction {
    producerId: string;
    firstOffset: string;
}

export interface FetchedMessage {
    offset: string;
    key?: Buffer | null;
    isControlRecord?: boolean;
    batchContext?: { producerId?: string; inTransaction?: boolean };
}

/**
 * The records of `messages` (one partition's, in offset order, control records
 * included) without those of the aborted transactions listed; control records stay
 * (kafkajs drops them itself).
 */
export function withoutAborted<M extends FetchedMessage>(messages: M[], aborted: AbortedTransaction[]): M[] {
    if (!aborted.length) return messages;
    const pending = aborted.map((a) => ({ producerId: String(a.producerId), first: BigInt(a.firstOffset) }))
        .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
    const abortedProducers = new Set<string>();
    let next = 0;
    return messages.filter((m) => {
        const offset = BigInt(m.offset);
        while (next < pending.length && pending[next].first <= offset) abortedProducers.add(pending[next++].producerId);
        const producerId = String(m.batchContext?.producerId);
        if (m.isControlRecord) {
            if (m.key && Buffer.from(m.key).equals(ABORT_KEY)) abortedProducers.delete(producerId);
            return true;
        }
        return !(m.batchContext?.inTransaction && abortedProducers.has(producerId));
    });
}

interface FetchAnswer {
    responses?: { partitions?: { abortedTransactions?: AbortedTransaction[]; messages?: FetchedMessage[] }[] }[];
}
type Decode = (...args: unknown[]) => Promise<FetchAnswer>;

/** A Fetch response's decode(), dropping the records of aborted transactions from its answer. */
function filtering(decode: Decode): Decode {
    return async function (this: unknown, ...args: unknown[]) {
        const answer = await decode.apply(this, args);
        for (const topic of answer?.responses ?? []) {
            for (const p of topic.partitions ?? []) {
                if (!p.abortedTransactions?.length || !p.messages) continue;
                p.messages = withoutAborted(p.messages, p.abortedTransactions);
                p.abortedTransactions = [];
            }
        }
        return answer;
    };
}

/** Filters the Fetch answers of the kafkajs copy at `kafkajsDir` (default: the one this package loads). Idempotent. */
export function mendReadCommitted(kafkajsDir?: string): MendResult {
    return mendMethods(MENDED, () => VERSIONS.map((v) => ({
        file: ['src', 'protocol', 'requests', 'fetch', `v${v}`, 'response.js'], method: 'decode', wrap: filtering,
    })), { kafkajsDir });
}
