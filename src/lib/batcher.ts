// The batching accumulator behind kafka-publish. Messages are queued with the
// partition already chosen; a produce request takes the oldest queued messages
// once any set flush threshold is reached (bytes, count, or time since the first
// queued message), or at once when none is set. While a request is in flight,
// what arrives waits and leaves together in the next one. No I/O and no timers of
// its own: the clock and the send are given, so the rules can be tested alone.

export interface FlushSettings {
    /** flush once this many bytes are queued; 0 = not set */
    flushBytes: number;
    /** flush once this many messages are queued; 0 = not set */
    flushMessages: number;
    /** flush this many ms after the first message was queued; 0 = not set */
    flushFrequency: number;
    /** the most messages one request carries; 0 = no limit */
    flushMaxMessages: number;
    /** the most bytes one partition's record batch may carry in a request (the broker refuses larger batches) */
    maxBatchBytes: number;
    /** the most bytes one request carries */
    maxRequestBytes: number;
}

export interface Queued {
    topic: string;
    partition: number;
    /** bytes the record counts for */
    size: number;
}

export interface Clock {
    setTimeout(fn: () => void, ms: number): unknown;
    clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Sends one request's messages; a rejection is the caller's to report (the batcher carries on). */
export type Dispatch<T> = (batch: T[]) => Promise<void>;

/** Bytes per topic-partition: topic -> bytes by partition number (no key string built per message). */
type PartitionBytes = Map<string, number[]>;

function addBytes(m: PartitionBytes, q: Queued, bytes: number): number {
    let list = m.get(q.topic);
    if (!list) m.set(q.topic, list = []);
    const now = (list[q.partition] ?? 0) + bytes;
    list[q.partition] = now;
    return now;
}

export class Batcher<T extends Queued> {
    private queue: T[] = [];
    private head = 0;
    private queuedBytes = 0;
    /** queued bytes per topic-partition: a partition past maxBatchBytes needs more than one request */
    private partitionBytes: PartitionBytes = new Map();
    /** some partition holds maxBatchBytes or more */
    private partitionFull = false;
    private timer: unknown = null;
    private timerExpired = false;
    private draining = 0;
    private inFlightCount = 0;
    private drainWaiters: (() => void)[] = [];
    private readonly atOnce: boolean;

    constructor(
        private readonly settings: FlushSettings,
        private readonly dispatch: Dispatch<T>,
        private readonly clock: Clock = realClock,
        private readonly maxInFlight = 1,
    ) {
        this.atOnce = !settings.flushBytes && !settings.flushMessages && !settings.flushFrequency;
    }

    /** Messages waiting for a request. */
    get queued(): number {
        return this.queue.length - this.head;
    }

    /** Requests sent and not yet answered. */
    get inFlight(): number {
        return this.inFlightCount;
    }

    add(item: T): void {
        const wasEmpty = this.queued === 0;
        this.queue.push(item);
        this.queuedBytes += item.size;
        if (addBytes(this.partitionBytes, item, item.size) >= this.settings.maxBatchBytes) this.partitionFull = true;
        if (wasEmpty && this.settings.flushFrequency > 0) this.startTimer();
        this.pump();
    }

    /** Sends everything queued, thresholds or not; resolves once nothing is queued or in flight. */
    drain(): Promise<void> {
        if (this.queued === 0 && this.inFlightCount === 0) return Promise.resolve();
        this.draining++;
        const done = new Promise<void>((resolve) => this.drainWaiters.push(resolve));
        this.pump();
        return done.then(() => { this.draining--; });
    }

    private startTimer(): void {
        this.stopTimer();
        this.timer = this.clock.setTimeout(() => {
            this.timer = null;
            this.timerExpired = true;
            this.pump();
        }, this.settings.flushFrequency);
    }

    private stopTimer(): void {
        if (this.timer !== null) this.clock.clearTimeout(this.timer);
        this.timer = null;
    }

    /** True when the queue holds more than one request may carry. */
    private overflowing(): boolean {
        const s = this.settings;
        if (s.flushMaxMessages > 0 && this.queued >= s.flushMaxMessages) return true;
        if (this.queuedBytes >= s.maxRequestBytes) return true;
        return this.partitionFull;
    }

    private ready(): boolean {
        if (this.queued === 0) return false;
        if (this.atOnce || this.draining > 0 || this.timerExpired) return true;
        const s = this.settings;
        if (s.flushMessages > 0 && this.queued >= s.flushMessages) return true;
        if (s.flushBytes > 0 && this.queuedBytes >= s.flushBytes) return true;
        return this.overflowing();
    }

    /** The oldest queued messages that fit one request, in order. */
    private take(): T[] {
        const s = this.settings;
        const limit = s.flushMaxMessages > 0 ? s.flushMaxMessages : Infinity;
        const batchBytes: PartitionBytes = new Map();
        let total = 0;
        let end = this.head;
        while (end < this.queue.length && end - this.head < limit) {
            const item = this.queue[end];
            const inPartition = batchBytes.get(item.topic)?.[item.partition] ?? 0;
            // A message always goes when the request or its partition would otherwise be empty.
            if (inPartition > 0 && inPartition + item.size > s.maxBatchBytes) break;
            if (total > 0 && total + item.size > s.maxRequestBytes) break;
            addBytes(batchBytes, item, item.size);
            total += item.size;
            end++;
        }
        const batch = this.queue.slice(this.head, end);
        this.head = end;
        if (this.head === this.queue.length) {
            this.queue = [];
            this.head = 0;
        } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
            this.queue = this.queue.slice(this.head);
            this.head = 0;
        }
        this.queuedBytes -= total;
        this.partitionFull = false;
        for (const [topic, taken] of batchBytes) {
            const left = this.partitionBytes.get(topic)!;
            let any = false;
            for (let p = 0; p < taken.length; p++) if (taken[p]) left[p] = Math.max(0, left[p] - taken[p]);
            for (const bytes of left) if (bytes) any = true;
            if (!any) this.partitionBytes.delete(topic);
        }
        for (const list of this.partitionBytes.values()) {
            for (const bytes of list) if (bytes && bytes >= s.maxBatchBytes) this.partitionFull = true;
        }
        return batch;
    }

    private pump(): void {
        while (this.inFlightCount < this.maxInFlight && this.ready()) {
            const batch = this.take();
            this.timerExpired = false;
            this.stopTimer();
            if (this.queued > 0 && this.settings.flushFrequency > 0) this.startTimer();
            this.inFlightCount++;
            const settle = (): void => {
                this.inFlightCount--;
                this.pump();
                this.checkDrained();
            };
            Promise.resolve()
                .then(() => this.dispatch(batch))
                .then(settle, settle);
        }
        this.checkDrained();
    }

    private checkDrained(): void {
        if (this.queued === 0 && this.inFlightCount === 0 && this.drainWaiters.length) {
            this.drainWaiters.splice(0).forEach((resolve) => resolve());
        }
    }
}
