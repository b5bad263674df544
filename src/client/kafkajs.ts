// The kafkajs implementation of the client seam.
import { Kafka, logLevel as KafkaLogLevel, CompressionTypes, ConfigResourceTypes } from 'kafkajs';
import type { Admin, Producer, logCreator } from 'kafkajs';
import './codecs';
import { KafkajsConsumer } from './kafkajs-consumer';
import type { ConsumerClient, ConsumerOptions } from './consumer-types';
import { clientConfig, producerConfig, nodeLogLevel, compressionCode } from '../lib/kafkajs-options';
import type {
    ClientInit, ClusterInfo, KafkaClient, LogSink, ProducerClient, SendOptions, TopicRecords, PartitionWriteResult,
} from './types';

function makeLogCreator(sink: LogSink): logCreator {
    return () => ({ namespace, level, log }) => {
        const { message, ...extra } = log as { message: string; [k: string]: unknown };
        delete extra.timestamp;
        delete extra.logger;
        const detail = Object.keys(extra).length ? ` ${JSON.stringify(extra)}` : '';
        sink(nodeLogLevel(level), `[kafkajs ${namespace}] ${message}${detail}`);
    };
}

class KafkajsProducer implements ProducerClient {
    private readonly producer: Producer;

    constructor(kafka: Kafka, init: ClientInit) {
        this.producer = kafka.producer(producerConfig(init.settings.producer));
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
            topicMessages: batches.map((b) => ({
                topic: b.topic,
                messages: b.records.map((r) => ({
                    partition: r.partition,
                    key: r.key,
                    value: r.value,
                    headers: r.headers,
                    timestamp: r.timestamp,
                })),
            })),
        });
        return result.map((r) => ({
            topic: r.topicName,
            partition: r.partition,
            baseOffset: options.acks === 0 || r.baseOffset === undefined ? '-1' : String(r.baseOffset),
        }));
    }

    onProduceRequest(listener: () => void): () => void {
        return this.producer.on(this.producer.events.REQUEST, (e: { payload: { apiName: string } }) => {
            if (e.payload.apiName === 'Produce') listener();
        });
    }
}

export class KafkajsClient implements KafkaClient {
    readonly kafka: Kafka;
    private admin: Admin | null = null;
    private adminConnecting: Promise<void> | null = null;

    constructor(private readonly init: ClientInit) {
        const { settings, tls, log } = init;
        this.kafka = new Kafka({
            ...clientConfig(settings.connection, settings.consumer, tls),
            logLevel: KafkaLogLevel.INFO,
            logCreator: makeLogCreator(log),
        });
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
        this.admin = null;
        if (admin) await admin.disconnect();
    }

    /** The admin connection once connected: a connect under way is waited for, never used half-open. */
    private async connectedAdmin(): Promise<Admin> {
        if (this.admin && this.adminConnecting) await this.adminConnecting.catch(() => undefined);
        if (!this.admin) await this.connect();
        return this.admin!;
    }

    async partitionsFor(topic: string): Promise<number[] | null> {
        const admin = await this.connectedAdmin();
        try {
            const md = await admin.fetchTopicMetadata({ topics: [topic] });
            const t = md.topics.find((x) => x.name === topic);
            return t ? t.partitions.map((p) => p.partitionId).sort((a, b) => a - b) : null;
        } catch (err) {
            if ((err as { type?: string }).type === 'UNKNOWN_TOPIC_OR_PARTITION') return null;
            throw err;
        }
    }

    async listTopics(): Promise<string[]> {
        if (!this.admin) await this.connect();
        return this.admin!.listTopics();
    }

    createConsumer(options: ConsumerOptions): ConsumerClient {
        return new KafkajsConsumer(this.kafka, options);
    }

    createProducer(): ProducerClient {
        return new KafkajsProducer(this.kafka, this.init);
    }
}
