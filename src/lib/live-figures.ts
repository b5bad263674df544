// The live figures a node's status shows beside its state (SPEC decision 20):
// a rate over the last refresh, and a consumer's lag, the records between its
// position and the end of each partition it owns, summed.

/** Records per second between two readings. */
export class RateMeter {
    private count = 0;
    private lastCount = 0;
    private lastAt: number;

    constructor(private readonly now: () => number = Date.now) {
        this.lastAt = now();
    }

    add(n = 1): void {
        this.count += n;
    }

    /** The rate since the previous reading (rounded; 0 when no time passed). */
    read(): number {
        const at = this.now();
        const ms = at - this.lastAt;
        const n = this.count - this.lastCount;
        this.lastAt = at;
        this.lastCount = this.count;
        return ms > 0 ? Math.round(n * 1000 / ms) : 0;
    }
}

/** Each partition's end offset as the latest fetch reported it. */
export class EndOffsets {
    private readonly ends = new Map<string, { end: bigint; first: bigint }>();
    private fetched = false;

    /** From a fetched batch: its records' first offset and the partition's high watermark (if the client told). */
    note(topic: string, partition: number, firstOffset: string, highWaterOffset: string | undefined): void {
        if (highWaterOffset === undefined) return;
        this.fetched = true;
        this.ends.set(`${partition}:${topic}`, { end: BigInt(highWaterOffset), first: BigInt(firstOffset) });
    }

    /** Whether a fetch reported ends since the last call: when none did, the ends are read apart. */
    takeFetched(): boolean {
        const f = this.fetched;
        this.fetched = false;
        return f;
    }

    /**
     * From a ListOffsets of the end (no fetch, e.g. while paused): moves a known
     * end forward. A partition not fetched from yet stays unknown: where this
     * consumer stands in it is not known either.
     */
    raise(topic: string, partition: number, end: string): void {
        const e = this.ends.get(`${partition}:${topic}`);
        if (e && BigInt(end) > e.end) e.end = BigInt(end);
    }

    get(topic: string, partition: number): { end: bigint; first: bigint } | undefined {
        return this.ends.get(`${partition}:${topic}`);
    }
}

/**
 * Lag summed over the owned partitions: end offset minus position (the commit
 * point; before anything is delivered, the first fetched offset). Null when no
 * owned partition has been fetched from yet.
 */
export function sumLag(
    owned: { topic: string; partition: number }[],
    ends: EndOffsets,
    position: (topic: string, partition: number) => string | null,
): number | null {
    let lag = 0n;
    let known = false;
    for (const o of owned) {
        const e = ends.get(o.topic, o.partition);
        if (!e) continue;
        known = true;
        const p = position(o.topic, o.partition);
        const at = p === null ? e.first : BigInt(p);
        if (e.end > at) lag += e.end - at;
    }
    return known ? Number(lag) : null;
}

/** A count as a status shows it: 950, 12.3k, 4.5M. */
export function shortCount(n: number): string {
    if (n < 1000) return String(n);
    if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 1 : 0)}k`;
    return `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)}M`;
}
