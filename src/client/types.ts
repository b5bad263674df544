// The seam between the nodes and the Kafka client library. The nodes import only
// these types and `createClient` (./index.ts); everything kafkajs-specific lives
// in ./kafkajs*.ts, so another client can replace it without touching the nodes.
// What the engine and the publisher need from a client is declared beside them
// (lib/consumer-client.ts, lib/producer-client.ts); this seam only implements it.
import type { ConnectionOptions } from 'tls';
import type { KafkaSettings } from '../lib/settings';
import type { NodeLogLevel } from '../lib/kafkajs-options';
import type { ConsumerClient, ConsumerOptions } from '../lib/consumer-client';
import type { ProducerClient, TransactionalProducer } from '../lib/producer-client';
import type { ClusterOverview } from '../lib/cluster-overview';

export type { ClusterOverview };

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

/** Where ListOffsets looks: either end of the partition, or the first record at or after a time (ms). */
export type OffsetSpec = 'earliest' | 'latest' | { timestamp: number };

export interface ConnectionEvent {
    /** host:port as kafkajs dialled it */
    address: string;
    /** connected; refused (never connected); lost (was connected, the broker side closed or reset it) */
    kind: 'connected' | 'refused' | 'lost';
    /** the socket error, when there was one */
    cause?: string;
}

export type ConnectionListener = (e: ConnectionEvent) => void;

/** What a client finds about its own broker connections, for the config node. */
export interface ConnectionWatch {
    /** Tells `listener` about every broker connection made, refused or lost; returns an unsubscribe function. */
    onConnectionEvent(listener: ConnectionListener): () => void;
    /** Broker sockets open now (all of this client's admin, producers and consumers). */
    readonly openSockets: number;
}

export interface KafkaClient extends ConnectionWatch {
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
    /** A producer of Kafka transactions with this transactional id (idempotent, acks all). */
    createTransactionalProducer(transactionalId: string): TransactionalProducer;
    /** A consumer-group member (see lib/consumer-client.ts). */
    createConsumer(options: ConsumerOptions): ConsumerClient;
    /** The client id the cluster sees (consumers add their node and instance to it). */
    readonly clientId: string;
    /** This process, as group member ids name it. */
    readonly instance: { host: string; pid: number };
    /** Each partition's offset at an end or at a time (Kafka's ListOffsets). */
    listOffsets(topic: string, at: OffsetSpec): Promise<{ partition: number; offset: string }[]>;
    /** The cluster, its topics (these groups' first) and these consumer groups with their committed offsets. */
    overview(groups: string[]): Promise<ClusterOverview>;
}
