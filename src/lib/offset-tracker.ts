// Which offset a consumer may commit, per partition, when records are
// acknowledged out of order (SPEC decision 7). Records of one partition are
// delivered in increasing offset order, but offsets are not contiguous
// (transaction markers, compaction), so the commit point is "the oldest record
// still in flight", or, with none in flight, "one past the newest delivered".
// The committed offset therefore never passes an unacknowledged record.

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
}

export function tpKey(topic: string, partition: number): string {
    return `${partition}:${topic}`;
}

export type DeliverResult = 'new' | 'in-flight' | 'done';

export class OffsetTracker<T = unknown> {
    private readonly parts = new Map<string, { topic: string; partition: number; state: PartitionState<T> }>();
    private last: { topic: string; partition: number; state: PartitionState<T> } | null = null;
    private count = 0;

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
        s.highest = o;
        return true;
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
            p = { topic, partition, state: { inFlight: new Map(), highest: -1n, committed: -1n } };
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
        if (!s || s.highest < 0n) return null;
        const oldest = s.inFlight.keys().next();
        return oldest.done ? String(s.highest + 1n) : oldest.value;
    }

    /** Commit points that moved since they were last marked committed. */
    pendingCommits(): TopicPartitionOffset[] {
        const out: TopicPartitionOffset[] = [];
        for (const { topic, partition, state } of this.parts.values()) {
            const point = this.commitPoint(topic, partition);
            if (point !== null && BigInt(point) > state.committed) out.push({ topic, partition, offset: point });
        }
        return out;
    }

    /** Records that these offsets reached the broker. */
    markCommitted(offsets: TopicPartitionOffset[]): void {
        for (const c of offsets) {
            const s = this.lookup(c.topic, c.partition);
            if (s && BigInt(c.offset) > s.committed) s.committed = BigInt(c.offset);
        }
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

    /** All in-flight data (for clean-up). */
    all(): T[] {
        const out: T[] = [];
        for (const p of this.parts.values()) out.push(...p.state.inFlight.values());
        return out;
    }
}
