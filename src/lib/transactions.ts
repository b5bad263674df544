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
    const r = msg._kafka as { consumer?: unknown; topic?: unknown; partition?: unknown; offset?: unknown; seq?: unknown } | undefined;
    if (!r || typeof r !== 'object' || typeof r.consumer !== 'string') return null;
    const source = sources.get(r.consumer);
    if (!source || typeof r.topic !== 'string') return null;
    const txn = source.transactionOf({
        topic: r.topic,
        partition: Number(r.partition),
        offset: String(r.offset),
        seq: typeof r.seq === 'number' ? r.seq : undefined,
    });
    return txn ? { txn } : 'aborted';
}
