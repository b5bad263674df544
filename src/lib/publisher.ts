// The shared write path of one kafka-config node: chooses each record's partition
// when it is queued, batches records (./batcher), sends each batch as one produce
// round and gives every record its own offset: the partition's base offset from
// the broker plus the record's place among that partition's records in the request.
import type {
    ProducerClient, SendOptions, TopicRecords, OutgoingRecord, PartitionWriteResult, ProducerTransaction,
} from './producer-client';
import type { ProducerSettings } from './settings';
import { acksValue } from './kafkajs-options';
import { Batcher, realClock } from './batcher';
import type { Clock, Queued } from './batcher';
import { choosePartition, RoundRobin } from './partitioner';
import type { PublishRecord } from './publish-input';
import type { Problem } from './settings';
import { causedBy } from './errors';

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

/** The broker's answer did not cover the record's partition: the record may not be written. */
export class UnacknowledgedError extends Error {
    readonly retriable = true;
    constructor(readonly topic: string, readonly partition: number) {
        super(`No acknowledgement for ${topic} [${partition}]: the record may not have been written (the partition's leader moved during the request)`);
        this.name = 'UnacknowledgedError';
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
}

/** How long a topic's partition list is trusted before it is read again. */
const METADATA_MAX_AGE_MS = 60000;

/** Told once per record: where it was written, or why not. */
export type Written = (err: unknown, written?: WrittenRecord) => void;

/** A queued record, with the record handed to the client as it will go (built once, not copied again). */
interface Pending extends Queued {
    message: OutgoingRecord;
    /** the record's place among its partition's records in its request */
    index: number;
    cb: Written;
}

/** One record's answer; a listener that throws does not keep the others from theirs. */
function answer(cb: Written, err: unknown, written?: WrittenRecord): void {
    try {
        cb(err, written);
    } catch {
        // the listener's own failure is its own to report
    }
}

/** Kafka's default socket.request.max.bytes is 100 MiB; stay well under it. */
const MAX_REQUEST_BYTES = 64 * 1024 * 1024;

export class Publisher {
    private readonly batcher: Batcher<Pending>;
    private readonly roundRobin = new RoundRobin();
    private readonly partitions = new Map<string, { ids: number[]; at: number }>();
    private readonly lookups = new Map<string, Promise<number[] | null>>();
    private readonly options: SendOptions;
    /** Each open transaction's records waiting for its next request, and whether one is under way. */
    private readonly inTxn = new Map<ProducerTransaction, { queue: Pending[]; busy: boolean }>();
    /** records the broker acknowledged (or, with acks None, that were sent) */
    written = 0;
    failed = 0;

    constructor(private readonly init: PublisherInit) {
        const s = init.settings;
        this.options = { acks: acksValue(s.requiredAcks), timeout: s.requestTimeout, compression: s.compression };
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

    /** Queues a record; `cb` is told where it was written once the broker acknowledged it. */
    publish(record: PublishRecord, cb: Written): void {
        this.place(record, cb, (message) => this.batcher.add({ topic: record.topic, partition: message.partition, size: record.size, message, index: 0, cb }));
    }

    /**
     * Writes a record inside a Kafka transaction (exactly-once mode). A transaction
     * has one request under way at a time (the client's record numbers need it):
     * records that arrive in the same turn of the event loop, or while its request
     * is under way, go out together in its next request.
     */
    publishIn(txn: ProducerTransaction, record: PublishRecord, cb: Written): void {
        this.place(record, cb, (message) => {
            let t = this.inTxn.get(txn);
            if (!t) this.inTxn.set(txn, t = { queue: [], busy: false });
            t.queue.push({ topic: record.topic, partition: message.partition, size: record.size, message, index: 0, cb });
            if (!t.busy && t.queue.length === 1) setImmediate(() => this.sendInTxn(txn));
        });
    }

    /** Sends a transaction's waiting records (up to a request's worth), then what waited meanwhile. */
    private sendInTxn(txn: ProducerTransaction): void {
        const t = this.inTxn.get(txn);
        if (!t || t.busy) return;
        if (!t.queue.length) {
            this.inTxn.delete(txn);
            return;
        }
        // One request stays within the broker's largest batch: at least one record.
        let bytes = 0;
        let n = 0;
        while (n < t.queue.length && (n === 0 || bytes + t.queue[n].size <= this.init.settings.maxMessageBytes)) bytes += t.queue[n++].size;
        const batch = t.queue.splice(0, n);
        t.busy = true;
        void this.sendVia(batch, (request) => txn.send(request, this.options), -1).finally(() => {
            t.busy = false;
            this.sendInTxn(txn);
        });
    }

    /** Chooses the record's partition (reading the topic's partitions when needed), then hands it on. */
    private place(record: PublishRecord, cb: Written, then: (message: OutgoingRecord) => void): void {
        const cached = this.partitions.get(record.topic);
        // The synchronous path keeps arrival order when the partition list is known.
        if (cached && Date.now() - cached.at < METADATA_MAX_AGE_MS &&
            (record.partition === null || cached.ids.includes(record.partition))) {
            then(this.message(record, cached.ids));
            return;
        }
        this.lookup(record.topic).then((ids) => {
            if (!ids) throw new UnknownTopicError(this.init.unknownTopic(record.topic));
            if (record.partition !== null && !ids.includes(record.partition)) {
                throw new PlacementProblem({
                    key: 'no-such-partition',
                    params: { partition: record.partition, topic: record.topic, count: ids.length },
                });
            }
            then(this.message(record, ids));
        }).catch((err: unknown) => answer(cb, err));
    }

    /** Sends everything queued and waits for the answers. */
    drain(): Promise<void> {
        return this.batcher.drain();
    }

    private message(record: PublishRecord, ids: number[]): OutgoingRecord {
        const partition = record.partition ?? choosePartition(record.topic, record.key, ids, this.roundRobin);
        // Only the fields the client reads, and headers only when there are some: the
        // client copies each record's own properties once more while encoding it.
        return record.headers
            ? { partition, key: record.key, value: record.value, headers: record.headers as OutgoingRecord['headers'] }
            : { partition, key: record.key, value: record.value };
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

    private send(batch: Pending[]): Promise<void> {
        return this.sendVia(batch, async (request) => (await this.init.producer()).send(request, this.options), this.options.acks);
    }

    /** Sends a batch as one request through `sender` and answers each record with its own offset. */
    private async sendVia(batch: Pending[], sender: (request: TopicRecords[]) => Promise<PartitionWriteResult[]>, acks: number): Promise<void> {
        // Group by topic, keeping each partition's records in queue order, and note
        // each record's place among its partition's records in the request.
        const topics = new Map<string, { records: OutgoingRecord[]; counts: number[] }>();
        for (let n = 0; n < batch.length; n++) {
            const item = batch[n];
            let t = topics.get(item.topic);
            if (!t) topics.set(item.topic, t = { records: [], counts: [] });
            t.records.push(item.message);
            item.index = t.counts[item.partition] ?? 0;
            t.counts[item.partition] = item.index + 1;
        }
        const request: TopicRecords[] = [];
        for (const [topic, t] of topics) request.push({ topic, records: t.records });
        let results: PartitionWriteResult[];
        try {
            results = await sender(request);
        } catch (err) {
            // A topic that lost or changed partitions is read again before its next record.
            if (causedBy(err, 'UNKNOWN_TOPIC_OR_PARTITION', 'NOT_LEADER_FOR_PARTITION', 'NOT_LEADER_OR_FOLLOWER')) {
                for (const t of topics.keys()) this.partitions.delete(t);
            }
            this.failed += batch.length;
            for (let n = 0; n < batch.length; n++) answer(batch[n].cb, err);
            return;
        }
        // Each partition's base offset, read once per partition rather than per record.
        const bases = new Map<string, (number | bigint | undefined)[]>();
        for (const r of results) {
            let list = bases.get(r.topic);
            if (!list) bases.set(r.topic, list = []);
            if (acks !== 0 && r.baseOffset !== '-1') {
                const big = BigInt(r.baseOffset);
                list[r.partition] = big <= BigInt(Number.MAX_SAFE_INTEGER) - BigInt(batch.length) ? Number(big) : big;
            }
        }
        for (let n = 0; n < batch.length; n++) {
            const item = batch[n];
            const base = bases.get(item.topic)?.[item.partition];
            if (base === undefined && acks !== 0) {
                // The client answered without this partition: kafkajs 2.2.4, retrying a
                // request after a leader moved, skips a partition whose new leader had
                // already answered for others, and reports success. Not written: say so.
                this.failed++;
                this.partitions.delete(item.topic);
                answer(item.cb, new UnacknowledgedError(item.topic, item.partition));
                continue;
            }
            this.written++;
            const offset = base === undefined ? -1 : typeof base === 'number' ? base + item.index : Number(base + BigInt(item.index));
            answer(item.cb, null, { topic: item.topic, partition: item.partition, offset });
        }
    }
}
