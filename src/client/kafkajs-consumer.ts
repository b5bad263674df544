// The kafkajs implementation of the consumer seam, with the Range and RoundRobin
// assigners of lib/assigners.ts wrapped in kafkajs's group protocol.
import { AssignerProtocol } from 'kafkajs';
import type { Kafka, Consumer, PartitionAssigner, EachBatchPayload } from 'kafkajs';
import { consumerConfig } from '../lib/kafkajs-options';
import { ASSIGNERS } from '../lib/assigners';
import type { GroupMember } from '../lib/assigners';
import type { RebalanceStrategy } from '../lib/settings';
import { keepLeaving, leaveLingering, noteStopped } from './kafkajs-ghosts';
import type {
    ConsumerClient, ConsumerOptions, ConsumerRecord, CommittedOffset, PartitionAssignment,
} from '../lib/consumer-client';

/** How long stop() waits for a start under way (a join in progress) before it disconnects. */
const JOIN_WAIT_MS = 3000;

export type CommittedReader = (partitions: PartitionAssignment[]) => Promise<CommittedOffset[]>;

const ASSIGNER_VERSION = 0;

/** A kafkajs PartitionAssigner whose protocol name is the strategy's Kafka name. */
export function kafkajsAssigner(strategy: RebalanceStrategy): PartitionAssigner {
    return ({ cluster }) => ({
        name: strategy,
        version: ASSIGNER_VERSION,
        protocol({ topics }) {
            return { name: strategy, metadata: AssignerProtocol.MemberMetadata.encode({ version: ASSIGNER_VERSION, topics, userData: Buffer.alloc(0) }) };
        },
        async assign({ members, topics }) {
            const decoded: GroupMember[] = members.map((m) => {
                const meta = AssignerProtocol.MemberMetadata.decode(m.memberMetadata);
                return { memberId: m.memberId, topics: meta ? meta.topics : topics };
            });
            const all = new Set<string>(topics);
            decoded.forEach((m) => m.topics.forEach((t) => all.add(t)));
            const partitions: Record<string, number[]> = {};
            for (const t of all) {
                try {
                    const md = (cluster as unknown as { findTopicPartitionMetadata(t: string): { partitionId: number }[] })
                        .findTopicPartitionMetadata(t);
                    if (md && md.length) partitions[t] = md.map((p) => p.partitionId);
                } catch {
                    // a topic only another member knows: its metadata is not loaded here
                }
            }
            const result = ASSIGNERS[strategy](decoded, partitions);
            return Object.keys(result).map((memberId) => ({
                memberId,
                memberAssignment: AssignerProtocol.MemberAssignment.encode({
                    version: ASSIGNER_VERSION,
                    assignment: result[memberId],
                    userData: Buffer.alloc(0),
                }),
            }));
        },
    });
}

function headerText(v: unknown): string | string[] {
    if (Array.isArray(v)) return v.map((x) => String(Buffer.isBuffer(x) ? x.toString('utf8') : x));
    if (v === undefined || v === null) return '';
    return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

export class KafkajsConsumer implements ConsumerClient {
    private readonly consumer: Consumer;
    private stopped = false;
    private readonly unsubscribe: (() => void)[] = [];
    private memberId: string | null = null;
    private starting: Promise<void> | null = null;
    private heartbeatAt = 0;

    constructor(private readonly kafka: Kafka, private readonly options: ConsumerOptions, private readonly readCommitted: CommittedReader) {
        const s = options.settings;
        const other: RebalanceStrategy = s.rebalanceStrategy === 'range' ? 'roundrobin' : 'range';
        const base = consumerConfig(options.groupId, s);
        this.consumer = kafka.consumer({
            ...base,
            // Restarts after a crash are the node's (with its backoff and one error per episode).
            retry: { ...base.retry, restartOnFailure: async () => false },
            partitionAssigners: [kafkajsAssigner(s.rebalanceStrategy), kafkajsAssigner(other)],
        });
        const { GROUP_JOIN, CRASH, REBALANCING, HEARTBEAT } = this.consumer.events;
        this.unsubscribe.push(this.consumer.on(HEARTBEAT, () => {
            this.heartbeatAt = Date.now();
        }));
        this.unsubscribe.push(this.consumer.on(GROUP_JOIN, (e) => {
            this.memberId = e.payload.memberId;
            const a = e.payload.memberAssignment as Record<string, number[]>;
            options.onAssignment(Object.keys(a).map((topic) => ({ topic, partitions: a[topic].slice().sort((x, y) => x - y) })));
        }));
        this.unsubscribe.push(this.consumer.on(REBALANCING, () => {
            if (!this.stopped) options.onRebalancing?.();
        }));
        this.unsubscribe.push(this.consumer.on(CRASH, (e) => {
            if (!this.stopped) options.onCrash(e.payload.error);
        }));
    }

    lastHeartbeatAt(): number {
        return this.heartbeatAt;
    }

    start(): Promise<void> {
        this.starting = this.begin();
        return this.starting;
    }

    /**
     * Each step checks whether stop() came meanwhile (a node redeployed while its members
     * join): a consumer stopped before it ran must not go on and join the group, where it
     * would hold partitions with nobody handing their records out.
     */
    private async begin(): Promise<void> {
        const { options } = this;
        await leaveLingering(this.kafka, options.groupId);
        if (this.stopped) return;
        // Ids that could not leave yet go on being asked to while this member joins: the
        // coordinator holds the join until they leave or their session ends.
        void keepLeaving(this.kafka, options.groupId, () => !this.stopped && this.memberId === null, options.settings.sessionTimeout);
        await this.consumer.connect();
        if (this.stopped) return;
        await this.consumer.subscribe({ topics: options.topics, fromBeginning: options.fromBeginning });
        if (this.stopped) return;
        await this.consumer.run({
            // The node commits what was handed over (or acknowledged) itself, every commit interval.
            autoCommit: false,
            eachBatchAutoResolve: false,
            // Several partitions' batches are handed over at once, so the node can share
            // its in-flight bound among them instead of draining one partition first.
            partitionsConsumedConcurrently: Math.max(1, options.concurrency),
            eachBatch: (payload: EachBatchPayload) => this.onBatch(payload),
        });
    }

    private async onBatch(p: EachBatchPayload): Promise<void> {
        const { batch } = p;
        const records: ConsumerRecord[] = batch.messages.map((m) => {
            const headers: Record<string, string | string[]> = {};
            for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = headerText(v);
            return {
                topic: batch.topic,
                partition: batch.partition,
                offset: m.offset,
                key: m.key ?? null,
                value: m.value ?? null,
                headers,
                timestamp: m.timestamp,
                highWaterOffset: batch.highWatermark,
            };
        });
        if (!records.length) return;
        await this.options.onBatch(records, {
            isActive: () => !this.stopped && p.isRunning() && !p.isStale(),
            heartbeat: () => p.heartbeat(),
            resolveOffset: (offset) => p.resolveOffset(offset),
        });
    }

    async commit(offsets: CommittedOffset[]): Promise<void> {
        if (!offsets.length) return;
        await this.consumer.commitOffsets(offsets.map((o) => ({
            topic: o.topic, partition: o.partition, offset: o.offset, metadata: o.metadata,
        })));
    }

    committed(partitions: PartitionAssignment[]): Promise<CommittedOffset[]> {
        return this.readCommitted(partitions);
    }

    seek(topic: string, partition: number, offset: string): void {
        this.consumer.seek({ topic, partition, offset });
    }

    pause(): void {
        this.consumer.pause(this.options.topics.map((topic) => ({ topic })));
    }

    resume(): void {
        this.consumer.resume(this.options.topics.map((topic) => ({ topic })));
    }

    async stop(): Promise<void> {
        this.stopped = true;
        // A start under way finishes first (it stops at its next step, or has joined and now
        // leaves), but not for longer than JOIN_WAIT_MS: a JoinGroup is held by the coordinator
        // until the whole group has rejoined, and a redeploy must not wait for that. Disconnecting
        // then ends the pending join (the coordinator drops that member after its session timeout).
        if (this.starting) await Promise.race([this.starting.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, JOIN_WAIT_MS).unref())]);
        noteStopped(this.options.groupId, this.memberId);
        try {
            await this.consumer.stop();
        } finally {
            this.unsubscribe.splice(0).forEach((u) => u());
            await this.consumer.disconnect();
        }
    }
}
