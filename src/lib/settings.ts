// The kafka-config node's fields, their defaults (the connector manual's), and
// the checks that make a configuration usable. No Node-RED and no client import:
// the nodes and the client seam both read the typed result.

export type SaslMode = 'none' | 'plain' | 'scram';
export type ScramMechanism = 'sha-256' | 'sha-512';
/** 'eos': exactly once, through Kafka transactions */
export type AckMode = 'flow' | 'immediate' | 'eos';
export type IsolationLevel = 'uncommitted' | 'committed';
export type RebalanceStrategy = 'range' | 'roundrobin';
export type InitialOffset = 'newest' | 'oldest';
export type RequiredAcks = 'none' | 'leader' | 'all';
export type Compression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export interface ConsumerGroupSettings {
    ackMode: AckMode;
    isolationLevel: IsolationLevel;
    retryBackoff: number;
    requestTimeout: number;
    sessionTimeout: number;
    heartbeatInterval: number;
    rebalanceTimeout: number;
    rebalanceStrategy: RebalanceStrategy;
    rebalanceMaxRetries: number;
    rebalanceRetryBackoff: number;
    fetchMinBytes: number;
    fetchDefaultBytes: number;
    /** megabytes; 0 = unlimited */
    fetchMaxMB: number;
    fetchMaxWait: number;
    commitInterval: number;
    initialOffset: InitialOffset;
    /** seconds; 0 = the broker's default */
    offsetRetention: number;
    /** exactly once: most records in one transaction */
    txnMaxRecords: number;
    /** exactly once: ms a transaction stays open for new records, at most */
    txnMaxMs: number;
}

export interface ProducerSettings {
    maxMessageBytes: number;
    requiredAcks: RequiredAcks;
    requestTimeout: number;
    idempotent: boolean;
    flushBytes: number;
    flushMessages: number;
    flushFrequency: number;
    flushMaxMessages: number;
    compression: Compression;
}

export interface ConnectionSettings {
    brokers: string[];
    kafkaVersion: string;
    clientId: string;
    saslMode: SaslMode;
    scramMechanism: ScramMechanism;
    username: string;
    password: string;
    useTls: boolean;
    connectionTimeout: number;
}

export interface KafkaSettings {
    connection: ConnectionSettings;
    consumer: ConsumerGroupSettings;
    producer: ProducerSettings;
}

/** A problem with a configuration: a message key (translated by the node) and its parameters. */
export interface Problem {
    key: string;
    params?: Record<string, string | number>;
}

export const CONSUMER_DEFAULTS: Readonly<ConsumerGroupSettings> = Object.freeze({
    ackMode: 'flow',
    isolationLevel: 'uncommitted',
    retryBackoff: 2000,
    requestTimeout: 30000,
    sessionTimeout: 10000,
    heartbeatInterval: 3000,
    rebalanceTimeout: 60000,
    rebalanceStrategy: 'range',
    rebalanceMaxRetries: 4,
    rebalanceRetryBackoff: 2000,
    fetchMinBytes: 1,
    fetchDefaultBytes: 1048576,
    fetchMaxMB: 0,
    fetchMaxWait: 250,
    commitInterval: 1000,
    initialOffset: 'newest',
    offsetRetention: 0,
    txnMaxRecords: 2000,
    txnMaxMs: 1000,
});

export const PRODUCER_DEFAULTS: Readonly<ProducerSettings> = Object.freeze({
    maxMessageBytes: 1000000,
    requiredAcks: 'leader',
    requestTimeout: 10000,
    idempotent: false,
    flushBytes: 0,
    flushMessages: 0,
    flushFrequency: 0,
    flushMaxMessages: 0,
    compression: 'none',
});

export const CONNECTION_DEFAULTS = Object.freeze({
    kafkaVersion: '1.1',
    clientId: 'node-red-kafka',
    saslMode: 'none' as SaslMode,
    scramMechanism: 'sha-256' as ScramMechanism,
    connectionTimeout: 10000,
});

/**
 * Kafka versions offered in the editor. kafkajs negotiates protocol versions with
 * the broker itself; it speaks to brokers from 0.10 on.
 */
export const KAFKA_VERSIONS = [
    '0.10.2', '0.11.0', '1.0', '1.1', '2.0', '2.1', '2.2', '2.3', '2.4', '2.5', '2.6', '2.7', '2.8',
    '3.0', '3.1', '3.2', '3.3', '3.4', '3.5', '3.6', '3.7', '3.8', '3.9', '4.0', '4.1', '4.2',
] as const;

const ENUMS: Record<string, readonly string[]> = {
    saslMode: ['none', 'plain', 'scram'],
    scramMechanism: ['sha-256', 'sha-512'],
    ackMode: ['flow', 'immediate', 'eos'],
    isolationLevel: ['uncommitted', 'committed'],
    rebalanceStrategy: ['range', 'roundrobin'],
    initialOffset: ['newest', 'oldest'],
    requiredAcks: ['none', 'leader', 'all'],
    compression: ['none', 'gzip', 'snappy', 'lz4', 'zstd'],
};

/** Numeric fields, with the smallest value each accepts. */
const NUMBER_MINIMUMS: Record<string, number> = {
    retryBackoff: 0,
    requestTimeout: 1,
    sessionTimeout: 1,
    heartbeatInterval: 1,
    rebalanceTimeout: 1,
    rebalanceMaxRetries: 0,
    rebalanceRetryBackoff: 0,
    fetchMinBytes: 1,
    fetchDefaultBytes: 1,
    fetchMaxMB: 0,
    fetchMaxWait: 0,
    commitInterval: 0,
    offsetRetention: 0,
    txnMaxRecords: 1,
    txnMaxMs: 10,
    maxMessageBytes: 1,
    producerRequestTimeout: 1,
    flushBytes: 0,
    flushMessages: 0,
    flushFrequency: 0,
    flushMaxMessages: 0,
    connectionTimeout: 1,
};

/** Compares dotted versions: negative when a < b. */
export function compareVersions(a: string, b: string): number {
    const pa = a.split('.').map((x) => parseInt(x, 10) || 0);
    const pb = b.split('.').map((x) => parseInt(x, 10) || 0);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
        const d = (pa[i] ?? 0) - (pb[i] ?? 0);
        if (d !== 0) return d;
    }
    return 0;
}

/** Splits `host:port,host:port` and reports the first entry that is not one. */
export function parseBrokers(text: unknown): { brokers: string[]; problem?: Problem } {
    const raw = typeof text === 'string' ? text : '';
    const brokers = raw.split(/[,\s]+/).map((s) => s.trim()).filter((s) => s.length > 0);
    if (brokers.length === 0) return { brokers, problem: { key: 'brokers-empty' } };
    for (const b of brokers) {
        const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(b);
        const port = m ? Number(m[2]) : 0;
        if (!m || port < 1 || port > 65535) {
            return { brokers, problem: { key: 'broker-malformed', params: { broker: b } } };
        }
    }
    return { brokers };
}

function pick<T extends string>(raw: Record<string, unknown>, field: string, fallback: T, problems: Problem[]): T {
    const v = raw[field];
    if (v === undefined || v === null || v === '') return fallback;
    if (!ENUMS[field].includes(String(v))) {
        problems.push({ key: 'bad-choice', params: { field, value: String(v) } });
        return fallback;
    }
    return String(v) as T;
}

function num(raw: Record<string, unknown>, field: string, fallback: number, problems: Problem[]): number {
    const v = raw[field];
    if (v === undefined || v === null || v === '') return fallback;
    const n = typeof v === 'number' ? v : Number(String(v).trim());
    const min = NUMBER_MINIMUMS[field] ?? 0;
    if (!Number.isInteger(n) || n < min) {
        problems.push({ key: 'bad-number', params: { field, value: String(v), min } });
        return fallback;
    }
    return n;
}

function bool(v: unknown): boolean {
    return v === true || v === 'true';
}

/**
 * Reads the config node's raw fields (as the editor stores them: strings or
 * numbers) and credentials into typed settings, and lists every problem found.
 * A configuration with problems must not be used to connect.
 */
export function readSettings(
    raw: Record<string, unknown>,
    credentials: { username?: string; password?: string } = {},
): { settings: KafkaSettings; problems: Problem[] } {
    const problems: Problem[] = [];
    const parsed = parseBrokers(raw.brokers);
    if (parsed.problem) problems.push(parsed.problem);

    let kafkaVersion = String(raw.kafkaVersion ?? '').trim() || CONNECTION_DEFAULTS.kafkaVersion;
    if (!/^\d+(\.\d+){1,2}$/.test(kafkaVersion)) {
        problems.push({ key: 'version-malformed', params: { version: kafkaVersion } });
        kafkaVersion = CONNECTION_DEFAULTS.kafkaVersion;
    } else if (compareVersions(kafkaVersion, '0.10') < 0) {
        problems.push({ key: 'version-unsupported', params: { version: kafkaVersion } });
    }

    const connection: ConnectionSettings = {
        brokers: parsed.brokers,
        kafkaVersion,
        clientId: String(raw.clientId ?? '').trim() || CONNECTION_DEFAULTS.clientId,
        saslMode: pick(raw, 'saslMode', CONNECTION_DEFAULTS.saslMode, problems),
        scramMechanism: pick(raw, 'scramMechanism', CONNECTION_DEFAULTS.scramMechanism, problems),
        username: credentials.username ?? '',
        password: credentials.password ?? '',
        useTls: bool(raw.useTls),
        connectionTimeout: num(raw, 'connectionTimeout', CONNECTION_DEFAULTS.connectionTimeout, problems),
    };
    if (connection.saslMode !== 'none' && (!connection.username || !connection.password)) {
        problems.push({ key: 'sasl-credentials' });
    }

    const c = CONSUMER_DEFAULTS;
    const consumer: ConsumerGroupSettings = {
        ackMode: pick(raw, 'ackMode', c.ackMode, problems),
        isolationLevel: pick(raw, 'isolationLevel', c.isolationLevel, problems),
        retryBackoff: num(raw, 'retryBackoff', c.retryBackoff, problems),
        requestTimeout: num(raw, 'requestTimeout', c.requestTimeout, problems),
        sessionTimeout: num(raw, 'sessionTimeout', c.sessionTimeout, problems),
        heartbeatInterval: num(raw, 'heartbeatInterval', c.heartbeatInterval, problems),
        rebalanceTimeout: num(raw, 'rebalanceTimeout', c.rebalanceTimeout, problems),
        rebalanceStrategy: pick(raw, 'rebalanceStrategy', c.rebalanceStrategy, problems),
        rebalanceMaxRetries: num(raw, 'rebalanceMaxRetries', c.rebalanceMaxRetries, problems),
        rebalanceRetryBackoff: num(raw, 'rebalanceRetryBackoff', c.rebalanceRetryBackoff, problems),
        fetchMinBytes: num(raw, 'fetchMinBytes', c.fetchMinBytes, problems),
        fetchDefaultBytes: num(raw, 'fetchDefaultBytes', c.fetchDefaultBytes, problems),
        fetchMaxMB: num(raw, 'fetchMaxMB', c.fetchMaxMB, problems),
        fetchMaxWait: num(raw, 'fetchMaxWait', c.fetchMaxWait, problems),
        commitInterval: num(raw, 'commitInterval', c.commitInterval, problems),
        initialOffset: pick(raw, 'initialOffset', c.initialOffset, problems),
        offsetRetention: num(raw, 'offsetRetention', c.offsetRetention, problems),
        txnMaxRecords: num(raw, 'txnMaxRecords', c.txnMaxRecords, problems),
        txnMaxMs: num(raw, 'txnMaxMs', c.txnMaxMs, problems),
    };
    if (consumer.heartbeatInterval >= consumer.sessionTimeout) {
        problems.push({
            key: 'heartbeat-session',
            params: { heartbeat: consumer.heartbeatInterval, session: consumer.sessionTimeout },
        });
    }
    if (consumer.fetchMaxMB > 0 && consumer.fetchMaxMB * 1024 * 1024 < consumer.fetchDefaultBytes) {
        problems.push({ key: 'fetch-max-below-default' });
    }

    const p = PRODUCER_DEFAULTS;
    const producer: ProducerSettings = {
        maxMessageBytes: num(raw, 'maxMessageBytes', p.maxMessageBytes, problems),
        requiredAcks: pick(raw, 'requiredAcks', p.requiredAcks, problems),
        requestTimeout: num(raw, 'producerRequestTimeout', p.requestTimeout, problems),
        idempotent: bool(raw.idempotent),
        flushBytes: num(raw, 'flushBytes', p.flushBytes, problems),
        flushMessages: num(raw, 'flushMessages', p.flushMessages, problems),
        flushFrequency: num(raw, 'flushFrequency', p.flushFrequency, problems),
        flushMaxMessages: num(raw, 'flushMaxMessages', p.flushMaxMessages, problems),
        compression: pick(raw, 'compression', p.compression, problems),
    };
    if (producer.idempotent && producer.requiredAcks !== 'all') {
        problems.push({ key: 'idempotent-acks' });
    }

    // Decision 6: the version field gates the features that need 0.11 or later.
    if (compareVersions(kafkaVersion, '0.11') < 0) {
        if (producer.idempotent) problems.push({ key: 'version-feature', params: { feature: 'idempotent', version: kafkaVersion } });
        if (consumer.isolationLevel === 'committed') {
            problems.push({ key: 'version-feature', params: { feature: 'read committed', version: kafkaVersion } });
        }
        if (consumer.ackMode === 'eos') {
            problems.push({ key: 'version-feature', params: { feature: 'exactly once (transactions)', version: kafkaVersion } });
        }
    }

    return { settings: { connection, consumer, producer }, problems };
}

/** True when the configured version knows record headers (0.11+). */
export function supportsHeaders(kafkaVersion: string): boolean {
    return compareVersions(kafkaVersion, '0.11') >= 0;
}

/** Decision 5: OffsetCommit carries a retention time only before Kafka 2.1. */
export function offsetRetentionHonoured(kafkaVersion: string): boolean {
    return compareVersions(kafkaVersion, '2.1') < 0;
}
