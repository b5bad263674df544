// The metadata string committed beside an offset: which records above the
// committed offset are already done (acknowledged, skipped or dead-lettered),
// so that the partition's next owner skips them after a crash or a rebalance
// instead of delivering them again. Kafka keeps the string with the offset
// (offset.metadata.max.bytes, 4096 by default), so it is kept short: ranges
// relative to the committed offset, in base 36. Dropping ranges is always safe
// (those records are only delivered again), so a list too long is cut.
//
//   kc1:<first>-<last>,<first>-<last>,...   (each relative to the committed offset)

export interface OffsetRange {
    first: bigint;
    last: bigint;
}

const PREFIX = 'kc1:';
/** Well under the broker's default offset.metadata.max.bytes (4096). */
export const MAX_METADATA_CHARS = 1024;

/** The metadata for a commit at `base` with these done ranges (ascending, above base); null when none. */
export function encodeDone(base: bigint, done: OffsetRange[], maxChars = MAX_METADATA_CHARS): string | null {
    let out = '';
    for (const r of done) {
        if (r.last <= base || r.last < r.first) continue;
        const first = r.first > base ? r.first : base + 1n;
        const part = `${(first - base).toString(36)}-${(r.last - base).toString(36)}`;
        const next = out ? `${out},${part}` : part;
        if (PREFIX.length + next.length > maxChars) break;
        out = next;
    }
    return out ? PREFIX + out : null;
}

/** The done ranges a commit's metadata names (absolute, ascending); [] for anything else (another client's metadata). */
export function decodeDone(base: bigint, metadata: string | null | undefined): OffsetRange[] {
    if (!metadata || !metadata.startsWith(PREFIX)) return [];
    const out: OffsetRange[] = [];
    let floor = base;
    for (const part of metadata.slice(PREFIX.length).split(',')) {
        const m = /^([0-9a-z]+)-([0-9a-z]+)$/.exec(part);
        if (!m) return [];
        const first = base + parseBase36(m[1]);
        const last = base + parseBase36(m[2]);
        // Ranges must be ascending, disjoint and above the committed offset; anything else is not ours.
        if (first <= floor || last < first) return [];
        out.push({ first, last });
        floor = last;
    }
    return out;
}

function parseBase36(s: string): bigint {
    let n = 0n;
    for (const ch of s) n = n * 36n + BigInt(parseInt(ch, 36));
    return n;
}
