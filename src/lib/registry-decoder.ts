// The consumer's decode step for "decoded with the schema registry" (SPEC decision 19).
// A record is decoded on its way from the delivery engine to the flow; decoding is
// asynchronous (a schema not seen yet is fetched), so each partition has its own
// queue and its records reach the flow in offset order, while other partitions go
// on. A record whose bytes are not in the wire format, or whose schema the registry
// does not have, is the record's fault: it is rejected, and the host hands it to
// the failure policy. A registry that does not answer is nobody's record's fault:
// the partition waits and tries again with the retry backoff until it answers.
// No Node-RED here.
import type { RecordIn } from './consumer-output';
import type { Decoded, SchemaInfo } from './registry-client';
import { RegistryError, classify } from './registry-client';
import { retryDelay } from './connection-state';

export interface DecodedRecord {
    value: Decoded | null;
    /** null when keys are not decoded, or the record has no key */
    key: Decoded | null;
}

export interface DecoderHost<R extends RecordIn> {
    /** Decodes the value (and, when the node asks for it, the key). */
    decode(record: R): Promise<DecodedRecord>;
    /** The record decoded: hand it to the flow. */
    deliver(record: R, decoded: DecodedRecord): void;
    /** The record cannot be decoded (its own fault). */
    reject(record: R, error: RegistryError): void;
    /** The registry does not answer: told on each failed try of a partition's head. */
    trouble(error: RegistryError): void;
    /** A decode succeeded after trouble. */
    recovered(): void;
}

interface Lane<R> {
    queue: R[];
    running: boolean;
}

const keyOf = (r: RecordIn): string => `${r.topic}\u0000${r.partition}\u0000${r.offset}`;

export class OrderedDecoder<R extends RecordIn> {
    private readonly lanes = new Map<string, Lane<R>>();
    /**
     * Records queued or being decoded, by coordinates: a record handed out again (a
     * retry) while still here is not queued twice; its newest hand-out is the one
     * delivered (the engine matches acknowledgements to it).
     */
    private readonly pending = new Map<string, R>();
    private closed = false;
    private troubled = false;

    constructor(private readonly host: DecoderHost<R>, private readonly retryBackoff: number) {}

    /** Records queued or being decoded. */
    get size(): number {
        return this.pending.size;
    }

    push(record: R): void {
        if (this.closed) return;
        const k = keyOf(record);
        if (this.pending.has(k)) {
            this.pending.set(k, record);
            return;
        }
        this.pending.set(k, record);
        const laneKey = `${record.topic}\u0000${record.partition}`;
        let lane = this.lanes.get(laneKey);
        if (!lane) this.lanes.set(laneKey, lane = { queue: [], running: false });
        lane.queue.push(record);
        if (!lane.running) void this.run(laneKey, lane);
    }

    /** Drops what is queued and stops retrying. */
    close(): void {
        this.closed = true;
        for (const lane of this.lanes.values()) lane.queue.length = 0;
        this.lanes.clear();
        this.pending.clear();
    }

    private async run(laneKey: string, lane: Lane<R>): Promise<void> {
        lane.running = true;
        let attempt = 0;
        try {
            while (lane.queue.length && !this.closed) {
                const record = lane.queue[0];
                let decoded: DecodedRecord;
                try {
                    decoded = await this.host.decode(record);
                } catch (err) {
                    const e = classify(err, `${record.topic}[${record.partition}]@${record.offset}`);
                    if (this.closed) return;
                    if (e.transient) {
                        this.troubled = true;
                        this.host.trouble(e);
                        await sleep(retryDelay(attempt++, this.retryBackoff));
                        continue; // the same record again: order holds
                    }
                    const newest = this.pending.get(keyOf(record)) ?? record;
                    this.finish(lane, record);
                    this.host.reject(newest, e);
                    continue;
                }
                if (this.closed) return;
                attempt = 0;
                if (this.troubled) {
                    this.troubled = false;
                    this.host.recovered();
                }
                const newest = this.pending.get(keyOf(record)) ?? record;
                this.finish(lane, record);
                this.host.deliver(newest, decoded);
            }
        } finally {
            lane.running = false;
            if (!lane.queue.length && this.lanes.get(laneKey) === lane) this.lanes.delete(laneKey);
        }
    }

    private finish(lane: Lane<R>, record: R): void {
        lane.queue.shift();
        this.pending.delete(keyOf(record));
    }
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What a decoded record puts on the message: payload, key and msg.schema (plain data). */
export function decodedFields(decoded: DecodedRecord, rawKey: Buffer | string | null): {
    payload: unknown; key: unknown; schema: SchemaInfo | null; keySchema?: SchemaInfo;
} {
    const out: { payload: unknown; key: unknown; schema: SchemaInfo | null; keySchema?: SchemaInfo } = {
        payload: decoded.value ? decoded.value.value : null,
        key: decoded.key ? decoded.key.value : rawKey,
        schema: decoded.value ? decoded.value.schema : null,
    };
    if (decoded.key) out.keySchema = decoded.key.schema;
    return out;
}

/** Decodes a record's value (a tombstone stays null) and, when asked, its key. */
export async function decodeRecord(
    client: { decode(bytes: Buffer | null): Promise<Decoded> },
    r: RecordIn,
    withKey: boolean,
): Promise<DecodedRecord> {
    const value = r.value === null ? null : await client.decode(r.value);
    const key = withKey && r.key !== null ? await client.decode(r.key) : null;
    return { value, key };
}
