// The kafka-consumer node's own fields (SPEC "kafka-consumer: general" and the
// failure policy of decision 8), read and checked without Node-RED. Problems
// are catalog keys of kafka-consumer's `errors.*`; the node translates them.

import { parseTopics } from './topics';
import type { TopicSpec, TopicProblem } from './topics';
import type { PayloadFormat } from './consumer-output';

export interface ConsumerFieldsRaw {
    group?: unknown;
    topics?: unknown;
    consumerCount?: unknown;
    format?: unknown;
    maxInFlight?: unknown;
    maxAttempts?: unknown;
    afterMaxAttempts?: unknown;
    deadLetterTopic?: unknown;
    ackTimeout?: unknown;
    /** batch output: records per message (1: a message per record) */
    batchSize?: unknown;
    /** batch output: ms a partial batch waits for more records */
    batchWait?: unknown;
    /** the kafka-schema-registry node, when format is 'registry' */
    registry?: unknown;
    /** with format 'registry': decode the key too */
    registryKey?: unknown;
    /** ms between metadata polls for /pattern/ topics; not in the editor (tests shorten it) */
    topicRefresh?: unknown;
}

export interface ConsumerFields {
    group: string;
    topics: TopicSpec;
    /** group members inside the node */
    consumerCount: number;
    /** 'buffer' when the payload is decoded with the schema registry (see registry) */
    format: PayloadFormat;
    /** "decoded with the schema registry": the registry node's id, and whether keys are decoded too */
    registry: { config: string; key: boolean } | null;
    /** records emitted and not yet acknowledged, at most (after-flow mode) */
    maxInFlight: number;
    /** 0: retry for ever */
    maxAttempts: number;
    afterMaxAttempts: 'skip' | 'dlq';
    deadLetterTopic: string;
    /** ms; 0: wait for ever */
    ackTimeout: number;
    /** records per message; 1: a message per record */
    batchSize: number;
    /** ms a partial batch waits for more records before it goes out */
    batchWait: number;
    topicRefresh: number;
}

export type FieldProblem =
    | TopicProblem
    | { key: 'group-empty' | 'dlq-empty' | 'registry-missing' | 'batch-registry'; params?: undefined }
    /** `field`: the label key of the field */
    | { key: 'bad-number'; params: { field: string; min: number } };

export const CONSUMER_FIELD_DEFAULTS = Object.freeze({
    consumerCount: 1,
    maxInFlight: 100,
    maxAttempts: 0,
    ackTimeout: 0,
    batchSize: 1,
    batchWait: 100,
    topicRefresh: 30000,
});

/** An integer of at least `min`, the fallback when empty, null when invalid. */
function intField(v: unknown, fallback: number, min: number): number | null {
    if (v === undefined || v === null || v === '') return fallback;
    const n = Number(v);
    return Number.isInteger(n) && n >= min ? n : null;
}

export function readConsumerFields(raw: ConsumerFieldsRaw): { fields: ConsumerFields; problems: FieldProblem[] } {
    const problems: FieldProblem[] = [];
    const group = String(raw.group ?? '').trim();
    if (!group) problems.push({ key: 'group-empty' });
    const topics = parseTopics(raw.topics);
    problems.push(...topics.problems);
    const d = CONSUMER_FIELD_DEFAULTS;
    const num = (name: 'consumerCount' | 'maxInFlight' | 'maxAttempts' | 'ackTimeout' | 'batchSize' | 'batchWait', min: number): number => {
        const n = intField(raw[name], d[name], min);
        if (n === null) problems.push({ key: 'bad-number', params: { field: name, min } });
        return n ?? d[name];
    };
    const consumerCount = num('consumerCount', 1);
    const maxInFlight = num('maxInFlight', 1);
    const maxAttempts = num('maxAttempts', 0);
    const ackTimeout = num('ackTimeout', 0);
    const batchSize = num('batchSize', 1);
    const batchWait = num('batchWait', 0);
    const afterMaxAttempts = raw.afterMaxAttempts === 'skip' ? 'skip' : 'dlq';
    const deadLetterTopic = String(raw.deadLetterTopic ?? '').trim();
    if (maxAttempts > 0 && afterMaxAttempts === 'dlq' && !deadLetterTopic) problems.push({ key: 'dlq-empty' });
    const format: PayloadFormat = raw.format === 'string' || raw.format === 'json' ? raw.format : 'buffer';
    let registry: ConsumerFields['registry'] = null;
    if (raw.format === 'registry') {
        registry = { config: String(raw.registry ?? '').trim(), key: raw.registryKey === true || raw.registryKey === 'true' };
        if (!registry.config) problems.push({ key: 'registry-missing' });
        // The registry decodes record by record, asynchronously: not gathered into batches (yet).
        if (batchSize > 1) problems.push({ key: 'batch-registry' });
    }
    return {
        fields: {
            group, topics: topics.spec, consumerCount, format, registry, maxInFlight, maxAttempts, afterMaxAttempts,
            deadLetterTopic, ackTimeout, batchSize, batchWait, topicRefresh: intField(raw.topicRefresh, d.topicRefresh, 100) ?? d.topicRefresh,
        },
        problems,
    };
}
