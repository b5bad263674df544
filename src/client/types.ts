// The seam between the nodes and the Kafka client library. The nodes import only
// these types and `createClient` (./index.ts); everything kafkajs-specific lives
// in ./kafkajs*.ts, so another client can replace it without touching the nodes.
import type { ConnectionOptions } from 'tls';
import type { KafkaSettings } from '../lib/settings';
import type { NodeLogLevel } from '../lib/kafkajs-options';
import type { ConsumerClient, ConsumerOptions } from './consumer-types';

export type LogSink = (level: NodeLogLevel, message: string) => void;

export interface ClientInit {
    settings: KafkaSettings;
    /** From the tls-config node, when TLS is on. */
    tls: ConnectionOptions | null;
    log: LogSink;
}

export interface ClusterInfo {
    clusterId: string;
    controller: number | null;
    brokers: { nodeId: number; host: string; port: number }[];
    /** The Kafka version the cluster reports (e.g. "3.9"), when it can be told. */
    version: string | null;
}

export interface TopicPartitionOffset {
    topic: string;
    partition: number;
    /** A decimal string: offsets are int64. */
    offset: string;
}

/** A record to write. The partition is chosen before sending (see lib/partitioner). */
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

export interface KafkaClient {
    /** Connects the admin connection: proves the cluster is reachable and the credentials are accepted. */
    connect(): Promise<ClusterInfo>;
    disconnect(): Promise<void>;
    /**
     * Partition ids of a topic, or null when the topic does not exist. With `autoCreate`
     * a missing topic is asked for the way a producer asks (a metadata request that
     * allows auto-creation, when the producer settings allow it): a cluster with
     * auto.create.topics.enable creates it; null when it still does not exist.
     */
    partitionsFor(topic: string, options?: { autoCreate?: boolean }): Promise<number[] | null>;
    listTopics(): Promise<string[]>;
    createProducer(): ProducerClient;
    /** A consumer-group member (see ./consumer-types.ts). */
    createConsumer(options: ConsumerOptions): ConsumerClient;
}
