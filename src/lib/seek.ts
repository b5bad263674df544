// Replay (SPEC decision 18): what a `msg.action = "seek"` control message asks
// for, read without Node-RED, and the offsets it resolves to. Where the offsets
// come from (Kafka's ListOffsets, by time or at either end) is the client's.
import type { TopicPartitionOffset } from './offset-tracker';

/** Where to go: an offset, the first record at or after a time (ms since the epoch), or either end. */
export type SeekTo = { offset: string } | { timestamp: number } | 'earliest' | 'latest';

export interface SeekRequest {
    topic: string;
    /** null: every partition of the topic */
    partition: number | null;
    to: SeekTo;
}

/** A problem with the control message: a key of kafka-consumer's `errors.seek-*`. */
export type SeekProblem = { key: 'seek-topic' | 'seek-partition' | 'seek-target' | 'seek-offset-needs-partition' };

/** Reads one topic's (or every subscribed topic's) seek from a control message. */
export function readSeek(msg: Record<string, unknown>, subscribed: string[]): { requests: SeekRequest[] } | { problem: SeekProblem } {
    const spec = (msg.seek && typeof msg.seek === 'object' ? msg.seek : msg) as Record<string, unknown>;
    const topic = typeof spec.topic === 'string' && spec.topic.trim() ? spec.topic.trim() : null;
    if (!topic && spec.topic !== undefined && spec.topic !== null && spec.topic !== '') return { problem: { key: 'seek-topic' } };
    let partition: number | null = null;
    if (spec.partition !== undefined && spec.partition !== null && spec.partition !== '') {
        const p = Number(spec.partition);
        if (!Number.isInteger(p) || p < 0) return { problem: { key: 'seek-partition' } };
        partition = p;
    }
    let to: SeekTo;
    if (spec.offset === 'earliest' || spec.offset === 'latest') {
        to = spec.offset;
    } else if (spec.offset !== undefined && spec.offset !== null && spec.offset !== '') {
        const o = String(spec.offset);
        if (!/^\d+$/.test(o)) return { problem: { key: 'seek-target' } };
        if (partition === null) return { problem: { key: 'seek-offset-needs-partition' } };
        to = { offset: o };
    } else if (spec.timestamp !== undefined && spec.timestamp !== null && spec.timestamp !== '') {
        const ts = spec.timestamp instanceof Date ? spec.timestamp.getTime()
            : typeof spec.timestamp === 'number' ? spec.timestamp : Date.parse(String(spec.timestamp));
        if (!Number.isFinite(ts) || ts < 0) return { problem: { key: 'seek-target' } };
        to = { timestamp: ts };
    } else {
        return { problem: { key: 'seek-target' } };
    }
    if (topic && !subscribed.includes(topic)) return { problem: { key: 'seek-topic' } };
    if (!topic && partition !== null) return { problem: { key: 'seek-topic' } };
    const topics = topic ? [topic] : subscribed;
    return { requests: topics.map((t) => ({ topic: t, partition, to })) };
}

/** The partitions' offsets at an end or at a time: ListOffsets, through the client. */
export type OffsetLookup = (topic: string, at: 'earliest' | 'latest' | { timestamp: number }) => Promise<{ partition: number; offset: string }[]>;

/** The offset each partition named by the requests moves to. */
export async function resolveSeek(requests: SeekRequest[], lookup: OffsetLookup): Promise<TopicPartitionOffset[]> {
    const out: TopicPartitionOffset[] = [];
    for (const r of requests) {
        if (typeof r.to === 'object' && 'offset' in r.to) {
            out.push({ topic: r.topic, partition: r.partition!, offset: r.to.offset });
            continue;
        }
        const found = await lookup(r.topic, r.to);
        for (const p of found) {
            if (r.partition === null || p.partition === r.partition) out.push({ topic: r.topic, partition: p.partition, offset: p.offset });
        }
    }
    return out;
}
