// Which offset a consumer may commit, per partition, when records are
// acknowledged out of order (SPEC decision 7). Records of one partition are
// delivered in increasing offset order, but offsets are not contiguous
// (transaction markers, compaction), so the commit point is "the oldest record
// still in flight", or, with none in flight, "one past the newest delivered".
// The committed offset therefore never passes an unacknowledged record.
//
// Records acknowledged above the commit point (while an older one waits for its
// retry, say) travel with the commit, in the offset's metadata string (see
// ./commit-metadata): whoever owns the partition next skips them instead of
// delivering them again.
import { encodeDone, decodeDone } from './commit-metadata';
import type { OffsetRange } from './commit-metadata';

export interface TopicPartitionOffset {
    topic: string;
    partition: number;
    /** decimal string (int64) */
    offset: string;
}

interface PartitionState<T> {
    /** in-flight records by offset, in delivery (= ascending offset) order */
    inFlight: Map<string, T>;
    /** newest delivered offset */
    highest: bigint;
    /** the offset last committed (or -1n when none) */
    committed: bigint;
    /** the metadata committed with it */
    committedMeta: string | null;
    /** offsets known done above `highest` (from the previous owner's commit), ascending */
    skip: OffsetRange[];
    /** set by a seek: the position is known (and committable) before anything is delivered */
    sought: boolean;
    /** how often the partition was reset by a seek: commits asked for before the last one are stale */
    resets: number;
}

export interface CommitPoint extends TopicPartitionOffset {
    /** the offsets done above it, encoded (./commit-metadata); null when none */
    metadata: string | null;
}

export function tpKey(topic: string, partition: number): string {
    return `${partition}:${topic}`;
}

export type DeliverResult = 'new' | 'in-flight' | 'done';

export class OffsetTracker<T = unknown> {
    private readonly parts = new Map<string, { topic: string; partition: number; state: PartitionState<T> }>();
    private last: { topic: string; partition: number; state: PartitionState<T> } | null = null;
    private count = 0;
    /** Each commit point handed out by pendingCommits(), with its partition's reset count then. */
    private readonly issued = new WeakMap<object, number>();

    /** Records delivered and neither acknowledged nor dropped. */
    get inFlight(): number {
        return this.count;
    }

    /**
     * Registers a record handed to the flow. 'new' when it is; 'in-flight' when
     * the same record is still being processed; 'done' when it was already
     * acknowledged (a redelivery after a rejoin): the caller must not emit it again.
     */
    deliver(topic: string, partition: number, offset: string, data: T): DeliverResult {
        const s = this.state(topic, partition);
        const o = BigInt(offset);
        if (s.inFlight.has(offset)) return 'in-flight';
        if (o <= s.highest) return 'done';
        if (s.skip.length && this.skipped(s, o)) return 'done';
        s.inFlight.set(offset, data);
        s.highest = o;
        this.count++;
        return 'new';
    }

    /**
     * Registers a record that is consumed as it is handed over (ack mode
     * immediate): deliver and ack in one step. False for a redelivery of a
     * record already passed, which the caller must not emit again.
     */
    pass(topic: string, partition: number, offset: string): boolean {
        const s = this.state(topic, partition);
        const o = BigInt(offset);
        if (o <= s.highest) return false;
        if (s.skip.length && this.skipped(s, o)) return false;
        s.highest = o;
        return true;
    }

    /** True (and the record counted as delivered and done) when the previous owner had finished it. */
    private skipped(s: PartitionState<T>, o: bigint): boolean {
        while (s.skip.length && s.skip[0].last < o) s.skip.shift();
        if (!s.skip.length || s.skip[0].first > o) return false;
        s.highest = o;
        return true;
    }

    /**
     * Takes over a partition from its committed offset and the metadata committed
     * with it: the records that metadata names as done are not delivered again.
     * Only for a partition this tracker has not delivered from yet.
     */
    seed(topic: string, partition: number, committed: string, metadata: string | null): void {
        const s = this.state(topic, partition);
        if (s.highest >= 0n || s.inFlight.size || s.sought) return;
        const base = BigInt(committed);
        if (base < 0n) return;
        s.skip = decodeDone(base, metadata);
        s.committed = base;
        s.committedMeta = metadata;
    }

    private state(topic: string, partition: number): PartitionState<T> {
        return this.lookup(topic, partition, true)!;
    }

    /** A partition's state (made when `create`); the last one looked up is kept at hand, as runs of records share it. */
    private lookup(topic: string, partition: number, create = false): PartitionState<T> | undefined {
        const last = this.last;
        if (last && last.partition === partition && last.topic === topic) return last.state;
        const key = tpKey(topic, partition);
        let p = this.parts.get(key);
        if (!p) {
            if (!create) return undefined;
            p = { topic, partition, state: { inFlight: new Map(), highest: -1n, committed: -1n, committedMeta: null, skip: [], sought: false, resets: 0 } };
            this.parts.set(key, p);
        }
        this.last = p;
        return p.state;
    }

    /** The in-flight record's data, if this tracker holds it. */
    get(topic: string, partition: number, offset: string): T | undefined {
        return this.lookup(topic, partition)?.inFlight.get(offset);
    }

    /** Acknowledges a record; returns its data, or undefined when it was not in flight here. */
    ack(topic: string, partition: number, offset: string): T | undefined {
        const s = this.lookup(topic, partition);
        const data = s?.inFlight.get(offset);
        if (!s || data === undefined) return undefined;
        s.inFlight.delete(offset);
        this.count--;
        return data;
    }

    /** The offset that may be committed for a partition (null when nothing was delivered). */
    commitPoint(topic: string, partition: number): string | null {
        const s = this.lookup(topic, partition);
        return s ? this.pointOf(s) : null;
    }

    private pointOf(s: PartitionState<T>): string | null {
        if (s.highest < 0n && !s.sought) return null;
        const oldest = s.inFlight.keys().next();
        return oldest.done ? String(s.highest + 1n) : oldest.value;
    }

    /** The offsets done above a commit point: the gaps between in-flight records, then what was skipped ahead. */
    private doneAbove(s: PartitionState<T>, point: bigint): OffsetRange[] {
        const done: OffsetRange[] = [];
        let next = point + 1n;
        for (const key of s.inFlight.keys()) {
            const o = BigInt(key);
            if (o <= point) continue;
            if (o > next) done.push({ first: next, last: o - 1n });
            next = o + 1n;
        }
        if (s.highest >= next) done.push({ first: next, last: s.highest });
        for (const r of s.skip) if (r.last > s.highest) done.push({ first: r.first > s.highest ? r.first : s.highest + 1n, last: r.last });
        return done;
    }

    /** Commit points (with their metadata) that changed since they were last marked committed. */
    pendingCommits(): CommitPoint[] {
        const out: CommitPoint[] = [];
        for (const { topic, partition, state } of this.parts.values()) {
            const point = this.pointOf(state);
            if (point === null) continue;
            const p = BigInt(point);
            if (p < state.committed) continue;
            const metadata = encodeDone(p, this.doneAbove(state, p));
            if (p > state.committed || metadata !== state.committedMeta) {
                const c = { topic, partition, offset: point, metadata };
                this.issued.set(c, state.resets);
                out.push(c);
            }
        }
        return out;
    }

    /** Records that these offsets (and their metadata) reached the broker. */
    markCommitted(offsets: (TopicPartitionOffset & { metadata?: string | null })[]): void {
        for (const c of offsets) {
            const s = this.lookup(c.topic, c.partition);
            if (!s || BigInt(c.offset) < s.committed) continue;
            // A commit asked for before a seek says nothing about the position the seek set.
            const resets = this.issued.get(c);
            if (resets !== undefined && resets !== s.resets) continue;
            s.committed = BigInt(c.offset);
            s.committedMeta = c.metadata ?? null;
        }
    }

    /**
     * Moves a partition's position to `offset` (a seek): its in-flight records are
     * dropped (their acknowledgements are ignored from now on), what a previous
     * owner had done ahead is forgotten, and `offset` becomes the commit point,
     * even below the offset committed so far. Returns the dropped data.
     */
    reset(topic: string, partition: number, offset: string): T[] {
        const s = this.state(topic, partition);
        const dropped = [...s.inFlight.values()];
        this.count -= s.inFlight.size;
        s.inFlight.clear();
        s.highest = BigInt(offset) - 1n;
        s.skip = [];
        s.sought = true;
        s.resets++;
        s.committed = -1n;
        s.committedMeta = null;
        return dropped;
    }

    /** In-flight records of one partition. */
    inFlightOf(topic: string, partition: number): number {
        return this.lookup(topic, partition)?.inFlight.size ?? 0;
    }

    /** Partitions this tracker knows (delivered from, or seeded). */
    has(topic: string, partition: number): boolean {
        return this.lookup(topic, partition) !== undefined;
    }

    /**
     * Forgets every partition not in `kept` (lost in a rebalance): their
     * acknowledgements are ignored from now on and their records go to the new
     * owner. Returns the dropped in-flight data, so timers can be cleared.
     */
    retainOnly(kept: { topic: string; partition: number }[]): T[] {
        this.last = null;
        const keep = new Set(kept.map((k) => tpKey(k.topic, k.partition)));
        const dropped: T[] = [];
        for (const [key, p] of this.parts) {
            if (keep.has(key)) continue;
            dropped.push(...p.state.inFlight.values());
            this.count -= p.state.inFlight.size;
            this.parts.delete(key);
        }
        return dropped;
    }

    /**
     * Forgets one partition (its transaction was aborted): its records are
     * delivered again from wherever the client fetches next. Returns the dropped
     * in-flight data.
     */
    forget(topic: string, partition: number): T[] {
        const key = tpKey(topic, partition);
        const p = this.parts.get(key);
        if (!p) return [];
        this.last = null;
        this.parts.delete(key);
        this.count -= p.state.inFlight.size;
        return [...p.state.inFlight.values()];
    }

    /** All in-flight data (for clean-up). */
    all(): T[] {
        const out: T[] = [];
        for (const p of this.parts.values()) out.push(...p.state.inFlight.values());
        return out;
    }
}
