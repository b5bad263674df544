// The consumer's delivery engine: the group members of one kafka-consumer node,
// the in-flight bound, acknowledgements, retries and commits. No Node-RED and no
// client library here: records come in through the members (lib/consumer-client),
// go out through the host's emit(), and come back as ack() or fail().
//
// Three acknowledgement policies share it:
// - 'immediate': a record is done as soon as it is handed to the flow;
// - 'flow': a record is done when the flow says so (ack), failed records are
//   retried after the retry backoff, then skipped or dead-lettered; at most
//   maxInFlight records are out at once, shared fairly between the partitions
//   that have records waiting;
// - 'eos' (exactly once): as 'flow', but each input partition's records are
//   handed out inside a Kafka transaction of that partition's own transactional
//   producer. kafka-publish writes their outputs inside it (transactionOf), the
//   consumed offsets join it, and it commits once every record in it is done. A
//   record that fails before anything was written for it is handed out again
//   inside the same transaction (its old receipt can no longer write); any other
//   failure aborts it, and its records are delivered again from its first one.
// Either way the committed offset never passes a record that is not done
// (lib/offset-tracker), and what was done above it travels with the commit, so
// a partition's next owner does not deliver it again.
import { OffsetTracker, tpKey } from './offset-tracker';
import type {
    BatchControl, ConsumerClient, ConsumerOptions, ConsumerRecord, PartitionAssignment,
} from './consumer-client';
import type { ProducerTransaction, TransactionalProducer } from './producer-client';
import { afterFailure, failureText } from './failure-policy';
import { retryDelay } from './connection-state';
import { EndOffsets, sumLag } from './live-figures';
import type { TopicPartitionOffset } from './offset-tracker';
import { Grouper } from './batch-grouper';

export type AckPolicy = 'immediate' | 'flow' | 'eos';

export interface EngineSettings {
    policy: AckPolicy;
    consumerCount: number;
    /** records out and not yet acknowledged, at most ('flow') */
    maxInFlight: number;
    /** 0: retry for ever */
    maxAttempts: number;
    afterMaxAttempts: 'skip' | 'dlq';
    /** ms between a failure and the retry; also the base of the member restart backoff */
    retryBackoff: number;
    /** ms a record may stay unacknowledged before it counts as failed; 0: for ever */
    ackTimeout: number;
    /**
     * The host holds records in a step between hand-out and the flow (decoding with a
     * schema registry, which may not answer for a while): a record's ack timeout starts
     * only when the host calls reachedFlow() for it.
     */
    ackTimeoutFromReachedFlow?: boolean;
    /**
     * ms between commits in 'immediate'; 0: as soon as a burst of records is handed out.
     * 'flow' commits acknowledged records as soon as the previous commit is done
     * (so a crash brings back only records not yet acknowledged), and at least this often.
     */
    commitInterval: number;
    /** ms between heartbeats while the flow is full */
    heartbeatInterval: number;
    /** 'eos': the group whose offsets join the transactions */
    groupId?: string;
    /** 'eos': most records handed out in one transaction */
    txnMaxRecords?: number;
    /** 'eos': ms a transaction stays open for new records, at most */
    txnMaxMs?: number;
    /** 'eos': a failed record is retried inside its transaction only while that is younger than this (default 30 s) */
    retryInTxnMs?: number;
    /**
     * Batch output: records of one partition go out in messages of up to this many
     * (host.emitBatch); 1 or absent: a message per record. maxInFlight then counts
     * messages: at most maxInFlight x batchSize records are out.
     */
    batchSize?: number;
    /** Batch output: ms a partial batch waits for more records before it goes out */
    batchWaitMs?: number;
}

/** Which handing-out of a record a message refers to (an aborted transaction's records are handed out again). */
export interface RecordRef {
    topic: string;
    partition: number;
    offset: string;
    /** the handing-out's number; absent: any */
    seq?: number;
}

/** What a member's client calls back into the engine. */
export type MemberHooks = Pick<ConsumerOptions, 'onBatch' | 'onAssignment' | 'onCrash' | 'onRebalancing' | 'concurrency'> & {
    /** the member's place in the node (0 .. consumerCount - 1), not passed on to the client */
    member?: number;
};

export type EngineEvent =
    | { type: 'retry' | 'skipped'; record: ConsumerRecord; attempts: number; error: string }
    | { type: 'dead-lettered'; record: ConsumerRecord; attempts: number }
    | { type: 'dead-letter-failed'; record: ConsumerRecord; error: unknown }
    | { type: 'commit-failed'; error: unknown }
    /** 'eos': a transaction was aborted (a failure, a lost partition) or could not be committed */
    | { type: 'transaction-aborted'; topic: string; partition: number; first: string; error: unknown }
    | { type: 'stop-failed'; error: unknown }
    /** a member stopped on an error; it is restarted after a backoff (or by retryNow) */
    | { type: 'member-failed'; member: number; error: unknown }
    /** a member that had failed has joined the group again */
    | { type: 'member-recovered'; member: number }
    /** something the status shows may have changed */
    | { type: 'changed' };

export interface EngineHost {
    /** A new group member for these topics, calling the hooks back. */
    createMember(topics: string[], hooks: MemberHooks): ConsumerClient;
    /** Hands a record to the flow; `seq` numbers this handing-out (it goes on the receipt). */
    emit(record: ConsumerRecord, seq: number): void;
    /** Batch output: hands records of one partition to the flow as one message. */
    emitBatch?(items: { record: ConsumerRecord; seq: number }[]): void;
    /** Writes a record that failed too often to the dead-letter topic ('eos': inside the transaction). */
    deadLetter(record: ConsumerRecord, error: string, attempts: number, txn?: ProducerTransaction): Promise<void>;
    /** 'eos': the transactional producer of one input partition (its id fences earlier owners of the partition). */
    transactionalProducer?(topic: string, partition: number): TransactionalProducer;
    /** The failure text of a record that was not acknowledged within `ms`. */
    ackTimeoutText(ms: number): string;
    event(e: EngineEvent): void;
}

export interface MemberView {
    /** null while joining */
    assignment: PartitionAssignment[] | null;
    failing: boolean;
}

export interface EngineView {
    members: MemberView[];
    paused: boolean;
    inFlight: number;
}

interface Delivery {
    record: ConsumerRecord;
    attempts: number;
    timer: ReturnType<typeof setTimeout> | null;
    seq: number;
    /** 'eos': the transaction it was handed out in */
    txn: OpenTxn | null;
    /** 'eos': a write was asked for it in that transaction (transactionOf), in any of its attempts */
    wrote: boolean;
    /** times handed to the flow so far */
    out: number;
    /** handed to the flow and neither acknowledged nor failed since */
    awaiting: boolean;
}

/** 'eos': an open transaction of one input partition. */
interface OpenTxn {
    topic: string;
    partition: number;
    handle: ProducerTransaction;
    /** the first offset handed out in it: where its records start again when it is aborted */
    first: string;
    count: number;
    /** takes no more records; commits once the records in it are done */
    closing: boolean;
    committing: boolean;
    /** committed or aborted */
    done: boolean;
    timer: ReturnType<typeof setTimeout> | null;
    /** Date.now() at begin */
    openedAt: number;
}

/** 'eos': the transactions of one input partition of a member. */
interface PartitionTxns {
    producer: TransactionalProducer;
    connected: Promise<void> | null;
    current: OpenTxn | null;
    /** the abort of the last transaction, under way */
    ending: Promise<void> | null;
    /** no new transaction before this time (the retry backoff after an abort) */
    blockedUntil: number;
    /** attempts of records whose transaction was aborted, by offset */
    attempts: Map<string, number>;
    /** Date.now() when its producer last failed and has not connected since (0: none) */
    failedAt: number;
}

interface Member {
    index: number;
    client: ConsumerClient | null;
    tracker: OffsetTracker<Delivery>;
    assignment: PartitionAssignment[] | null;
    /** The group is rebalancing: hand nothing more out until the next assignment. */
    rebalancing: boolean;
    /** Partitions taken over whose previous owner's progress is still being read. */
    seeding: Map<string, Promise<void>>;
    restartTimer: ReturnType<typeof setTimeout> | null;
    /** The cluster came back while this member's start was under way: if that start fails, it starts again at once. */
    retryAtOnce: boolean;
    /** Retries that fell due while paused or rebalancing: emitted once the member may hand out again. */
    deferred: Delivery[];
    /** 'eos': per input partition */
    txns: Map<string, PartitionTxns>;
    attempt: number;
    failing: boolean;
    committing: Promise<void>;
    /** a commit is queued behind the one under way: it takes the newest offsets when it runs */
    commitQueued: boolean;
}

/** A heartbeat's error met while waiting for a producer: it ends the batch, it is not the producer's failure. */
class HeartbeatFailure extends Error {
    constructor(readonly failure: unknown) {
        super('heartbeat failed');
    }
}

/** Kafka errors after which a group member joins the group again (a new assignment follows). */
const REJOIN_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID']);

/** Batch output: records of one member and partition are gathered together. */
function groupKey(m: Member, r: { topic: string; partition: number }): string {
    return `${m.index}|${tpKey(r.topic, r.partition)}`;
}

/** Batches are handed over for this many partitions at once, at most. */
const MAX_CONCURRENT_PARTITIONS = 64;
/** While waiting, the engine looks at the group at least this often. */
const WAIT_SLICE_MS = 1000;
/**
 * 'eos': a failed record is retried inside its open transaction only while the transaction
 * is younger than this at the retry: well inside the producer's transaction timeout (kafkajs:
 * 60 s), past which the broker aborts it.
 */
const RETRY_IN_TXN_MS = 30000;

/** A seek asked of an engine that cannot move its position (the exactly-once policy). */
export class SeekRefused extends Error {
    constructor() {
        super('seek is not available in exactly-once mode');
        this.name = 'SeekRefused';
    }
}

export class DeliveryEngine {
    private readonly members: Member[] = [];
    private readonly waiters: (() => void)[] = [];
    private topics: string[] = [];
    private paused = false;
    private closing = false;
    /** Partitions with a batch being handed out now, over all members: the fair share divides by it. */
    private activeBatches = 0;
    private commitTimer: ReturnType<typeof setInterval> | null = null;
    private commitSoon: ReturnType<typeof setImmediate> | null = null;
    /** With commit interval 0, a failed commit is tried again after the retry backoff. */
    private commitRetry: ReturnType<typeof setTimeout> | null = null;
    /** afterDeploy's checks under way */
    private readonly deployTimers = new Set<ReturnType<typeof setTimeout>>();
    /** acknowledged by the flow: 'flow' and 'eos' */
    private readonly flow: boolean;
    private readonly eos: boolean;
    private seq = 0;
    /** Once full, the flow is refilled when this few records are in flight: in runs, not one record per ack. */
    private readonly lowWater: number;
    /** Seeks per partition so far: a batch fetched before the latest one hands nothing more out. */
    private readonly seeks = new Map<string, number>();
    private readonly ends = new EndOffsets();
    /** the most records out at once: maxInFlight, times the batch size with batch output */
    private readonly maxRecords: number;
    private readonly batchSize: number;
    /** batch output: the groups being gathered, per member and partition */
    private readonly grouper: Grouper<{ m: Member; record: ConsumerRecord; seq: number; d: Delivery | null }> | null = null;

    constructor(private readonly s: EngineSettings, private readonly host: EngineHost) {
        this.flow = s.policy !== 'immediate';
        this.eos = s.policy === 'eos';
        if (this.eos && !host.transactionalProducer) throw new Error('exactly-once needs transactional producers');
        const batchSize = Math.max(1, s.batchSize ?? 1);
        if (batchSize > 1) {
            if (!host.emitBatch) throw new Error('batch output needs emitBatch');
            this.grouper = new Grouper(batchSize, s.batchWaitMs ?? 0, (_key, items) => this.emitGroup(items));
        }
        this.batchSize = batchSize;
        this.maxRecords = s.maxInFlight * batchSize;
        // In whole batches with batch output, so that a refill makes full batches.
        this.lowWater = (s.maxInFlight - Math.max(1, Math.floor(s.maxInFlight / 4))) * batchSize;
        for (let i = 0; i < s.consumerCount; i++) {
            this.members.push({
                index: i, client: null, tracker: new OffsetTracker<Delivery>(), assignment: null, rebalancing: false,
                seeding: new Map(), restartTimer: null, retryAtOnce: false, deferred: [], txns: new Map(), attempt: 0, failing: false, committing: Promise.resolve(), commitQueued: false,
            });
        }
        if (s.commitInterval > 0 && !this.eos) this.commitTimer = setInterval(() => void this.commit(), s.commitInterval);
    }

    // ---- what the host asks ---------------------------------------------------

    /** Subscribes every member to these topics (members already running are stopped first). */
    async setTopics(topics: string[]): Promise<void> {
        await Promise.all(this.members.map((m) => this.stopMember(m)));
        this.topics = topics.slice();
        if (!this.closing) this.members.forEach((m) => void this.startMember(m));
    }

    /** A record came back done. Ignored for records this node no longer holds (a lost partition, an old ack). */
    ack(r: RecordRef): void {
        const [m, d] = this.holderOf(r);
        if (m && d) this.acknowledge(m, d);
    }

    /** A record came back failed. */
    fail(r: RecordRef, error: unknown): void {
        const [m, d] = this.holderOf(r);
        if (m && d) this.failed(m, d, error);
    }

    /**
     * With ackTimeoutFromReachedFlow: a record handed out reaches the flow now (it waited in
     * a step between, such as decoding with a schema registry that did not answer), and its
     * ack timeout starts; the wait before is not counted against the flow.
     */
    reachedFlow(r: RecordRef): void {
        const [m, d] = this.holderOf(r);
        // acknowledged, failed or waiting for its retry (d.timer is that retry's): not this
        if (m && d && d.awaiting && !d.timer) this.startAckTimer(m, d);
    }

    /**
     * 'eos': the open transaction a record was handed out in, for writing its
     * outputs; null when the record is not held (any more) or its transaction is over.
     */
    transactionOf(r: RecordRef): ProducerTransaction | null {
        const [, d] = this.holderOf(r);
        if (!d || !d.txn || d.txn.done) return null;
        d.wrote = true; // a failure of this record must now abort the transaction
        return d.txn.handle;
    }

    /**
     * A deploy that left this node running ("modified nodes" or "modified flows"): Node-RED
     * drops the messages in transit to the nodes it replaced, so a record out in the flow then
     * may never come back. Those still unacknowledged `graceMs` later (and not handed out
     * again meanwhile) count as failed with `text`, as after an ack timeout: retried, or
     * skipped or dead-lettered after the maximum attempts.
     */
    afterDeploy(graceMs: number, text: string): void {
        if (!this.flow || this.closing) return;
        const out: [Member, Delivery, number][] = [];
        for (const m of this.members) for (const d of m.tracker.all()) if (d.awaiting) out.push([m, d, d.out]);
        if (!out.length) return;
        const timer = setTimeout(() => {
            this.deployTimers.delete(timer);
            for (const [m, d, n] of out) {
                const r = d.record;
                if (this.closing || !d.awaiting || d.out !== n || m.tracker.get(r.topic, r.partition, r.offset) !== d) continue;
                this.failed(m, d, text);
            }
        }, graceMs);
        this.deployTimers.add(timer);
    }

    pause(): void {
        this.setPaused(true);
    }

    resume(): void {
        this.setPaused(false);
    }

    /**
     * The cluster is reachable again: members waiting to restart after a failure are
     * restarted now. A member whose start is under way began it while the cluster was
     * away (its client may still fail on what it met then): should it fail, it starts
     * again at once instead of after its backoff.
     */
    retryNow(): void {
        for (const m of this.members) {
            if (m.restartTimer) this.scheduleStart(m, 0);
            else if (m.client && m.failing) m.retryAtOnce = true;
        }
    }

    /** Commits what is done, for every member. */
    commit(): Promise<void> {
        return Promise.all(this.members.map((m) => this.commitMember(m))).then(() => undefined);
    }

    /**
     * Replay: moves the position of the partitions this node owns to the offsets
     * given (the others are left to their owners). Records in flight there are
     * dropped (their acknowledgements are ignored), batches fetched before stop,
     * and the sought offset is committed at once, below the committed offset too.
     * Returns the partitions moved.
     */
    seek(targets: TopicPartitionOffset[]): TopicPartitionOffset[] {
        // Exactly once: the position belongs to each partition's transaction (its abort seeks back itself).
        if (this.eos) throw new SeekRefused();
        const moved: TopicPartitionOffset[] = [];
        for (const t of targets) {
            const m = this.members.find((x) => x.client && x.assignment?.some((a) => a.topic === t.topic && a.partitions.includes(t.partition)));
            if (!m || !m.client) continue;
            const key = tpKey(t.topic, t.partition);
            try {
                m.client.seek(t.topic, t.partition, t.offset);
            } catch {
                continue; // not running yet: nothing moved
            }
            this.seeks.set(key, (this.seeks.get(key) ?? 0) + 1);
            m.seeding.delete(key);
            m.tracker.reset(t.topic, t.partition, t.offset).forEach(clearTimer);
            moved.push(t);
        }
        if (moved.length) {
            this.wake();
            void this.commit();
            this.host.event({ type: 'changed' });
        }
        return moved;
    }

    /** Records between this node's position and the end, over the partitions it owns (null: not known yet). */
    lag(): number | null {
        let total: number | null = null;
        for (const m of this.members) {
            const owned = (m.assignment ?? []).flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition })));
            const lag = sumLag(owned, this.ends, (topic, partition) => m.tracker.commitPoint(topic, partition));
            if (lag !== null) total = (total ?? 0) + lag;
        }
        return total;
    }

    /** Whether fetches brought end offsets since the last call (else the status refresh reads them itself). */
    endsFetched(): boolean {
        return this.ends.takeFetched();
    }

    /** End offsets read outside a fetch (the status refresh): lag keeps growing while paused. */
    noteEnds(topic: string, ends: { partition: number; offset: string }[]): void {
        for (const e of ends) this.ends.raise(topic, e.partition, e.offset);
    }

    view(): EngineView {
        return {
            members: this.members.map((m) => ({ assignment: m.assignment, failing: m.failing })),
            paused: this.paused,
            inFlight: this.inFlight(),
        };
    }

    /** Commits, leaves the group and stops every timer. */
    async close(): Promise<void> {
        // Records handed out in immediate mode count as done: what is gathered still goes out.
        if (this.flow) this.grouper?.clear();
        else this.grouper?.flushAll();
        this.closing = true;
        if (this.commitTimer) clearInterval(this.commitTimer);
        if (this.commitSoon) clearImmediate(this.commitSoon);
        if (this.commitRetry) clearTimeout(this.commitRetry);
        this.deployTimers.forEach(clearTimeout);
        this.deployTimers.clear();
        this.commitTimer = null;
        this.commitSoon = null;
        this.commitRetry = null;
        this.wake();
        await Promise.all(this.members.map((m) => this.stopMember(m)));
    }

    // ---- deliveries -------------------------------------------------------------

    private inFlight(): number {
        let n = 0;
        for (const m of this.members) n += m.tracker.inFlight;
        return n;
    }

    private wake(): void {
        this.waiters.splice(0).forEach((w) => w());
    }

    private setPaused(paused: boolean): void {
        this.paused = paused;
        for (const m of this.members) {
            try {
                if (m.client) { if (paused) m.client.pause(); else m.client.resume(); }
            } catch {
                // not running yet: it is paused when it starts
            }
        }
        if (!paused) this.members.forEach((m) => this.emitDeferred(m));
        this.wake();
        this.host.event({ type: 'changed' });
    }

    /** Emits the retries that waited for a pause or a rebalance to end, if they are still this member's. */
    private emitDeferred(m: Member): void {
        if (this.paused || m.rebalancing || this.closing || !m.deferred.length) return;
        for (const d of m.deferred.splice(0)) {
            if (m.tracker.get(d.record.topic, d.record.partition, d.record.offset) === d) this.emit(m, d);
        }
    }

    private holderOf(r: RecordRef): [Member, Delivery] | [null, null] {
        for (const m of this.members) {
            const d = m.tracker.get(r.topic, r.partition, r.offset);
            if (d !== undefined) return r.seq === undefined || r.seq === d.seq ? [m, d] : [null, null];
        }
        return [null, null];
    }

    private emit(m: Member, d: Delivery): void {
        if (this.grouper) {
            const key = groupKey(m, d.record);
            // A retry (out before) is below records handed out since: a message keeps offset order.
            if (d.out > 0) this.grouper.flushIf(key, (item) => BigInt(item.record.offset) > BigInt(d.record.offset));
            this.grouper.add(key, { m, record: d.record, seq: d.seq, d }, d.txn);
            return;
        }
        this.handedOut(m, d);
        this.host.emit(d.record, d.seq);
    }

    /** A delivery goes to the flow now: it awaits its acknowledgement (within the ack timeout, if set). */
    private handedOut(m: Member, d: Delivery): void {
        d.out++;
        d.awaiting = true;
        if (!this.s.ackTimeoutFromReachedFlow) this.startAckTimer(m, d);
    }

    private startAckTimer(m: Member, d: Delivery): void {
        if (!this.flow || !this.s.ackTimeout) return;
        const r = d.record;
        d.timer = setTimeout(() => {
            d.timer = null;
            if (m.tracker.get(r.topic, r.partition, r.offset) === d) this.failed(m, d, this.host.ackTimeoutText(this.s.ackTimeout));
        }, this.s.ackTimeout);
    }

    /** Batch output: a gathered group goes out, without the records this member no longer holds. */
    private emitGroup(items: { m: Member; record: ConsumerRecord; seq: number; d: Delivery | null }[]): void {
        const out: { record: ConsumerRecord; seq: number }[] = [];
        for (const { m, record, seq, d } of items) {
            if (d) {
                if (this.closing || m.tracker.get(record.topic, record.partition, record.offset) !== d) continue;
                this.handedOut(m, d);
            }
            out.push({ record, seq });
        }
        if (out.length) this.host.emitBatch!(out);
    }

    private acknowledge(m: Member, d: Delivery): void {
        clearTimer(d);
        if (m.tracker.ack(d.record.topic, d.record.partition, d.record.offset) === undefined) return;
        if (this.inFlight() <= this.lowWater) this.wake();
        if (d.txn) this.tryCommitTxn(m, d.txn);
        else this.commitSoonAfter(true);
    }

    /**
     * Commits once the current burst is over: after acknowledgements ('flow') always, after
     * records handed out ('immediate') only with commit interval 0.
     */
    private commitSoonAfter(acknowledged: boolean): void {
        if ((acknowledged || this.s.commitInterval === 0) && !this.commitSoon && !this.closing) {
            this.commitSoon = setImmediate(() => { this.commitSoon = null; void this.commit(); });
        }
    }

    private failed(m: Member, d: Delivery, error: unknown): void {
        clearTimer(d);
        d.awaiting = false;
        d.attempts++;
        const r = d.record;
        const text = failureText(error);
        const action = afterFailure(d.attempts, this.s.maxAttempts, this.s.afterMaxAttempts);
        const stillHeld = () => !this.closing && m.tracker.get(r.topic, r.partition, r.offset) === d;
        if (d.txn) {
            this.txnsOf(m, r.topic, r.partition).attempts.set(r.offset, d.attempts);
            if (action === 'retry' && !this.retriesInTxn(d, d.txn)) {
                // Nothing the transaction wrote becomes visible; its records come again from its first one.
                this.host.event({ type: 'retry', record: r, attempts: d.attempts, error: text });
                this.abortTxn(m, d.txn, error);
                return;
            }
            // Handed out again in this transaction: messages of the failed attempt (a late
            // write, a late ack) name the old seq and are refused from now on.
            if (action === 'retry') d.seq = ++this.seq;
        }
        if (action === 'skip') {
            this.host.event({ type: 'skipped', record: r, attempts: d.attempts, error: text });
            this.acknowledge(m, d);
            return;
        }
        if (action === 'dead-letter') {
            const txn = d.txn;
            this.host.deadLetter(r, text, d.attempts, txn?.handle).then(() => {
                if (!stillHeld()) return; // acknowledged meanwhile, or the partition moved
                this.host.event({ type: 'dead-lettered', record: r, attempts: d.attempts });
                this.acknowledge(m, d);
            }, (err: unknown) => {
                this.host.event({ type: 'dead-letter-failed', record: r, error: err });
                if (!stillHeld()) return;
                if (txn) {
                    this.abortTxn(m, txn, err);
                    return;
                }
                d.attempts--; // the dead-letter topic is tried again after the backoff
                d.timer = setTimeout(() => {
                    d.timer = null;
                    if (stillHeld()) this.failed(m, d, error);
                }, this.s.retryBackoff);
            });
            return;
        }
        this.host.event({ type: 'retry', record: r, attempts: d.attempts, error: text });
        d.timer = setTimeout(() => {
            d.timer = null;
            // Emitted again only while this member still owns the record, and not
            // while paused or rejoining (then once that is over, if still owned).
            if (!stillHeld()) return;
            if (this.paused || m.rebalancing) m.deferred.push(d);
            else this.emit(m, d);
        }, this.s.retryBackoff);
    }

    // ---- commits ------------------------------------------------------------------

    private commitMember(m: Member): Promise<void> {
        // 'eos': offsets are committed by the transactions, never by the consumer.
        if (this.eos || m.commitQueued) return m.committing;
        m.commitQueued = true;
        m.committing = m.committing.then(async () => {
            m.commitQueued = false;
            const c = m.client;
            const offsets = m.tracker.pendingCommits();
            if (!c || !offsets.length) return;
            try {
                await c.commit(offsets);
                m.tracker.markCommitted(offsets);
            } catch (err) {
                // A rebalance or a coordinator move under way: the next tick (or the new owner) commits.
                this.host.event({ type: 'commit-failed', error: err });
                if (this.s.commitInterval === 0 && !this.closing && !this.commitRetry) {
                    this.commitRetry = setTimeout(() => { this.commitRetry = null; void this.commit(); }, this.s.retryBackoff);
                }
            }
        });
        return m.committing;
    }

    // ---- handing records out ------------------------------------------------------------

    /** True while a member may hand records out: running, not stopping, not rejoining. */
    private live(m: Member, c: ConsumerClient, control: BatchControl): boolean {
        return m.client === c && !this.closing && !m.rebalancing && control.isActive();
    }

    /**
     * Every running member of this node has joined, and no two claim the same
     * partition (one of them is still on an older generation). Until then nothing
     * is handed out, so a member joining a moment later does not get records that
     * another member of the node already handed out.
     */
    private settled(): boolean {
        const seen = new Set<string>();
        for (const m of this.members) {
            if (!m.client) continue;
            if (m.assignment === null || m.rebalancing) return false;
            for (const a of m.assignment) {
                for (const p of a.partitions) {
                    const key = tpKey(a.topic, p);
                    if (seen.has(key)) return false;
                    seen.add(key);
                }
            }
        }
        return true;
    }

    /** Each partition being handed out may hold this many of the in-flight records. */
    private share(): number {
        // In whole batches with batch output: a partition's share never cuts a batch short.
        return this.batchSize * Math.max(1, Math.ceil(this.s.maxInFlight / Math.max(1, this.activeBatches)));
    }

    private canEmit(m: Member, topic: string, partition: number): boolean {
        if (this.paused) return false;
        if (!this.flow) return true;
        return this.inFlight() < this.maxRecords && m.tracker.inFlightOf(topic, partition) < this.share();
    }

    /** Once blocked, a partition is refilled only when the flow has drained to the low-water mark. */
    private canRefill(m: Member, topic: string, partition: number): boolean {
        if (this.paused) return false;
        if (!this.flow) return true;
        return this.inFlight() <= this.lowWater && m.tracker.inFlightOf(topic, partition) < this.share();
    }

    /** Resolves on the next wake (an ack, pause/resume, a join), or after `ms`. */
    private nextWake(ms: number): Promise<void> {
        return new Promise<void>((resolve) => {
            const waiter = () => { clearTimeout(timer); resolve(); };
            const timer = setTimeout(() => {
                const i = this.waiters.indexOf(waiter);
                if (i >= 0) this.waiters.splice(i, 1);
                resolve();
            }, ms);
            this.waiters.push(waiter);
        });
    }

    /**
     * Waits until `ready()`, heartbeating meanwhile; false when the batch must end
     * (stopping, or the group is rebalancing). A heartbeat that finds the group
     * rebalancing marks the member so that all its batches end at once, and
     * rethrows, so the client rejoins without working through what it fetched.
     */
    private async waitUntil(m: Member, c: ConsumerClient, control: BatchControl, ready: () => boolean): Promise<boolean> {
        const beatEvery = Math.min(WAIT_SLICE_MS, this.s.heartbeatInterval);
        let beat = Date.now();
        while (!ready()) {
            if (!this.live(m, c, control)) return false;
            await this.nextWake(beatEvery);
            if (!this.live(m, c, control)) return false;
            if (Date.now() - beat >= beatEvery) {
                try {
                    await control.heartbeat();
                } catch (err) {
                    // Only errors after which the member joins the group again hold it until the
                    // next assignment; after any other (a timeout, say) the client carries on with
                    // the same assignment, and a held member would never hand out again.
                    if (REJOIN_ERRORS.has((err as { type?: string }).type ?? '')) this.rebalancing(m, c);
                    throw err;
                }
                beat = Date.now();
            }
        }
        return this.live(m, c, control);
    }

    /**
     * Waits for `work`, heartbeating meanwhile (see waitUntil): its outcome, or null when the
     * batch must end first (`work` goes on by itself). A heartbeat's error comes as a HeartbeatFailure.
     */
    private async whileBeating<T>(m: Member, c: ConsumerClient, control: BatchControl, work: Promise<T>): Promise<{ value: T } | null> {
        let settled = false;
        const done = () => {
            settled = true;
            this.wake();
        };
        work.then(done, done);
        return (await this.beatingUntil(m, c, control, () => settled)) ? { value: await work } : null;
    }

    /** waitUntil(), with a heartbeat's error as a HeartbeatFailure. */
    private async beatingUntil(m: Member, c: ConsumerClient, control: BatchControl, ready: () => boolean): Promise<boolean> {
        try {
            return await this.waitUntil(m, c, control, ready);
        } catch (err) {
            throw new HeartbeatFailure(err);
        }
    }

    private rebalancing(m: Member, c: ConsumerClient): void {
        if (m.client !== c || m.rebalancing) return;
        m.rebalancing = true;
        this.wake();
        // What is done so far is committed while the broker still takes this member's commits.
        void this.commitMember(m);
        this.host.event({ type: 'changed' });
    }

    private async onBatch(m: Member, c: ConsumerClient, records: ConsumerRecord[], control: BatchControl): Promise<void> {
        if (!records.length || !this.live(m, c, control)) return;
        const { topic, partition } = records[0];
        this.ends.note(topic, partition, records[0].offset, records[records.length - 1].highWaterOffset);
        const sought = this.seeks.get(tpKey(topic, partition)) ?? 0;
        // Counted at once, and handing out starts a tick later: the client hands several
        // partitions' batches over in one go, and each must see the others' share.
        this.activeBatches++;
        try {
            await Promise.resolve();
            const key = tpKey(topic, partition);
            // Heartbeats go on while the previous owner's progress is read (or, exactly once, fenced).
            if (m.seeding.has(key) && !(await this.waitUntil(m, c, control, () => !m.seeding.has(key)))) return;
            if (!this.live(m, c, control)) return;
            if (!this.settled() && !(await this.waitUntil(m, c, control, () => this.settled()))) return;
            await this.handOut(m, c, records, control, sought);
        } finally {
            this.activeBatches--;
            this.wake();
        }
    }

    private async handOut(m: Member, c: ConsumerClient, records: ConsumerRecord[], control: BatchControl, sought = 0): Promise<void> {
        const { topic, partition } = records[0];
        const t = m.tracker;
        const key = tpKey(topic, partition);
        const stale = () => this.seeks.size > 0 && (this.seeks.get(key) ?? 0) !== sought;
        // The client's position moves once per run of handed-out records, not per record.
        let unresolved: string | null = null;
        for (const record of records) {
            // Nothing here awaits unless the record must wait: the batch state cannot change in between.
            // Checked again after each wait: batches woken together share what was freed.
            while (!this.canEmit(m, topic, partition)) {
                if (unresolved !== null) control.resolveOffset(unresolved);
                unresolved = null;
                // Partial batches go out now: the room waited for may need their acknowledgement.
                this.grouper?.flushAll();
                if (!(await this.waitUntil(m, c, control, () => this.canRefill(m, topic, partition)))) return;
            }
            if (stale()) return; // a seek moved the partition: what this batch holds is not wanted
            if (!this.flow) {
                if (t.pass(topic, partition, record.offset)) {
                    if (this.grouper) this.grouper.add(groupKey(m, record), { m, record, seq: ++this.seq, d: null });
                    else this.host.emit(record, ++this.seq);
                }
            } else if (!this.eos) {
                const d: Delivery = { record, attempts: 0, timer: null, seq: ++this.seq, txn: null, wrote: false, out: 0, awaiting: false };
                if (t.deliver(topic, partition, record.offset, d) === 'new') this.emit(m, d);
            } else {
                let txn = this.usableTxn(m, topic, partition);
                if (!txn) {
                    if (unresolved !== null) control.resolveOffset(unresolved);
                    unresolved = null;
                    txn = await this.openTxn(m, c, control, topic, partition);
                    if (!txn) return;
                }
                const pt = this.txnsOf(m, topic, partition);
                const d: Delivery = { record, attempts: pt.attempts.get(record.offset) ?? 0, timer: null, seq: ++this.seq, txn, wrote: false, out: 0, awaiting: false };
                if (t.deliver(topic, partition, record.offset, d) === 'new') {
                    if (txn.count++ === 0) txn.first = record.offset;
                    if (txn.count >= (this.s.txnMaxRecords ?? 2000)) txn.closing = true;
                    this.emit(m, d);
                }
            }
            unresolved = record.offset;
        }
        if (unresolved !== null && !stale()) control.resolveOffset(unresolved);
        if (!this.flow) this.commitSoonAfter(false);
    }

    // ---- exactly once: a transaction per input partition ----------------------------------

    private txnsOf(m: Member, topic: string, partition: number): PartitionTxns {
        const key = tpKey(topic, partition);
        let pt = m.txns.get(key);
        if (!pt) {
            pt = {
                producer: this.host.transactionalProducer!(topic, partition), connected: null, current: null, ending: null, blockedUntil: 0, attempts: new Map(), failedAt: 0,
            };
            m.txns.set(key, pt);
        }
        return pt;
    }

    /** The partition's open transaction, when it still takes records. */
    private usableTxn(m: Member, topic: string, partition: number): OpenTxn | null {
        const cur = m.txns.get(tpKey(topic, partition))?.current;
        return cur && !cur.closing && !cur.done ? cur : null;
    }

    /**
     * Waits for the partition's previous transaction to be committed (and for the
     * retry backoff after an abort), then begins the next one; null when the batch must end.
     */
    private async openTxn(m: Member, c: ConsumerClient, control: BatchControl, topic: string, partition: number): Promise<OpenTxn | null> {
        const pt = this.txnsOf(m, topic, partition);
        for (;;) {
            if (!this.live(m, c, control)) return null;
            const cur = pt.current;
            if (cur && !cur.done) {
                if (!cur.closing) return cur;
                if (!(await this.waitUntil(m, c, control, () => pt.current !== cur || cur.done))) return null;
                continue;
            }
            if (Date.now() < pt.blockedUntil) {
                if (!(await this.waitUntil(m, c, control, () => Date.now() >= pt.blockedUntil))) return null;
                continue;
            }
            // A transaction begun after this batch stopped waiting for it is aborted at once.
            let begun: Promise<ProducerTransaction> | null = null;
            const abortLate = (late: Promise<ProducerTransaction>) => late.then((h) => h.abort().catch(() => undefined), () => undefined);
            try {
                // Heartbeats go on meanwhile: connecting (InitProducerId) waits while the
                // coordinator ends the previous owner's transaction, and a member that stops
                // heartbeating that long is evicted, rejoins, and takes over again.
                if (pt.ending && !(await this.whileBeating(m, c, control, pt.ending))) return null;
                // Connecting again (InitProducerId) fences whoever holds the transactional id now.
                // After a producer failed (fenced, most likely by the partition's new owner), that is
                // done only once the coordinator has answered a heartbeat since: a member evicted
                // that does not know it yet learns it from that heartbeat, instead of fencing the new
                // owner and committing what the new owner then writes again.
                const since = pt.failedAt;
                if (!pt.connected && since && !(await this.beatingUntil(m, c, control, () => c.lastHeartbeatAt() > since))) return null;
                if (!pt.connected) pt.connected = pt.producer.connect();
                if (!(await this.whileBeating(m, c, control, pt.connected))) return null;
                pt.failedAt = 0;
                begun = pt.producer.begin();
                const began = await this.whileBeating(m, c, control, begun);
                if (!began) {
                    void abortLate(begun);
                    return null;
                }
                const handle = began.value;
                if (!this.live(m, c, control) || m.txns.get(tpKey(topic, partition)) !== pt) {
                    await handle.abort().catch(() => undefined);
                    return null;
                }
                const txn: OpenTxn = { topic, partition, handle, first: '', count: 0, closing: false, committing: false, done: false, timer: null, openedAt: Date.now() };
                txn.timer = setTimeout(() => {
                    txn.timer = null;
                    txn.closing = true;
                    this.tryCommitTxn(m, txn);
                }, this.s.txnMaxMs ?? 1000);
                pt.current = txn;
                return txn;
            } catch (err) {
                if (err instanceof HeartbeatFailure) { // the member rejoins: not the producer's failure
                    if (begun) void abortLate(begun);
                    throw err.failure;
                }
                // A producer that cannot begin (fenced, the coordinator moving): connect again after the backoff.
                pt.connected = null;
                pt.failedAt = Date.now();
                this.host.event({ type: 'commit-failed', error: err });
                pt.blockedUntil = Date.now() + this.s.retryBackoff;
            }
        }
    }

    /**
     * A failed record can be retried inside its transaction when nothing was written for it
     * there (so nothing of the failed attempt can become visible), its transaction is still
     * open and young enough, and records go out one by one (a batch message's writes are
     * counted on its first record only).
     */
    private retriesInTxn(d: Delivery, txn: OpenTxn): boolean {
        return !d.wrote && !txn.done && !txn.committing && !this.grouper &&
            Date.now() + this.s.retryBackoff - txn.openedAt < (this.s.retryInTxnMs ?? RETRY_IN_TXN_MS);
    }

    /** Commits a closing transaction once every record in it is done: the consumed offsets first, then the transaction. */
    private tryCommitTxn(m: Member, txn: OpenTxn): void {
        if (!txn.closing || txn.done || txn.committing) return;
        const { topic, partition } = txn;
        if (m.tracker.inFlightOf(topic, partition) > 0) return;
        const pt = m.txns.get(tpKey(topic, partition));
        if (txn.timer) clearTimeout(txn.timer);
        txn.timer = null;
        txn.committing = true;
        const point = txn.count ? m.tracker.commitPoint(topic, partition) : null;
        void (async () => {
            try {
                if (point !== null) await txn.handle.sendOffsets(this.s.groupId ?? '', [{ topic, partition, offset: point }]);
                await txn.handle.commit();
                txn.done = true;
                if (pt && pt.current === txn) pt.current = null;
                if (point !== null) {
                    m.tracker.markCommitted([{ topic, partition, offset: point }]);
                    if (pt) for (const o of pt.attempts.keys()) if (BigInt(o) < BigInt(point)) pt.attempts.delete(o);
                }
            } catch (err) {
                // Fenced by the partition's new owner, or the coordinator failed: what it wrote
                // is not visible; its records come again from its first one (if still ours).
                txn.committing = false;
                this.abortTxn(m, txn, err);
            }
            this.wake();
        })();
    }

    /**
     * Aborts a transaction: its outputs never become visible to read-committed
     * readers. Its records are forgotten and fetched again from its first one,
     * after the retry backoff.
     */
    private abortTxn(m: Member, txn: OpenTxn, error: unknown, released = false): void {
        if (txn.done) return;
        txn.done = true;
        if (txn.timer) clearTimeout(txn.timer);
        txn.timer = null;
        const { topic, partition } = txn;
        const key = tpKey(topic, partition);
        const pt = m.txns.get(key);
        if (pt && pt.current === txn) {
            pt.current = null;
            pt.blockedUntil = Date.now() + this.s.retryBackoff;
        }
        this.host.event({ type: 'transaction-aborted', topic, partition, first: txn.first, error });
        const ending = txn.handle.abort().catch(() => {
            // A fenced or broken producer stays in a state it cannot leave: the next
            // transaction starts on a new producer (with the same id), the old one is let go.
            if (pt && m.txns.get(key) === pt) {
                const old = pt.producer;
                const wasConnected = pt.connected;
                pt.producer = this.host.transactionalProducer!(topic, partition);
                pt.connected = null;
                pt.failedAt = Date.now();
                if (wasConnected) void wasConnected.then(() => old.disconnect(), () => undefined).catch(() => undefined);
            }
        });
        if (pt) {
            const tracked: Promise<void> = ending.finally(() => { if (pt.ending === tracked) pt.ending = null; });
            pt.ending = tracked;
        }
        if (pt && !released && m.txns.get(key) === pt) {
            m.tracker.forget(topic, partition).forEach(clearTimer);
            m.deferred = m.deferred.filter((d) => d.txn !== txn);
            if (txn.first && m.client && !this.closing) {
                try {
                    m.client.seek(topic, partition, txn.first);
                } catch (err) {
                    this.host.event({ type: 'commit-failed', error: err });
                }
            }
        }
        this.wake();
    }

    /** Ends the transactions of partitions no longer owned (all when `kept` is empty) and lets their producers go. */
    private endTxns(m: Member, kept: Set<string>): Promise<void> {
        const ending: Promise<void>[] = [];
        for (const [key, pt] of m.txns) {
            if (kept.has(key)) continue;
            const cur = pt.current;
            // Aborted while still known (so the abort is waited for), then let go:
            // the producer disconnects only once its abort reached the broker.
            if (cur && !cur.done) this.abortTxn(m, cur, new Error('partition released'), true);
            m.txns.delete(key);
            const aborted = pt.ending ?? Promise.resolve();
            if (pt.connected) {
                const connected = pt.connected;
                ending.push(aborted.then(() => connected).then(() => pt.producer.disconnect(), () => undefined).catch(() => undefined));
            }
        }
        return Promise.all(ending).then(() => undefined);
    }

    /** On close: transactions whose records are all done are committed, the others aborted. */
    private async finishTxns(m: Member): Promise<void> {
        const waits: Promise<void>[] = [];
        for (const pt of m.txns.values()) {
            const cur = pt.current;
            if (!cur || cur.done) continue;
            if (m.tracker.inFlightOf(cur.topic, cur.partition) === 0 && cur.count > 0) {
                cur.closing = true;
                this.tryCommitTxn(m, cur);
                waits.push(new Promise<void>((resolve) => {
                    const check = () => (cur.done || !cur.committing ? resolve() : setTimeout(check, 20));
                    check();
                }));
            }
        }
        await Promise.all(waits);
    }

    private onAssignment(m: Member, c: ConsumerClient, assignment: PartitionAssignment[]): void {
        if (m.client !== c) return;
        m.assignment = assignment;
        m.rebalancing = false;
        const owned = assignment.flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition })));
        if (this.eos) void this.endTxns(m, new Set(owned.map((o) => tpKey(o.topic, o.partition))));
        m.tracker.retainOnly(owned).forEach(clearTimer);
        for (const key of m.seeding.keys()) {
            if (!owned.some((o) => tpKey(o.topic, o.partition) === key)) m.seeding.delete(key);
        }
        const taken = owned.filter((o) => !m.tracker.has(o.topic, o.partition) && !m.seeding.has(tpKey(o.topic, o.partition)));
        if (taken.length) this.seed(m, c, taken);
        this.emitDeferred(m);
        if (m.failing) this.host.event({ type: 'member-recovered', member: m.index });
        m.failing = false;
        m.retryAtOnce = false;
        m.attempt = 0;
        this.wake();
        this.host.event({ type: 'changed' });
    }

    /**
     * Reads what the previous owners of newly assigned partitions had done above
     * their committed offsets; their batches wait for it. When it cannot be read,
     * they go on without it (those records are only delivered again).
     */
    private seed(m: Member, c: ConsumerClient, taken: { topic: string; partition: number }[]): void {
        const byTopic = new Map<string, number[]>();
        for (const o of taken) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), o.partition]);
        const asked: PartitionAssignment[] = [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
        // 'eos': the partitions' transactional producers connect first, which fences their
        // previous owners; only then is the committed offset final, and fetching starts there.
        const committed = this.eos ? this.fence(m, c, taken).then(() => c.committed(asked)) : c.committed(asked);
        const done = committed.then((offsets) => {
            if (m.client !== c) return;
            for (const o of offsets) {
                if (m.seeding.get(tpKey(o.topic, o.partition)) !== done) continue;
                m.tracker.seed(o.topic, o.partition, o.offset, o.metadata);
                if (this.eos && BigInt(o.offset) >= 0n) c.seek(o.topic, o.partition, o.offset);
            }
        }, () => undefined).finally(() => {
            for (const o of taken) {
                const key = tpKey(o.topic, o.partition);
                if (m.seeding.get(key) === done) m.seeding.delete(key);
            }
            this.wake();
        });
        for (const o of taken) m.seeding.set(tpKey(o.topic, o.partition), done);
    }

    /**
     * 'eos': connects the transactional producers of newly owned partitions, trying
     * again after the backoff until each has connected (or the member stopped):
     * until then the previous owner may still commit, so nothing is read or handed out.
     */
    private async fence(m: Member, c: ConsumerClient, taken: { topic: string; partition: number }[]): Promise<void> {
        await Promise.all(taken.map(async ({ topic, partition }) => {
            const pt = this.txnsOf(m, topic, partition);
            while (m.client === c && !this.closing && m.txns.get(tpKey(topic, partition)) === pt) {
                try {
                    if (!pt.connected) pt.connected = pt.producer.connect();
                    await pt.connected;
                    return;
                } catch (err) {
                    pt.connected = null;
                    this.host.event({ type: 'commit-failed', error: err });
                    await new Promise((resolve) => setTimeout(resolve, this.s.retryBackoff));
                }
            }
            throw new Error('no longer this member\'s partition');
        }));
    }

    // ---- member lifecycle -----------------------------------------------------------

    private dropDeliveries(m: Member): Promise<void> {
        const ended = this.eos ? this.endTxns(m, new Set()) : Promise.resolve();
        m.tracker.retainOnly([]).forEach(clearTimer);
        m.deferred = [];
        m.seeding.clear();
        m.assignment = null;
        m.rebalancing = false;
        this.wake();
        return ended;
    }

    private memberFailed(m: Member, c: ConsumerClient, err: unknown): void {
        if (m.client !== c || this.closing) return;
        m.client = null;
        c.stop().catch(() => undefined);
        void this.dropDeliveries(m);
        m.failing = true;
        this.host.event({ type: 'member-failed', member: m.index, error: err });
        this.host.event({ type: 'changed' });
        if (m.retryAtOnce) m.attempt = 0;
        this.scheduleStart(m, m.retryAtOnce ? 0 : retryDelay(m.attempt++, this.s.retryBackoff));
        m.retryAtOnce = false;
    }

    private scheduleStart(m: Member, delay: number): void {
        if (m.restartTimer) clearTimeout(m.restartTimer);
        m.restartTimer = setTimeout(() => { m.restartTimer = null; void this.startMember(m); }, delay);
    }

    private async startMember(m: Member): Promise<void> {
        if (this.closing || m.client || this.topics.length === 0) return;
        const c: ConsumerClient = this.host.createMember(this.topics, {
            member: m.index,
            concurrency: Math.min(MAX_CONCURRENT_PARTITIONS, this.flow ? this.s.maxInFlight : MAX_CONCURRENT_PARTITIONS),
            onBatch: (records, control) => this.onBatch(m, c, records, control),
            onAssignment: (a) => this.onAssignment(m, c, a),
            onCrash: (err) => this.memberFailed(m, c, err),
            onRebalancing: () => this.rebalancing(m, c),
        });
        m.client = c;
        m.assignment = null;
        m.rebalancing = false;
        this.host.event({ type: 'changed' });
        try {
            await c.start();
            if (this.paused && m.client === c) c.pause();
        } catch (err) {
            this.memberFailed(m, c, err);
        }
    }

    private async stopMember(m: Member): Promise<void> {
        if (m.restartTimer) clearTimeout(m.restartTimer);
        m.restartTimer = null;
        const c = m.client;
        if (!c) {
            await this.dropDeliveries(m);
            return;
        }
        await this.commitMember(m);
        if (this.eos) await this.finishTxns(m);
        m.client = null;
        await this.dropDeliveries(m);
        await c.stop().catch((err: unknown) => this.host.event({ type: 'stop-failed', error: err }));
    }
}

function clearTimer(d: Delivery): void {
    if (d.timer) clearTimeout(d.timer);
    d.timer = null;
}
