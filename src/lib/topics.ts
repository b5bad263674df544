// The consumer's topic list: plain names, and entries written /pattern/ (with
// optional flags) that are regular expressions matched against the cluster's topics.

export interface TopicSpec {
    names: string[];
    patterns: RegExp[];
}

export interface TopicProblem {
    key: 'topics-empty' | 'topic-invalid' | 'pattern-invalid';
    params?: Record<string, string>;
}

/** Kafka's rule for topic names: 1-249 of a-z A-Z 0-9 . _ - and not "." or "..". */
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

export function legalTopic(topic: string): boolean {
    return LEGAL_TOPIC.test(topic) && topic !== '.' && topic !== '..';
}

/** Splits the editor's list (an array, or text with one entry per line or comma-separated). */
export function splitTopics(raw: unknown): string[] {
    const list = Array.isArray(raw) ? raw.map(String) : String(raw ?? '').split(/[\n,]/);
    return list.map((s) => s.trim()).filter((s) => s.length > 0);
}

export function parseTopics(raw: unknown): { spec: TopicSpec; problems: TopicProblem[] } {
    const spec: TopicSpec = { names: [], patterns: [] };
    const problems: TopicProblem[] = [];
    for (const entry of splitTopics(raw)) {
        const m = /^\/(.+)\/([a-z]*)$/.exec(entry);
        if (m) {
            try {
                // 'g' and 'y' make test() stateful: drop them.
                spec.patterns.push(new RegExp(m[1], m[2].replace(/[gy]/g, '')));
            } catch {
                problems.push({ key: 'pattern-invalid', params: { pattern: entry } });
            }
        } else if (legalTopic(entry)) {
            if (!spec.names.includes(entry)) spec.names.push(entry);
        } else {
            problems.push({ key: 'topic-invalid', params: { topic: entry } });
        }
    }
    if (spec.names.length === 0 && spec.patterns.length === 0 && problems.length === 0) {
        problems.push({ key: 'topics-empty' });
    }
    return { spec, problems };
}

export function hasPatterns(spec: TopicSpec): boolean {
    return spec.patterns.length > 0;
}

/**
 * The topics to subscribe to: every plain name, plus every existing topic a
 * pattern matches (internal topics such as __consumer_offsets excluded), sorted.
 */
export function resolveTopics(spec: TopicSpec, existing: string[]): string[] {
    const out = new Set(spec.names);
    for (const t of existing) {
        if (t.startsWith('__')) continue;
        if (spec.patterns.some((re) => re.test(t))) out.add(t);
    }
    return [...out].sort();
}

export function sameTopics(a: string[], b: string[]): boolean {
    return a.length === b.length && a.every((t, i) => t === b[i]);
}
