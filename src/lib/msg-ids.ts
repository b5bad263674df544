// Message ids for the records a consumer emits. Node-RED gives every message
// without an id 16 random hex digits, drawn anew for each; at tens of thousands
// of records a second that shows in profiles. These are 16 hex digits too: a
// random prefix drawn once, then a counter (a new prefix when it wraps).

import { randomBytes } from 'crypto';

/** `start`: where the counter begins (for specs of the wrap). */
export function messageIds(random: (n: number) => Buffer = randomBytes, start = 0): () => string {
    let prefix = random(4).toString('hex');
    let n = start;
    return () => {
        if (n > 0xffffffff) {
            prefix = random(4).toString('hex');
            n = 0;
        }
        return prefix + (n++).toString(16).padStart(8, '0');
    };
}
