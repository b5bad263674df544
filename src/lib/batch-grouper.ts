// Batch output of kafka-consumer: gathers the records handed out for one
// partition into groups of up to `size`, each sent on as one message. A group
// goes out once full, once `waitMs` has passed since its first record, when
// its tag changes (exactly once: records of another transaction never share a
// group), or when the engine asks (before it waits for room in the flow).
// No I/O: the clock and the output are given, so the rules can be tested alone.
import type { Clock } from './batcher';
import { realClock } from './batcher';

interface Group<T> {
    items: T[];
    tag: unknown;
    timer: unknown;
}

export class Grouper<T> {
    private readonly groups = new Map<string, Group<T>>();

    constructor(
        private readonly size: number,
        private readonly waitMs: number,
        private readonly out: (key: string, items: T[]) => void,
        private readonly clock: Clock = realClock,
    ) {}

    /** Items held, over every group. */
    get pending(): number {
        let n = 0;
        for (const g of this.groups.values()) n += g.items.length;
        return n;
    }

    add(key: string, item: T, tag: unknown = null): void {
        let g = this.groups.get(key);
        if (g && g.tag !== tag) {
            this.flush(key);
            g = undefined;
        }
        if (!g) {
            const group: Group<T> = { items: [], tag, timer: null };
            group.timer = this.clock.setTimeout(() => {
                group.timer = null;
                if (this.groups.get(key) === group) this.flush(key);
            }, this.waitMs);
            this.groups.set(key, group);
            g = group;
        }
        g.items.push(item);
        if (g.items.length >= this.size) this.flush(key);
    }

    /** Sends the key's group now if it holds an item that `holds` is true of. */
    flushIf(key: string, holds: (item: T) => boolean): void {
        if (this.groups.get(key)?.items.some(holds)) this.flush(key);
    }

    /** Sends the key's group now, however small. */
    flush(key: string): void {
        const g = this.groups.get(key);
        if (!g) return;
        this.groups.delete(key);
        if (g.timer !== null) this.clock.clearTimeout(g.timer);
        if (g.items.length) this.out(key, g.items);
    }

    flushAll(): void {
        for (const key of [...this.groups.keys()]) this.flush(key);
    }

    /** Drops every group unsent (their records are delivered again by whoever owns them next). */
    clear(): void {
        for (const g of this.groups.values()) if (g.timer !== null) this.clock.clearTimeout(g.timer);
        this.groups.clear();
    }
}
