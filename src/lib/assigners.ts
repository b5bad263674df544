// Partition assignment strategies of a consumer group, as the Java client
// defines them. Pure functions: the client seam encodes and decodes the group
// protocol around them.

export interface GroupMember {
    memberId: string;
    /** topics this member subscribes to */
    topics: string[];
}

/** memberId -> topic -> partitions */
export type Assignment = Record<string, Record<string, number[]>>;

function emptyAssignment(members: GroupMember[]): Assignment {
    const out: Assignment = {};
    for (const m of members) out[m.memberId] = {};
    return out;
}

function byId(a: GroupMember, b: GroupMember): number {
    return a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0;
}

/**
 * Range: per topic, its partitions in order are cut into contiguous ranges, one
 * per subscribed member (sorted by id); each gets floor(n/m), the first n%m one more.
 */
export function rangeAssign(members: GroupMember[], partitions: Record<string, number[]>): Assignment {
    const out = emptyAssignment(members);
    for (const topic of Object.keys(partitions).sort()) {
        const parts = partitions[topic].slice().sort((a, b) => a - b);
        const subs = members.filter((m) => m.topics.includes(topic)).sort(byId);
        if (subs.length === 0 || parts.length === 0) continue;
        const each = Math.floor(parts.length / subs.length);
        const extra = parts.length % subs.length;
        let start = 0;
        subs.forEach((m, i) => {
            const n = each + (i < extra ? 1 : 0);
            if (n > 0) out[m.memberId][topic] = parts.slice(start, start + n);
            start += n;
        });
    }
    return out;
}

/**
 * RoundRobin: all topic-partitions sorted by topic then partition are dealt in
 * turn to the members sorted by id; a member not subscribed to a partition's
 * topic is passed over for it.
 */
export function roundRobinAssign(members: GroupMember[], partitions: Record<string, number[]>): Assignment {
    const out = emptyAssignment(members);
    const sorted = members.slice().sort(byId);
    if (sorted.length === 0) return out;
    let next = 0;
    for (const topic of Object.keys(partitions).sort()) {
        if (!sorted.some((m) => m.topics.includes(topic))) continue;
        for (const p of partitions[topic].slice().sort((a, b) => a - b)) {
            while (!sorted[next % sorted.length].topics.includes(topic)) next++;
            const m = sorted[next % sorted.length];
            (out[m.memberId][topic] ??= []).push(p);
            next++;
        }
    }
    return out;
}

export const ASSIGNERS = { range: rangeAssign, roundrobin: roundRobinAssign } as const;
