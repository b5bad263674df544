// The kafkajs implementation of the client seam.
import { hostname } from 'os';
import { Kafka, logLevel as KafkaLogLevel, CompressionTypes, ConfigResourceTypes, Partitioners } from 'kafkajs';
import type { Admin, Producer, Message, RecordMetadata, Transaction, logCreator, KafkaConfig } from 'kafkajs';
import './codecs';
import { KafkajsConsumer } from './kafkajs-consumer';
import type { ConsumerClient, ConsumerOptions, CommittedOffset, PartitionAssignment } from '../lib/consumer-client';
import type {
    ProducerClient, SendOptions, TopicRecords, PartitionWriteResult, TransactionalProducer, ProducerTransaction,
} from '../lib/producer-client';
import { SocketWatch } from './connection-watch';
import { mendCoordinatorFailover } from './kafkajs-coordinator';
import { mendReadCommitted } from './kafkajs-aborted';
import { mendConcurrentConnects } from './kafkajs-connect';
import { mendFetchRetry } from './kafkajs-fetch-retry';
import { mendAbandonedJoins } from './kafkajs-ghosts';
import { mendTransactionalWrites } from './kafkajs-txn-writes';
import { clientConfig, producerConfig, nodeLogLevel, compressionCode } from '../lib/kafkajs-options';
import { causedBy } from '../lib/errors';
import type { ClientInit, ClusterInfo, KafkaClient, LogSink, ConnectionListener, ClusterOverview, OffsetSpec } from './types';
import { readOverview } from './kafkajs-admin';
import { oneRequestAtATime } from './one-request-at-a-time';

mendCoordinatorFailover();
mendReadCommitted();
mendConcurrentConnects();
mendFetchRetry();
mendAbandonedJoins();
mendTransactionalWrites();

function makeLogCreator(sink: LogSink): logCreator {
    return () => ({ namespace, level, log }) => {
        const { message, ...extra } = log as { message: string; [k: string]: unknown };
        delete extra.timestamp;
        delete extra.logger;
        const detail = Object.keys(extra).length ? ` ${JSON.stringify(extra)}` : '';
        const line = `[kafkajs ${namespace}] ${message}${detail}`;
        sink(nodeLogLevel(level, line), line);
    };
}

/** How long a topic the cluster auto-creates is waited for. */
const AUTO_CREATE_WAIT_MS = 5000;

class KafkajsProducer implements ProducerClient {
    private readonly producer: Producer;

    constructor(kafka: Kafka, init: ClientInit) {
        // Every record arrives with its partition chosen (lib/partitioner); naming the
        // partitioner also keeps kafkajs from warning about its v2 default change.
        this.producer = kafka.producer({ ...producerConfig(init.settings.producer), createPartitioner: Partitioners.DefaultPartitioner });
    }

    connect(): Promise<void> {
        return this.producer.connect();
    }

    disconnect(): Promise<void> {
        return this.producer.disconnect();
    }

    async send(batches: TopicRecords[], options: SendOptions): Promise<PartitionWriteResult[]> {
        const result = await this.producer.sendBatch({
            acks: options.acks,
            timeout: options.timeout,
            compression: compressionCode(options.compression) as CompressionTypes,
            // The records are kafkajs messages as they are (partition, key, value, headers,
            // timestamp): handed over without another per-record copy.
            topicMessages: batches.map((b) => ({ topic: b.topic, messages: b.records as Message[] })),
        });
        return writeResults(result, options.acks);
    }

    onProduceRequest(listener: () => void): () => void {
        return this.producer.on(this.producer.events.REQUEST, (e: { payload: { apiName: string } }) => {
            if (e.payload.apiName === 'Produce') listener();
        });
    }
}

function writeResults(result: RecordMetadata[], acks: number): PartitionWriteResult[] {
    return result.map((r) => ({
        topic: r.topicName,
        partition: r.partition,
        baseOffset: acks === 0 || r.baseOffset === undefined ? '-1' : String(r.baseOffset),
    }));
}

/**
 * One transactional id's producer. After a transaction in which a write failed
 * (or was answered without one of its partitions),
 * the next one starts on a new kafkajs producer (InitProducerId again: a new epoch,
 * record numbers from 0). kafkajs takes a failed request's record numbers back
 * even when the broker had written it; a partition left out of a retry (see
 * UnacknowledgedError in lib/publisher) keeps numbers the broker has already
 * seen, and the next transaction's first write there would be taken for a copy
 * and dropped, or refused as out of order every time.
 */
export class KafkajsTransactionalProducer implements TransactionalProducer {
    private producer: Producer;
    /** A write of the last transaction failed: its numbers may no longer be the broker's. */
    private numbersSuspect = false;

    constructor(private readonly kafka: Pick<Kafka, 'producer'>, private readonly init: ClientInit, private readonly transactionalId: string) {
        this.producer = this.make();
    }

    private make(): Producer {
        return this.kafka.producer({
            ...producerConfig({ ...this.init.settings.producer, idempotent: true, requiredAcks: 'all' }),
            transactionalId: this.transactionalId,
            idempotent: true,
            maxInFlightRequests: 1,
            createPartitioner: Partitioners.DefaultPartitioner,
        });
    }

    connect(): Promise<void> {
        return this.producer.connect();
    }

    disconnect(): Promise<void> {
        return this.producer.disconnect();
    }

    async begin(): Promise<ProducerTransaction> {
        if (this.numbersSuspect) {
            const old = this.producer;
            this.producer = this.make();
            await old.disconnect().catch(() => undefined);
            await this.producer.connect();
            this.numbersSuspect = false;
        }
        const txn: Transaction = await this.producer.transaction();
        return oneRequestAtATime({
            send: async (batches, options) => {
                let written: PartitionWriteResult[];
                try {
                    written = writeResults(await txn.sendBatch({
                        acks: -1,
                        timeout: options.timeout,
                        compression: compressionCode(options.compression) as CompressionTypes,
                        topicMessages: batches.map((b) => ({ topic: b.topic, messages: b.records as Message[] })),
                    }), -1);
                } catch (err) {
                    this.numbersSuspect = true;
                    throw err;
                }
                // A partition the answer leaves out was in a request that failed (its numbers
                // were taken back) and was skipped by the retry: the broker may hold it.
                const answered = new Set(written.map((w) => `${w.topic}\0${w.partition}`));
                if (batches.some((b) => b.records.some((r) => !answered.has(`${b.topic}\0${r.partition}`)))) this.numbersSuspect = true;
                return written;
            },
            sendOffsets: (groupId, offsets) => {
                const topics = new Map<string, { partition: number; offset: string }[]>();
                for (const o of offsets) topics.set(o.topic, [...(topics.get(o.topic) ?? []), { partition: o.partition, offset: o.offset }]);
                return txn.sendOffsets({ consumerGroupId: groupId, topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })) });
            },
            commit: () => txn.commit(),
            abort: () => txn.abort(),
        });
    }
}

export class KafkajsClient implements KafkaClient {
    readonly kafka: Kafka;
    /** What every Kafka instance of this client is made from (consumers with their own client id get one each). */
    private readonly kafkaConfig: KafkaConfig;
    private readonly watch = new SocketWatch();
    private admin: Admin | null = null;
    private adminConnecting: Promise<void> | null = null;
    private loader: Promise<Producer> | null = null;

    constructor(private readonly init: ClientInit) {
        const { settings, tls, log } = init;
        this.kafkaConfig = {
            ...clientConfig(settings.connection, settings.consumer, tls),
            logLevel: KafkaLogLevel.INFO,
            logCreator: makeLogCreator(log),
            socketFactory: this.watch.socketFactory,
        };
        this.kafka = new Kafka(this.kafkaConfig);
    }

    onConnectionEvent(listener: ConnectionListener): () => void {
        return this.watch.onConnectionEvent(listener);
    }

    get openSockets(): number {
        return this.watch.openSockets;
    }

    async connect(): Promise<ClusterInfo> {
        if (!this.admin) this.admin = this.kafka.admin();
        const admin = this.admin;
        try {
            this.adminConnecting = admin.connect();
            await this.adminConnecting;
            const cluster = await admin.describeCluster();
            return {
                clusterId: cluster.clusterId,
                controller: cluster.controller,
                brokers: cluster.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port })),
                version: await this.reportedVersion(admin, cluster.brokers[0]?.nodeId),
            };
        } catch (err) {
            // Leave no half-open admin connection behind a failed attempt.
            this.admin = null;
            await admin.disconnect().catch(() => undefined);
            throw err;
        }
    }

    /** The broker's inter.broker.protocol.version (e.g. "3.9-IV0") names its version; 4.x no longer has it. */
    private async reportedVersion(admin: Admin, nodeId: number | undefined): Promise<string | null> {
        if (nodeId === undefined) return null;
        try {
            const res = await admin.describeConfigs({
                includeSynonyms: false,
                resources: [{ type: ConfigResourceTypes.BROKER, name: String(nodeId), configNames: ['inter.broker.protocol.version'] }],
            });
            const entry = res.resources[0]?.configEntries.find((e) => e.configName === 'inter.broker.protocol.version');
            const m = entry ? /^(\d+\.\d+)/.exec(entry.configValue) : null;
            return m ? m[1] : null;
        } catch {
            return null;
        }
    }

    async disconnect(): Promise<void> {
        const admin = this.admin;
        const loader = this.loader;
        this.admin = null;
        this.loader = null;
        if (loader) await loader.then((p) => p.disconnect(), () => undefined).catch(() => undefined);
        if (admin) await admin.disconnect();
    }

    /** The admin connection once connected: a connect under way is waited for, never used half-open. */
    private async connectedAdmin(): Promise<Admin> {
        if (this.admin && this.adminConnecting) await this.adminConnecting.catch(() => undefined);
        if (!this.admin) await this.connect();
        return this.admin!;
    }

    async partitionsFor(topic: string, options: { autoCreate?: boolean } = {}): Promise<number[] | null> {
        const found = await this.readPartitions(topic);
        if (found || !options.autoCreate) return found;
        // A cluster that says it never creates topics is not asked (and not waited for).
        if (await this.brokerConfig('auto.create.topics.enable') === 'false') return null;
        // The admin's metadata requests never create topics; a producer's may. An empty
        // send loads the topic's metadata as sending does, and a cluster with
        // auto.create.topics.enable creates the topic then. Its first answer is still
        // "unknown topic" (the creation is under way), so it is asked again, briefly,
        // until the topic is there; a cluster that refuses (a clashing name, no right
        // to create topics) keeps answering "unknown".
        const deadline = Date.now() + AUTO_CREATE_WAIT_MS;
        for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
            try {
                await (await this.topicLoader()).sendBatch({ topicMessages: [{ topic, messages: [] }] });
                return await this.readPartitions(topic);
            } catch (err) {
                if (!causedBy(err, 'UNKNOWN_TOPIC_OR_PARTITION')) throw err;
            }
            if (Date.now() + wait > deadline) return null;
            await new Promise((resolve) => setTimeout(resolve, wait));
        }
    }

    /** A broker setting as the first broker reports it, or null when it cannot be read (e.g. no right to). */
    private async brokerConfig(name: string): Promise<string | null> {
        try {
            const admin = await this.connectedAdmin();
            const nodeId = (await admin.describeCluster()).brokers[0]?.nodeId;
            if (nodeId === undefined) return null;
            const res = await admin.describeConfigs({
                includeSynonyms: false,
                resources: [{ type: ConfigResourceTypes.BROKER, name: String(nodeId), configNames: [name] }],
            });
            return res.resources[0]?.configEntries.find((e) => e.configName === name)?.configValue ?? null;
        } catch {
            return null;
        }
    }

    private async readPartitions(topic: string): Promise<number[] | null> {
        const admin = await this.connectedAdmin();
        try {
            const md = await admin.fetchTopicMetadata({ topics: [topic] });
            const t = md.topics.find((x) => x.name === topic);
            return t && t.partitions.length ? t.partitions.map((p) => p.partitionId).sort((a, b) => a - b) : null;
        } catch (err) {
            if ((err as { type?: string }).type === 'UNKNOWN_TOPIC_OR_PARTITION') return null;
            throw err;
        }
    }

    /** A producer used only to load topic metadata with auto-creation allowed; made when first needed. */
    private topicLoader(): Promise<Producer> {
        if (!this.loader) {
            const producer = this.kafka.producer({
                allowAutoTopicCreation: true, retry: { retries: 0 }, createPartitioner: Partitioners.DefaultPartitioner,
            });
            this.loader = producer.connect().then(() => producer, (err: unknown) => {
                this.loader = null;
                throw err;
            });
        }
        return this.loader;
    }

    async listTopics(): Promise<string[]> {
        return (await this.connectedAdmin()).listTopics();
    }

    get clientId(): string {
        return this.kafkaConfig.clientId ?? 'kafkajs';
    }

    get instance(): { host: string; pid: number } {
        return { host: hostname(), pid: process.pid };
    }

    createConsumer(options: ConsumerOptions): ConsumerClient {
        // kafkajs joins a group with its Kafka instance's client id: a member that names
        // itself gets an instance of its own (a consumer has its own connections anyway).
        const kafka = options.clientId ? new Kafka({ ...this.kafkaConfig, clientId: options.clientId }) : this.kafka;
        return new KafkajsConsumer(kafka, options, (partitions) => this.committed(options.groupId, partitions));
    }

    async listOffsets(topic: string, at: OffsetSpec): Promise<{ partition: number; offset: string }[]> {
        const admin = await this.connectedAdmin();
        if (at === 'earliest' || at === 'latest') {
            return (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: at === 'earliest' ? p.low : p.high }));
        }
        // ListOffsets by time; kafkajs answers the end offset where no record is that recent.
        return (await admin.fetchTopicOffsetsByTimestamp(topic, at.timestamp)).map((p) => ({ partition: p.partition, offset: String(p.offset) }));
    }

    async overview(groups: string[]): Promise<ClusterOverview> {
        return readOverview(await this.connectedAdmin(), groups, (admin, nodeId) => this.reportedVersion(admin, nodeId));
    }

    /** A group's committed offsets with their metadata, read through the admin connection. */
    private async committed(groupId: string, partitions: PartitionAssignment[]): Promise<CommittedOffset[]> {
        const admin = await this.connectedAdmin();
        const res = await admin.fetchOffsets({ groupId, topics: partitions.map((a) => a.topic) });
        const out: CommittedOffset[] = [];
        for (const t of res) {
            const wanted = new Set(partitions.find((a) => a.topic === t.topic)?.partitions ?? []);
            for (const p of t.partitions) {
                if (wanted.has(p.partition)) out.push({ topic: t.topic, partition: p.partition, offset: p.offset, metadata: p.metadata ?? null });
            }
        }
        return out;
    }

    createProducer(): ProducerClient {
        return new KafkajsProducer(this.kafka, this.init);
    }

    createTransactionalProducer(transactionalId: string): TransactionalProducer {
        return new KafkajsTransactionalProducer(this.kafka, this.init, transactionalId);
    }
}
