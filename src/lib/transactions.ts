// Where kafka-publish finds the open transaction of a record consumed in
// exactly-once mode: each exactly-once kafka-consumer offers its engine here,
// under its node id, and a message's receipt (msg._kafka) names that id. Both
// nodes run in one Node-RED process and load this one module.
import type { ProducerTransaction } from './producer-client';
import type { RecordRef } from './delivery-engine';

export interface TransactionSource {
    transactionOf(r: RecordRef): ProducerTransaction | null;
}

const sources = new Map<string, TransactionSource>();

/** Offers a consumer's transactions; returns the function that withdraws them. */
export function offerTransactions(consumerId: string, source: TransactionSource): () => void {
    sources.set(consumerId, source);
    return () => {
        if (sources.get(consumerId) === source) sources.delete(consumerId);
    };
}

/**
 * For a message: null when it carries no record of an exactly-once consumer
 * (written as usual); else the record's open transaction, or `aborted` when its
 * transaction is over (the record will be delivered again: this write must fail).
 */
export function transactionFor(msg: { _kafka?: unknown }): { txn: ProducerTransaction } | 'aborted' | null {
    const r = msg._kafka as {
        consumer?: unknown; topic?: unknown; partition?: unknown; offset?: unknown; seq?: unknown; offsets?: unknown; seqs?: unknown;
    } | undefined;
    if (!r || typeof r !== 'object' || typeof r.consumer !== 'string') return null;
    const source = sources.get(r.consumer);
    if (!source || typeof r.topic !== 'string') return null;
    // A batch message's records share one transaction: its first record names it.
    const offset: unknown = Array.isArray(r.offsets) ? r.offsets[0] : r.offset;
    const seq: unknown = Array.isArray(r.offsets) ? (Array.isArray(r.seqs) ? r.seqs[0] : undefined) : r.seq;
    const txn = source.transactionOf({
        topic: r.topic,
        partition: Number(r.partition),
        offset: String(offset),
        seq: typeof seq === 'number' ? seq : undefined,
    });
    return txn ? { txn } : 'aborted';
}
