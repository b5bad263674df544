// What the write path (./publisher) needs from a Kafka client. The client seam
// (src/client/) implements it; nothing here knows which client library is used.

/** A record to write. The partition is chosen before sending (see ./partitioner). */
export interface OutgoingRecord {
    partition: number;
    key: Buffer | string | null;
    value: Buffer | string | null;
    headers?: Record<string, Buffer | string>;
    timestamp?: string;
}

export interface TopicRecords {
    topic: string;
    records: OutgoingRecord[];
}

/** What the broker answered for one topic-partition of a produce request. */
export interface PartitionWriteResult {
    topic: string;
    partition: number;
    /** The offset of the first record written to this partition by the request; '-1' when acks=None. */
    baseOffset: string;
}

export interface SendOptions {
    /** 0 (none), 1 (leader), -1 (all) */
    acks: number;
    /** ms the broker waits for the acks */
    timeout: number;
    compression: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
}

export interface ProducerClient {
    connect(): Promise<void>;
    disconnect(): Promise<void>;
    /** One produce round (one request per broker leader). Records keep their order per partition. */
    send(batches: TopicRecords[], options: SendOptions): Promise<PartitionWriteResult[]>;
    /** Called once per produce request sent to a broker; returns an unsubscribe function. */
    onProduceRequest(listener: () => void): () => void;
}

/** One Kafka transaction of a transactional producer. */
export interface ProducerTransaction {
    /** Writes records inside the transaction (acks all, compression as given). */
    send(batches: TopicRecords[], options: Pick<SendOptions, 'timeout' | 'compression'>): Promise<PartitionWriteResult[]>;
    /** Adds a consumer group's offsets to the transaction: they are committed with it, or not at all. */
    sendOffsets(groupId: string, offsets: { topic: string; partition: number; offset: string }[]): Promise<void>;
    commit(): Promise<void>;
    abort(): Promise<void>;
}

/**
 * A producer with a transactional id. Connecting fences every earlier producer
 * with the same id: a transaction it left open is aborted and it can commit
 * nothing more.
 */
export interface TransactionalProducer {
    connect(): Promise<void>;
    begin(): Promise<ProducerTransaction>;
    disconnect(): Promise<void>;
}
