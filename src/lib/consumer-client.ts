// What the consumer's delivery engine (./delivery-engine) needs from a Kafka
// client: one consumer-group member. The client seam (src/client/) implements
// it; nothing here knows which client library is used. Offsets cross as decimal
// strings (int64).
import type { ConsumerGroupSettings } from './settings';
import type { RecordIn } from './consumer-output';
import type { TopicPartitionOffset } from './offset-tracker';

/** A consumed record, as the node's pure output logic takes it (./consumer-output). */
export type ConsumerRecord = RecordIn;

/** A committed offset, with the metadata string Kafka keeps beside it. */
export interface CommittedOffset extends TopicPartitionOffset {
    metadata: string | null;
}

export interface BatchControl {
    /** False once the consumer is stopping or rejoining: stop handing records over and return. */
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
    /** The member's client id, as the group description shows it (see ./member-id); the client's own when absent. */
    clientId?: string;
    settings: ConsumerGroupSettings;
    topics: string[];
    /** start from the oldest offset when the group has none committed */
    fromBeginning: boolean;
    /** How many partitions' batches may be handled at once. */
    concurrency: number;
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
    /** Commits offsets, each with its metadata string (null: none). */
    commit(offsets: CommittedOffset[]): Promise<void>;
    /** The group's committed offsets and metadata for these partitions (offset '-1': none). */
    committed(partitions: PartitionAssignment[]): Promise<CommittedOffset[]>;
    pause(): void;
    resume(): void;
    /**
     * Moves this member's fetch position in a partition it owns: the next batch
     * of that partition starts at `offset`; batches fetched before stop being
     * active. Commits nothing.
     */
    seek(topic: string, partition: number, offset: string): void;
    /** Leaves the group and disconnects. */
    stop(): Promise<void>;
    /**
     * Date.now() when the group coordinator last answered a heartbeat of this member (0:
     * never): proof that the member was in the group's current generation then.
     */
    lastHeartbeatAt(): number;
}
