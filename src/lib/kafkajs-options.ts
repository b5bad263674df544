// Maps the node settings onto kafkajs's option objects. Only the kafkajs seam
// (src/client/kafkajs.ts) calls this; another client would bring its own mapping.
// Where kafkajs's default differs from the connector manual's, the manual's value
// is set explicitly.
import type { ConnectionOptions } from 'tls';
import type { KafkaConfig, ConsumerConfig, ProducerConfig, SASLOptions } from 'kafkajs';
import { RETRY_CAP_MS } from './connection-state';
import type { ConnectionSettings, ConsumerGroupSettings, ProducerSettings, Compression, RequiredAcks } from './settings';

/** Fetch requests carry an int32 byte limit: "unlimited" is its largest value. */
export const UNLIMITED_FETCH_BYTES = 2147483647;

/** kafkajs's numeric log levels. */
export const KAFKAJS_LOG_LEVEL = { NOTHING: 0, ERROR: 1, WARN: 2, INFO: 4, DEBUG: 5 } as const;

export type NodeLogLevel = 'warn' | 'debug' | 'trace';

/**
 * kafkajs's own account of an outage: connections refused, reset or timed out,
 * seed brokers tried in turn, requests retried, a consumer crashing out of its
 * retries, protocol errors it retries itself (a leader or coordinator moving while
 * a broker restarts). The nodes report an outage themselves, once when it starts
 * (with its cause) and once when it ends, so these lines are debug detail.
 */
const OUTAGE_CHATTER = new RegExp([
    'Connection error', 'Connection timeout', 'Closed connection', 'has closed connection',
    'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
    'Failed to connect', 'seed broker', 'Crash: ', 'NumberOfRetriesExceeded', 'KafkaJSNonRetriableError',
    'Restarting the consumer', 'retrying', 'Retrying', 'Request timed out', 'Request .* timed out',
    // A cluster just restarted, its replicas not yet back in sync (acks=all): retried by kafkajs.
    'fewer in-sync replicas than required', 'NOT_ENOUGH_REPLICAS',
    'There is no leader', 'not the leader', 'NOT_LEADER', 'does not host this topic-partition',
    'coordinator is not', 'Coordinator not', 'COORDINATOR_', 'group is rebalancing', 'Broker not connected',
    'rejoin', 'Not connected', 'BrokerNotFound', 'LEADER_NOT_AVAILABLE', 'leader is not available',
    // A rebalance or a coordinator move under way: the members follow it themselves.
    'generation id is not valid', 'not the correct coordinator', 'looking it up again', 'concurrent operation on the same transaction',
].join('|'));

/**
 * Where a kafkajs log line goes in Node-RED's log. What kafkajs logs at ERROR or
 * WARN about an outage it retries itself goes to debug (see OUTAGE_CHATTER);
 * anything else it warns of (refused credentials, a denied ACL, a record too
 * large, a setting it ignores) stays a warning. Its INFO lines are routine (joins,
 * starts) and go to debug, its DEBUG lines to trace.
 */
export function nodeLogLevel(kafkajsLevel: number, message = ''): NodeLogLevel {
    if (kafkajsLevel <= KAFKAJS_LOG_LEVEL.WARN) return OUTAGE_CHATTER.test(message) ? 'debug' : 'warn';
    if (kafkajsLevel === KAFKAJS_LOG_LEVEL.INFO) return 'debug';
    return 'trace';
}

export function saslOptions(c: ConnectionSettings): SASLOptions | undefined {
    if (c.saslMode === 'plain') return { mechanism: 'plain', username: c.username, password: c.password };
    if (c.saslMode === 'scram') {
        const mechanism = c.scramMechanism === 'sha-512' ? 'scram-sha-512' : 'scram-sha-256';
        return { mechanism, username: c.username, password: c.password };
    }
    return undefined;
}

/**
 * The client-wide options. `tls` is what the tls-config node gives (certificate,
 * key, CA, verification); with TLS on and no tls-config node, the system CAs verify.
 */
export function clientConfig(
    c: ConnectionSettings,
    consumer: ConsumerGroupSettings,
    tls: ConnectionOptions | null,
): KafkaConfig {
    return {
        clientId: c.clientId,
        brokers: c.brokers.slice(),
        ssl: c.useTls ? (tls ?? true) : false,
        sasl: saslOptions(c),
        connectionTimeout: c.connectionTimeout,
        authenticationTimeout: c.connectionTimeout,
        requestTimeout: consumer.requestTimeout,
        enforceRequestTimeout: true,
        // The client-wide retry governs the admin connection the config node uses to
        // check the cluster: it fails within seconds and the node retries with the
        // retry backoff. Producers and consumers bring their own retry options.
        retry: { initialRetryTime: 300, maxRetryTime: 2000, retries: 2 },
    };
}

/** Consumer-group options. `partitionAssigners` is added by the seam. */
export function consumerConfig(groupId: string, g: ConsumerGroupSettings): ConsumerConfig {
    return {
        groupId,
        sessionTimeout: g.sessionTimeout,
        heartbeatInterval: g.heartbeatInterval,
        rebalanceTimeout: g.rebalanceTimeout,
        minBytes: g.fetchMinBytes,
        maxBytesPerPartition: g.fetchDefaultBytes,
        maxBytes: g.fetchMaxMB > 0 ? g.fetchMaxMB * 1024 * 1024 : UNLIMITED_FETCH_BYTES,
        maxWaitTimeInMs: g.fetchMaxWait,
        readUncommitted: g.isolationLevel === 'uncommitted',
        allowAutoTopicCreation: false,
        // Joining and syncing the group is retried this often, this far apart (no jitter, like the manual's client).
        retry: {
            retries: g.rebalanceMaxRetries,
            initialRetryTime: g.rebalanceRetryBackoff,
            maxRetryTime: Math.max(g.rebalanceRetryBackoff, 1),
            factor: 0,
            multiplier: 1,
        },
    };
}

export function producerConfig(p: ProducerSettings): ProducerConfig {
    return {
        idempotent: p.idempotent,
        // An idempotent producer keeps order only with one request in flight.
        maxInFlightRequests: p.idempotent ? 1 : undefined,
        allowAutoTopicCreation: true,
        // Retries at most RETRY_CAP_MS apart: a send retrying through an outage goes
        // out within seconds of the cluster being back (kafkajs's default waits up to 30 s).
        retry: { retries: 5, initialRetryTime: 300, maxRetryTime: RETRY_CAP_MS },
    };
}

export function acksValue(acks: RequiredAcks): number {
    return acks === 'none' ? 0 : acks === 'all' ? -1 : 1;
}

/** kafkajs's CompressionTypes codes. */
export function compressionCode(c: Compression): number {
    return { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 }[c];
}
