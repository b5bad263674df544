// The consumer's delivery engine: the group members of one kafka-consumer node,
// the in-flight bound, acknowledgements, retries and commits. No Node-RED and no
// client library here: records come in through the members (lib/consumer-client),
// go out through the host's emit(), and come back as ack() or fail().
//
// Two acknowledgement policies share it:
// - 'immediate': a record is done as soon as it is handed to the flow;
// - 'flow': a record is done when the flow says so (ack), failed records are
//   retried after the retry backoff, then skipped or dead-lettered; at most
//   maxInFlight records are out at once, shared fairly between the partitions
//   that have records waiting.
// Either way the committed offset never passes a record that is not done
// (lib/offset-tracker), and what was done above it travels with the commit, so
// a partition's next owner does not deliver it again.
import { OffsetTracker, tpKey } from './offset-tracker';
import type {
    BatchControl, ConsumerClient, ConsumerOptions, ConsumerRecord, PartitionAssignment,
} from './consumer-client';
import { afterFailure, failureText } from './failure-policy';
import { retryDelay } from './connection-state';
import { EndOffsets, sumLag } from './live-figures';
import type { TopicPartitionOffset } from './offset-tracker';

export type AckPolicy = 'immediate' | 'flow';

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
    /** ms between commits; 0: as soon as a burst of acknowledgements is over */
    commitInterval: number;
    /** ms between heartbeats while the flow is full */
    heartbeatInterval: number;
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
    /** Hands a record to the flow. */
    emit(record: ConsumerRecord): void;
    /** Writes a record that failed too often to the dead-letter topic. */
    deadLetter(record: ConsumerRecord, error: string, attempts: number): Promise<void>;
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
    /** Retries that fell due while paused or rebalancing: emitted once the member may hand out again. */
    deferred: Delivery[];
    attempt: number;
    failing: boolean;
    committing: Promise<void>;
}

/** Batches are handed over for this many partitions at once, at most. */
const MAX_CONCURRENT_PARTITIONS = 64;
/** While waiting, the engine looks at the group at least this often. */
const WAIT_SLICE_MS = 1000;

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
    private readonly flow: boolean;
    /** Once full, the flow is refilled when this few records are in flight: in runs, not one record per ack. */
    private readonly lowWater: number;
    /** Seeks per partition so far: a batch fetched before the latest one hands nothing more out. */
    private readonly seeks = new Map<string, number>();
    private readonly ends = new EndOffsets();

    constructor(private readonly s: EngineSettings, private readonly host: EngineHost) {
        this.flow = s.policy === 'flow';
        this.lowWater = s.maxInFlight - Math.max(1, Math.floor(s.maxInFlight / 4));
        for (let i = 0; i < s.consumerCount; i++) {
            this.members.push({
                index: i, client: null, tracker: new OffsetTracker<Delivery>(), assignment: null, rebalancing: false,
                seeding: new Map(), restartTimer: null, deferred: [], attempt: 0, failing: false, committing: Promise.resolve(),
            });
        }
        if (s.commitInterval > 0) this.commitTimer = setInterval(() => void this.commit(), s.commitInterval);
    }

    // ---- what the host asks ---------------------------------------------------

    /** Subscribes every member to these topics (members already running are stopped first). */
    async setTopics(topics: string[]): Promise<void> {
        await Promise.all(this.members.map((m) => this.stopMember(m)));
        this.topics = topics.slice();
        if (!this.closing) this.members.forEach((m) => void this.startMember(m));
    }

    /** A record came back done. Ignored for records this node no longer holds (a lost partition, an old ack). */
    ack(r: { topic: string; partition: number; offset: string }): void {
        const [m, d] = this.holderOf(r);
        if (m && d) this.acknowledge(m, d);
    }

    /** A record came back failed. */
    fail(r: { topic: string; partition: number; offset: string }, error: unknown): void {
        const [m, d] = this.holderOf(r);
        if (m && d) this.failed(m, d, error);
    }

    pause(): void {
        this.setPaused(true);
    }

    resume(): void {
        this.setPaused(false);
    }

    /** Members waiting to restart after a failure are restarted now (the cluster is reachable again). */
    retryNow(): void {
        for (const m of this.members) {
            if (m.restartTimer) this.scheduleStart(m, 0);
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
        this.closing = true;
        if (this.commitTimer) clearInterval(this.commitTimer);
        if (this.commitSoon) clearImmediate(this.commitSoon);
        if (this.commitRetry) clearTimeout(this.commitRetry);
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

    private holderOf(r: { topic: string; partition: number; offset: string }): [Member, Delivery] | [null, null] {
        for (const m of this.members) {
            const d = m.tracker.get(r.topic, r.partition, r.offset);
            if (d !== undefined) return [m, d];
        }
        return [null, null];
    }

    private emit(m: Member, d: Delivery): void {
        if (this.flow && this.s.ackTimeout) {
            const r = d.record;
            d.timer = setTimeout(() => {
                d.timer = null;
                if (m.tracker.get(r.topic, r.partition, r.offset) === d) this.failed(m, d, this.host.ackTimeoutText(this.s.ackTimeout));
            }, this.s.ackTimeout);
        }
        this.host.emit(d.record);
    }

    private acknowledge(m: Member, d: Delivery): void {
        clearTimer(d);
        if (m.tracker.ack(d.record.topic, d.record.partition, d.record.offset) === undefined) return;
        if (this.inFlight() <= this.lowWater) this.wake();
        this.commitIfNoInterval();
    }

    /** With commit interval 0, commits as soon as the current burst of acks is over. */
    private commitIfNoInterval(): void {
        if (this.s.commitInterval === 0 && !this.commitSoon && !this.closing) {
            this.commitSoon = setImmediate(() => { this.commitSoon = null; void this.commit(); });
        }
    }

    private failed(m: Member, d: Delivery, error: unknown): void {
        clearTimer(d);
        d.attempts++;
        const r = d.record;
        const text = failureText(error);
        const action = afterFailure(d.attempts, this.s.maxAttempts, this.s.afterMaxAttempts);
        const stillHeld = () => !this.closing && m.tracker.get(r.topic, r.partition, r.offset) === d;
        if (action === 'skip') {
            this.host.event({ type: 'skipped', record: r, attempts: d.attempts, error: text });
            this.acknowledge(m, d);
            return;
        }
        if (action === 'dead-letter') {
            this.host.deadLetter(r, text, d.attempts).then(() => {
                if (!stillHeld()) return; // acknowledged meanwhile, or the partition moved
                this.host.event({ type: 'dead-lettered', record: r, attempts: d.attempts });
                this.acknowledge(m, d);
            }, (err: unknown) => {
                this.host.event({ type: 'dead-letter-failed', record: r, error: err });
                if (!stillHeld()) return;
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
        m.committing = m.committing.then(async () => {
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
        return Math.max(1, Math.floor(this.s.maxInFlight / Math.max(1, this.activeBatches)));
    }

    private canEmit(m: Member, topic: string, partition: number): boolean {
        if (this.paused) return false;
        if (!this.flow) return true;
        return this.inFlight() < this.s.maxInFlight && m.tracker.inFlightOf(topic, partition) < this.share();
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
                    this.rebalancing(m, c);
                    throw err;
                }
                beat = Date.now();
            }
        }
        return this.live(m, c, control);
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
            const seeding = m.seeding.get(tpKey(topic, partition));
            if (seeding) await seeding;
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
            if (!this.canEmit(m, topic, partition)) {
                if (unresolved !== null) control.resolveOffset(unresolved);
                unresolved = null;
                if (!(await this.waitUntil(m, c, control, () => this.canRefill(m, topic, partition)))) return;
            }
            if (stale()) return; // a seek moved the partition: what this batch holds is not wanted
            if (!this.flow) {
                if (t.pass(topic, partition, record.offset)) this.host.emit(record);
            } else {
                const d: Delivery = { record, attempts: 0, timer: null };
                if (t.deliver(topic, partition, record.offset, d) === 'new') this.emit(m, d);
            }
            unresolved = record.offset;
        }
        if (unresolved !== null && !stale()) control.resolveOffset(unresolved);
        if (!this.flow) this.commitIfNoInterval();
    }

    private onAssignment(m: Member, c: ConsumerClient, assignment: PartitionAssignment[]): void {
        if (m.client !== c) return;
        m.assignment = assignment;
        m.rebalancing = false;
        const owned = assignment.flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition })));
        m.tracker.retainOnly(owned).forEach(clearTimer);
        for (const key of m.seeding.keys()) {
            if (!owned.some((o) => tpKey(o.topic, o.partition) === key)) m.seeding.delete(key);
        }
        const taken = owned.filter((o) => !m.tracker.has(o.topic, o.partition) && !m.seeding.has(tpKey(o.topic, o.partition)));
        if (taken.length) this.seed(m, c, taken);
        this.emitDeferred(m);
        if (m.failing) this.host.event({ type: 'member-recovered', member: m.index });
        m.failing = false;
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
        const done = c.committed(asked).then((offsets) => {
            if (m.client !== c) return;
            for (const o of offsets) {
                if (m.seeding.get(tpKey(o.topic, o.partition)) === done) m.tracker.seed(o.topic, o.partition, o.offset, o.metadata);
            }
        }, () => undefined).finally(() => {
            for (const o of taken) {
                const key = tpKey(o.topic, o.partition);
                if (m.seeding.get(key) === done) m.seeding.delete(key);
            }
        });
        for (const o of taken) m.seeding.set(tpKey(o.topic, o.partition), done);
    }

    // ---- member lifecycle -----------------------------------------------------------

    private dropDeliveries(m: Member): void {
        m.tracker.retainOnly([]).forEach(clearTimer);
        m.deferred = [];
        m.seeding.clear();
        m.assignment = null;
        m.rebalancing = false;
        this.wake();
    }

    private memberFailed(m: Member, c: ConsumerClient, err: unknown): void {
        if (m.client !== c || this.closing) return;
        m.client = null;
        c.stop().catch(() => undefined);
        this.dropDeliveries(m);
        m.failing = true;
        this.host.event({ type: 'member-failed', member: m.index, error: err });
        this.host.event({ type: 'changed' });
        this.scheduleStart(m, retryDelay(m.attempt++, this.s.retryBackoff));
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
            this.dropDeliveries(m);
            return;
        }
        await this.commitMember(m);
        m.client = null;
        this.dropDeliveries(m);
        await c.stop().catch((err: unknown) => this.host.event({ type: 'stop-failed', error: err }));
    }
}

function clearTimer(d: Delivery): void {
    if (d.timer) clearTimeout(d.timer);
    d.timer = null;
}
