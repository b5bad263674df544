// The consumer half of the client seam (see ./types.ts). Offsets cross the seam
// as decimal strings (int64).
import type { ConsumerGroupSettings } from '../lib/settings';
import type { TopicPartitionOffset } from './types';
import type { RecordIn } from '../lib/consumer-output';

/** A consumed record, as the node's pure output logic takes it (lib/consumer-output). */
export type ConsumerRecord = RecordIn;

export interface BatchControl {
    /** False once the consumer is stopping: stop handing records over and return. */
    isActive(): boolean;
    /** Keeps the group membership alive; throws when the group rebalances (let it propagate). */
    heartbeat(): Promise<void>;
    /** Marks a record as handed over: the next fetch of its partition starts after it. */
    resolveOffset(offset: string): void;
}

export type BatchHandler = (records: ConsumerRecord[], control: BatchControl) => Promise<void>;

export interface PartitionAssignment {
    topic: string;
    partitions: number[];
}

export interface ConsumerOptions {
    groupId: string;
    settings: ConsumerGroupSettings;
    topics: string[];
    /** start from the oldest offset when the group has none committed */
    fromBeginning: boolean;
    onBatch: BatchHandler;
    /** After each join: this member's partitions (empty when idle). */
    onAssignment(assignment: PartitionAssignment[]): void;
    /** The consumer stopped on an error and will not restart by itself. */
    onCrash(err: unknown): void;
    /**
     * The group is rebalancing: this member is about to rejoin and may lose
     * partitions. Offsets committed now are still accepted by the broker.
     */
    onRebalancing?(): void;
}

export interface ConsumerClient {
    /** Connects, subscribes and starts consuming; rejects when that fails. */
    start(): Promise<void>;
    commit(offsets: TopicPartitionOffset[]): Promise<void>;
    pause(): void;
    resume(): void;
    /** Leaves the group and disconnects. */
    stop(): Promise<void>;
}
