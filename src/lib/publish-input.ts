// What one message asks kafka-publish to write (SPEC decision 12), read from the
// node's fields or, where a field is empty, from msg.topic / msg.partition /
// msg.key / msg.headers; and the size check against max message bytes.
import type { Problem } from './settings';
import { legalTopic } from './topics';

/** The node's own fields, as the editor stores them: empty means "from msg.*". */
export interface PublishFields {
    topic?: string;
    partition?: string | number;
    key?: string;
    headers?: string;
}

export type HeaderValues = Record<string, Buffer | Buffer[]>;

export interface PublishRecord {
    topic: string;
    /** null: chosen by the partitioner */
    partition: number | null;
    key: Buffer | null;
    /** null: a tombstone; a string is written as UTF-8 (kept as is to save a copy) */
    value: Buffer | string | null;
    headers: HeaderValues | undefined;
    /** bytes this record counts against max message bytes (see recordSize) */
    size: number;
}

export type ReadResult = { record: PublishRecord; problem?: undefined } | { record?: undefined; problem: Problem };

/**
 * Per record, the most its length fields, attributes, timestamp and offset deltas
 * can take in a v2 record batch: five int32 varints (5 bytes each), one int64
 * varint (10 bytes) and the attributes byte. Go's Sarama uses the same bound.
 */
export const MAX_RECORD_OVERHEAD = 5 * 5 + 10 + 1;
/** Per header, the most its two length varints can take. */
export const MAX_HEADER_OVERHEAD = 2 * 5;

function empty(v: unknown): boolean {
    return v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
}

function isBufferJson(v: unknown): v is { type: 'Buffer'; data: number[] } {
    return typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'Buffer' &&
        Array.isArray((v as { data?: unknown }).data);
}

/** Bytes of a value that is written as is when it is a string or bytes, and as JSON otherwise. */
function toBytes(v: unknown): Buffer | undefined {
    if (Buffer.isBuffer(v)) return v;
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    if (typeof v === 'string') return Buffer.from(v, 'utf8');
    if (isBufferJson(v)) return Buffer.from(v.data);
    let json: string | undefined;
    try {
        json = JSON.stringify(v);
    } catch {
        return undefined;
    }
    return json === undefined ? undefined : Buffer.from(json, 'utf8');
}

export function readTopic(fields: PublishFields, msg: Record<string, unknown>): string | Problem {
    const own = typeof fields.topic === 'string' ? fields.topic.trim() : '';
    const t = msg.topic;
    const topic = own || (typeof t === 'string' ? t.trim() : '');
    if (!topic) return { key: 'no-topic' };
    // Checked here, not by the broker: an illegal name is the message's fault, not the cluster's.
    if (!legalTopic(topic)) return { key: 'bad-topic', params: { topic: topic.length > 60 ? `${topic.slice(0, 57)}...` : topic } };
    return topic;
}

export function readPartition(fields: PublishFields, msg: Record<string, unknown>): number | null | Problem {
    const raw = empty(fields.partition) ? msg.partition : fields.partition;
    if (empty(raw)) return null;
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < 0 || n > 0x7fffffff) {
        return { key: 'bad-partition', params: { value: typeof raw === 'string' ? raw : JSON.stringify(raw) ?? String(raw) } };
    }
    return n;
}

export function readKey(fields: PublishFields, msg: Record<string, unknown>): Buffer | null | Problem {
    if (typeof fields.key === 'string' && fields.key !== '') return Buffer.from(fields.key, 'utf8');
    if (msg.key === undefined || msg.key === null || msg.key === '') return null;
    return toBytes(msg.key) ?? { key: 'bad-key' };
}

/** Headers: a JSON object (text) or, from msg.headers, an object; values as bytes. */
export function readHeaders(fields: PublishFields, msg: Record<string, unknown>): HeaderValues | undefined | Problem {
    let raw: unknown;
    let source: 'field' | 'msg';
    if (!empty(fields.headers)) {
        raw = fields.headers;
        source = 'field';
    } else if (!empty(msg.headers)) {
        raw = msg.headers;
        source = 'msg';
    } else {
        return undefined;
    }
    if (typeof raw === 'string') {
        try {
            raw = JSON.parse(raw);
        } catch (err) {
            return { key: 'headers-json', params: { source, reason: (err as Error).message } };
        }
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || Buffer.isBuffer(raw)) {
        return { key: 'headers-object', params: { source } };
    }
    const out: HeaderValues = {};
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
        if (value === undefined) continue;
        if (Array.isArray(value)) {
            const list: Buffer[] = [];
            for (const v of value) {
                const b = v === null ? Buffer.alloc(0) : toBytes(v);
                if (!b) return { key: 'headers-value', params: { name } };
                list.push(b);
            }
            out[name] = list;
        } else {
            const b = value === null ? Buffer.alloc(0) : toBytes(value);
            if (!b) return { key: 'headers-value', params: { name } };
            out[name] = b;
        }
    }
    return out;
}

/** The bytes a record counts against max message bytes: data plus the most its framing can take. */
export function recordSize(key: Buffer | null, value: Buffer | string | null, headers: HeaderValues | undefined): number {
    const valueBytes = value === null ? 0 : typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length;
    let size = MAX_RECORD_OVERHEAD + (key ? key.length : 0) + valueBytes;
    if (headers) {
        for (const [name, v] of Object.entries(headers)) {
            const nameBytes = Buffer.byteLength(name, 'utf8');
            for (const b of Array.isArray(v) ? v : [v]) size += nameBytes + b.length + MAX_HEADER_OVERHEAD;
        }
    }
    return size;
}

function isProblem(v: unknown): v is Problem {
    return typeof v === 'object' && v !== null && !Buffer.isBuffer(v) && typeof (v as Problem).key === 'string' &&
        Object.keys(v).every((k) => k === 'key' || k === 'params');
}

/** Reads one message into the record to write, or the first problem with it. */
export function readInput(fields: PublishFields, msg: Record<string, unknown>, maxMessageBytes: number): ReadResult {
    const topic = readTopic(fields, msg);
    if (typeof topic !== 'string') return { problem: topic };
    const partition = readPartition(fields, msg);
    if (partition !== null && typeof partition !== 'number') return { problem: partition };
    const key = readKey(fields, msg);
    if (key !== null && !Buffer.isBuffer(key)) return { problem: key };
    const headers = readHeaders(fields, msg);
    if (isProblem(headers)) return { problem: headers };

    let value: Buffer | string | null;
    if (msg.payload === null) {
        value = null;
    } else if (typeof msg.payload === 'string') {
        value = msg.payload;
    } else if (msg.payload === undefined) {
        return { problem: { key: 'no-payload' } };
    } else {
        const b = toBytes(msg.payload);
        if (!b) return { problem: { key: 'bad-payload' } };
        value = b;
    }

    const size = recordSize(key, value, headers as HeaderValues | undefined);
    if (size > maxMessageBytes) return { problem: { key: 'too-large', params: { size, max: maxMessageBytes } } };
    return { record: { topic, partition, key, value, headers: headers as HeaderValues | undefined, size } };
}
