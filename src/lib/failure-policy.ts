// What happens to a record the flow failed (SPEC decision 8): retried after the
// retry backoff, and with a maximum number of attempts, then skipped or sent to
// the dead-letter topic with the error and its origin in the record's headers.

export type FailureAction = 'retry' | 'skip' | 'dead-letter';

/** The action after a record's `attempts`-th failure. */
export function afterFailure(attempts: number, maxAttempts: number, afterMax: 'skip' | 'dlq'): FailureAction {
    if (maxAttempts <= 0 || attempts < maxAttempts) return 'retry';
    return afterMax === 'skip' ? 'skip' : 'dead-letter';
}

/** The failed record's own headers (several values of one name joined by commas), plus the dlq-* headers. */
export function deadLetterHeaders(
    headers: Record<string, string | string[]>,
    origin: { topic: string; partition: number; offset: string },
    error: string,
    attempts: number,
): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) out[k] = Array.isArray(v) ? v.join(',') : v;
    return Object.assign(out, {
        'dlq-error': error,
        'dlq-origin-topic': origin.topic,
        'dlq-origin-partition': String(origin.partition),
        'dlq-origin-offset': origin.offset,
        'dlq-attempts': String(attempts),
    });
}

/** The text of a failure as it came back on msg.error (an object with Description or message, or anything else). */
export function failureText(e: unknown): string {
    if (e && typeof e === 'object') {
        const o = e as { Description?: unknown; message?: unknown };
        if (typeof o.Description === 'string') return o.Description;
        if (typeof o.message === 'string') return o.message;
        try {
            return JSON.stringify(e);
        } catch {
            return String(e);
        }
    }
    return String(e);
}
