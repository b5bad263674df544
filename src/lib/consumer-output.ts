// Turns a consumed record into a Node-RED message (SPEC decision 11). Only plain
// data goes on the message, so it survives Node-RED's deep clone.

export type PayloadFormat = 'buffer' | 'string' | 'json';

export interface RecordIn {
    topic: string;
    partition: number;
    /** decimal string */
    offset: string;
    key: Buffer | null;
    value: Buffer | null;
    /** header values decoded as UTF-8; a header sent several times gives an array */
    headers: Record<string, string | string[]>;
    /** ms since the epoch, decimal string */
    timestamp: string;
    /** the partition's end offset (high watermark) when the record was fetched, decimal string */
    highWaterOffset?: string;
}

export interface ConsumerMessage {
    _msgid: string;
    payload: Buffer | string | unknown;
    attribute: { topic: string; partition: number; offset: number };
    topic: string;
    key: Buffer | string | null;
    headers: Record<string, string | string[]>;
    timestamp: number;
    /** Figures of the fetch: the partition's end offset then (lag of this record = highWaterOffset - offset - 1). */
    kafka?: { highWaterOffset: number };
    /**
     * The receipt: which consumer node emitted which record. Nodes downstream may
     * rewrite msg.attribute (kafka-publish puts the written record's coordinates
     * there), so acknowledgements are matched on this property first.
     */
    _kafka: Receipt;
}

export interface Receipt {
    consumer: string;
    topic: string;
    partition: number;
    offset: number;
    /** which handing-out of the record (a record can be handed out again after an aborted transaction) */
    seq?: number;
}

export interface OutputResult {
    msg: ConsumerMessage;
    /** set when the format is json and the value is not valid JSON: the payload is then the string */
    parseError?: string;
}

/** `msgid`: the new message's `_msgid`. */
export function recordToMessage(r: RecordIn, format: PayloadFormat, consumer: string, msgid: string, seq?: number): OutputResult {
    let payload: Buffer | string | unknown = r.value;
    let parseError: string | undefined;
    if (format !== 'buffer' && r.value !== null) {
        const text = r.value.toString('utf8');
        payload = text;
        if (format === 'json') {
            try {
                payload = JSON.parse(text);
            } catch (err) {
                parseError = (err as Error).message;
            }
        }
    }
    const key = r.key === null ? null : format === 'buffer' ? r.key : r.key.toString('utf8');
    const msg: ConsumerMessage = {
        _msgid: msgid,
        payload,
        attribute: { topic: r.topic, partition: r.partition, offset: Number(r.offset) },
        topic: r.topic,
        key,
        headers: { ...r.headers },
        timestamp: Number(r.timestamp),
        _kafka: seq === undefined
            ? { consumer, topic: r.topic, partition: r.partition, offset: Number(r.offset) }
            : { consumer, topic: r.topic, partition: r.partition, offset: Number(r.offset), seq },
    };
    if (r.highWaterOffset !== undefined) msg.kafka = { highWaterOffset: Number(r.highWaterOffset) };
    return parseError === undefined ? { msg } : { msg, parseError };
}

/** One record in a batch message's payload (batch output). */
export interface BatchItem {
    value: Buffer | string | unknown;
    key: Buffer | string | null;
    headers: Record<string, string | string[]>;
    timestamp: number;
    offset: number;
}

export interface BatchMessage {
    _msgid: string;
    payload: BatchItem[];
    /** the partition of every record in it, and its first and last offsets */
    attribute: { topic: string; partition: number; offset: number; lastOffset: number; count: number };
    topic: string;
    kafka?: { highWaterOffset: number };
    /** the receipt of every record in the batch (offsets, and with acknowledgement the handing-outs) */
    _kafka: BatchReceipt;
}

export interface BatchReceipt {
    consumer: string;
    topic: string;
    partition: number;
    offsets: number[];
    seqs?: number[];
}

/**
 * Batch output: records of one partition as one message. `withSeq`: put each
 * handing-out's number on the receipt (acknowledged modes). Records whose value
 * is not JSON (format json) keep the string, and the first such error is returned.
 */
export function recordsToBatchMessage(
    items: { record: RecordIn; seq: number }[], format: PayloadFormat, consumer: string, msgid: string, withSeq: boolean,
): { msg: BatchMessage; parseError?: string } {
    let parseError: string | undefined;
    const payload: BatchItem[] = items.map(({ record }) => {
        const { msg, parseError: e } = recordToMessage(record, format, consumer, msgid);
        if (e !== undefined && parseError === undefined) parseError = `offset ${record.offset}: ${e}`;
        return { value: msg.payload, key: msg.key, headers: msg.headers, timestamp: msg.timestamp, offset: msg.attribute.offset };
    });
    const first = items[0].record;
    const last = items[items.length - 1].record;
    const offsets = payload.map((p) => p.offset);
    const msg: BatchMessage = {
        _msgid: msgid,
        payload,
        attribute: { topic: first.topic, partition: first.partition, offset: Number(first.offset), lastOffset: Number(last.offset), count: items.length },
        topic: first.topic,
        _kafka: withSeq
            ? { consumer, topic: first.topic, partition: first.partition, offsets, seqs: items.map((i) => i.seq) }
            : { consumer, topic: first.topic, partition: first.partition, offsets },
    };
    if (last.highWaterOffset !== undefined) msg.kafka = { highWaterOffset: Number(last.highWaterOffset) };
    return parseError === undefined ? { msg } : { msg, parseError };
}

/**
 * The records an acknowledging message refers to: every record of a batch
 * message's receipt, or the one record of ackFor. Null when it carries none.
 */
export function acksFor(
    msg: { _kafka?: unknown; attribute?: unknown },
    consumer: string,
): { topic: string; partition: number; offset: string; seq?: number }[] | null {
    const receipt = msg._kafka as { consumer?: unknown; topic?: unknown; partition?: unknown; offsets?: unknown; seqs?: unknown } | undefined;
    if (receipt && typeof receipt === 'object' && Array.isArray(receipt.offsets)) {
        if (receipt.consumer !== consumer) return null;
        const seqs = Array.isArray(receipt.seqs) ? receipt.seqs : null;
        const refs: { topic: string; partition: number; offset: string; seq?: number }[] = [];
        receipt.offsets.forEach((offset: unknown, i: number) => {
            const c = ackCoordinates({ topic: receipt.topic, partition: receipt.partition, offset });
            if (!c) return;
            refs.push(seqs && typeof seqs[i] === 'number' ? { ...c, seq: seqs[i] as number } : c);
        });
        return refs.length ? refs : null;
    }
    const one = ackFor(msg, consumer);
    return one ? [one] : null;
}

/**
 * The record an acknowledging message refers to: its receipt (msg._kafka) when it
 * has one, else msg.attribute. Null when it carries none, or when the receipt
 * names another consumer node.
 */
export function ackFor(
    msg: { _kafka?: unknown; attribute?: unknown },
    consumer: string,
): { topic: string; partition: number; offset: string; seq?: number } | null {
    const receipt = msg._kafka as { consumer?: unknown; seq?: unknown } | undefined;
    if (receipt && typeof receipt === 'object') {
        if (receipt.consumer !== consumer) return null;
        const c = ackCoordinates(receipt);
        return c && typeof receipt.seq === 'number' ? { ...c, seq: receipt.seq } : c;
    }
    return ackCoordinates(msg.attribute);
}

/** Coordinates carried back by an acknowledging message, or null when it carries none. */
export function ackCoordinates(attribute: unknown): { topic: string; partition: number; offset: string } | null {
    if (!attribute || typeof attribute !== 'object') return null;
    const a = attribute as Record<string, unknown>;
    const offset = typeof a.offset === 'number' || typeof a.offset === 'string' ? String(a.offset) : '';
    const partition = Number(a.partition);
    if (typeof a.topic !== 'string' || !a.topic || !Number.isInteger(partition) || !/^\d+$/.test(offset)) return null;
    return { topic: a.topic, partition, offset };
}
