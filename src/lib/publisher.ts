// The shared write path of one kafka-config node: chooses each record's partition
// when it is queued, batches records (./batcher), sends each batch as one produce
// round and gives every record its own offset: the partition's base offset from
// the broker plus the record's place among that partition's records in the request.
import type { ProducerClient, SendOptions, TopicRecords, OutgoingRecord } from '../client/types';
import type { ProducerSettings } from './settings';
import { acksValue } from './kafkajs-options';
import { Batcher, realClock } from './batcher';
import type { Clock, Queued } from './batcher';
import { choosePartition, RoundRobin } from './partitioner';
import type { PublishRecord } from './publish-input';
import type { Problem } from './settings';

export interface WrittenRecord {
    topic: string;
    partition: number;
    /** -1 when acks is None: the broker answers nothing */
    offset: number;
}

/** Bad input found while placing a record (an explicit partition the topic does not have). */
export class PlacementProblem extends Error {
    constructor(readonly problem: Problem) {
        super(problem.key);
        this.name = 'PlacementProblem';
    }
}

/** The topic is not on the cluster: a runtime error shaped like the broker's own. */
export class UnknownTopicError extends Error {
    readonly type = 'UNKNOWN_TOPIC_OR_PARTITION';
    constructor(message: string) {
        super(message);
        this.name = 'UnknownTopicError';
    }
}

export interface PublisherInit {
    settings: ProducerSettings;
    producer: () => Promise<ProducerClient>;
    /** partition ids of a topic (ascending), null when it does not exist */
    partitionsFor: (topic: string) => Promise<number[] | null>;
    /** the message of UnknownTopicError */
    unknownTopic: (topic: string) => string;
    clock?: Clock;
    /** how long a topic's partition list is trusted before it is read again */
    metadataMaxAgeMs?: number;
}

interface Pending extends Queued {
    record: PublishRecord;
    resolve: (w: WrittenRecord) => void;
    reject: (err: unknown) => void;
}

/** Kafka's default socket.request.max.bytes is 100 MiB; stay well under it. */
const MAX_REQUEST_BYTES = 64 * 1024 * 1024;

export class Publisher {
    private readonly batcher: Batcher<Pending>;
    private readonly roundRobin = new RoundRobin();
    private readonly partitions = new Map<string, { ids: number[]; at: number }>();
    private readonly lookups = new Map<string, Promise<number[] | null>>();
    private readonly options: SendOptions;
    private readonly maxAge: number;
    /** records the broker acknowledged (or, with acks None, that were sent) */
    written = 0;
    failed = 0;

    constructor(private readonly init: PublisherInit) {
        const s = init.settings;
        this.options = { acks: acksValue(s.requiredAcks), timeout: s.requestTimeout, compression: s.compression };
        this.maxAge = init.metadataMaxAgeMs ?? 60000;
        this.batcher = new Batcher<Pending>({
            flushBytes: s.flushBytes,
            flushMessages: s.flushMessages,
            flushFrequency: s.flushFrequency,
            flushMaxMessages: s.flushMaxMessages,
            maxBatchBytes: s.maxMessageBytes,
            maxRequestBytes: Math.max(MAX_REQUEST_BYTES, s.maxMessageBytes),
        }, (batch) => this.send(batch), init.clock ?? realClock);
    }

    get queued(): number {
        return this.batcher.queued;
    }

    /** Queues a record; resolves with where it was written once the broker acknowledged it. */
    publish(record: PublishRecord): Promise<WrittenRecord> {
        const cached = this.partitions.get(record.topic);
        // The synchronous path keeps arrival order when the partition list is known.
        if (cached && Date.now() - cached.at < this.maxAge &&
            (record.partition === null || cached.ids.includes(record.partition))) {
            return this.enqueue(record, cached.ids);
        }
        return this.lookup(record.topic).then(async (ids) => {
            if (!ids) throw new UnknownTopicError(this.init.unknownTopic(record.topic));
            if (record.partition !== null && !ids.includes(record.partition)) {
                throw new PlacementProblem({
                    key: 'no-such-partition',
                    params: { partition: record.partition, topic: record.topic, count: ids.length },
                });
            }
            return this.enqueue(record, ids);
        });
    }

    /** Sends everything queued and waits for the answers. */
    drain(): Promise<void> {
        return this.batcher.drain();
    }

    private enqueue(record: PublishRecord, ids: number[]): Promise<WrittenRecord> {
        const partition = record.partition ?? choosePartition(record.topic, record.key, ids, this.roundRobin);
        return new Promise<WrittenRecord>((resolve, reject) => {
            this.batcher.add({ topic: record.topic, partition, size: record.size, record, resolve, reject });
        });
    }

    /** Reads a topic's partitions again (one read per topic at a time). */
    private lookup(topic: string): Promise<number[] | null> {
        let p = this.lookups.get(topic);
        if (!p) {
            p = this.init.partitionsFor(topic).then((ids) => {
                if (ids && ids.length) this.partitions.set(topic, { ids, at: Date.now() });
                else this.partitions.delete(topic);
                return ids && ids.length ? ids : null;
            }).finally(() => this.lookups.delete(topic));
            this.lookups.set(topic, p);
        }
        return p;
    }

    private async send(batch: Pending[]): Promise<void> {
        // Group by topic, keeping each partition's records in queue order.
        const topics = new Map<string, OutgoingRecord[]>();
        const index: number[] = [];
        const perPartition = new Map<string, number>();
        for (const item of batch) {
            const r = item.record;
            let records = topics.get(item.topic);
            if (!records) topics.set(item.topic, records = []);
            records.push({ partition: item.partition, key: r.key, value: r.value, headers: r.headers as OutgoingRecord['headers'] });
            const k = `${item.partition}\u0000${item.topic}`;
            const i = perPartition.get(k) ?? 0;
            perPartition.set(k, i + 1);
            index.push(i);
        }
        const request: TopicRecords[] = [...topics].map(([topic, records]) => ({ topic, records }));
        try {
            const producer = await this.init.producer();
            const results = await producer.send(request, this.options);
            const base = new Map<string, string>();
            for (const r of results) base.set(`${r.partition}\u0000${r.topic}`, r.baseOffset);
            batch.forEach((item, n) => {
                const b = base.get(`${item.partition}\u0000${item.topic}`);
                const offset = this.options.acks === 0 || b === undefined || b === '-1' ? -1 : Number(BigInt(b) + BigInt(index[n]));
                item.resolve({ topic: item.topic, partition: item.partition, offset });
            });
            this.written += batch.length;
        } catch (err) {
            // A topic that lost or changed partitions is read again before its next record.
            if ((err as { type?: string }).type === 'UNKNOWN_TOPIC_OR_PARTITION' ||
                /UNKNOWN_TOPIC_OR_PARTITION|NOT_LEADER/.test(String((err as { type?: string }).type))) {
                for (const t of topics.keys()) this.partitions.delete(t);
            }
            this.failed += batch.length;
            for (const item of batch) item.reject(err);
        }
    }
}
