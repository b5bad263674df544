// Where a record goes when the message names no partition: the Java client's
// rule, so that a keyed record lands where every other Kafka client puts it.
//   keyed:   toPositive(murmur2(keyBytes)) % numPartitions
//   keyless: round-robin over the partitions

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** MurmurHash2 as Kafka's Java client computes it (signed 32-bit result). */
export function murmur2(data: Uint8Array): number {
    const length = data.length;
    let h = (SEED ^ length) | 0;
    const whole = length & ~3;
    for (let i = 0; i < whole; i += 4) {
        let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
        k = Math.imul(k, M);
        k ^= k >>> R;
        k = Math.imul(k, M);
        h = Math.imul(h, M);
        h ^= k;
    }
    // The trailing 1-3 bytes, most significant first (the Java switch falls through).
    const rest = length & 3;
    if (rest === 3) h ^= data[whole + 2] << 16;
    if (rest >= 2) h ^= data[whole + 1] << 8;
    if (rest >= 1) {
        h ^= data[whole];
        h = Math.imul(h, M);
    }
    h ^= h >>> 13;
    h = Math.imul(h, M);
    h ^= h >>> 15;
    return h | 0;
}

/** Java's Utils.toPositive: clears the sign bit (not Math.abs, which overflows at MIN_VALUE). */
export function toPositive(n: number): number {
    return n & 0x7fffffff;
}

/** The partition index (0-based, into the topic's partition list) for a keyed record. */
export function partitionForKey(key: Uint8Array, numPartitions: number): number {
    return toPositive(murmur2(key)) % numPartitions;
}

/** Round-robin for keyless records, one counter per topic. */
export class RoundRobin {
    private readonly next = new Map<string, number>();

    pick(topic: string, numPartitions: number): number {
        const n = this.next.get(topic) ?? 0;
        this.next.set(topic, (n + 1) % 0x7fffffff);
        return n % numPartitions;
    }
}

/**
 * The partition for a record: the explicit one when given, otherwise by key or
 * round-robin over `partitions` (the topic's partition ids, ascending).
 */
export function choosePartition(
    topic: string,
    key: Uint8Array | null,
    partitions: readonly number[],
    roundRobin: RoundRobin,
): number {
    if (key !== null) return partitions[partitionForKey(key, partitions.length)];
    return partitions[roundRobin.pick(topic, partitions.length)];
}
