// The `msg.error` contract: `{ Code, Description }`, with CORE:PARAM for input the
// user can fix in the message or the node, and CORE:RUNTIME for the cluster and
// the client (SPEC decision 9).

export type ErrorCode = 'CORE:PARAM' | 'CORE:RUNTIME';

export interface MsgError {
    Code: ErrorCode;
    Description: string;
}

/** An error the node raises itself for bad input. */
export class ParamError extends Error {
    readonly code: ErrorCode = 'CORE:PARAM';
    constructor(message: string) {
        super(message);
        this.name = 'ParamError';
    }
}

interface ErrorLike {
    name?: string;
    message?: string;
    type?: string;
    code?: string | number;
    cause?: unknown;
    originalError?: unknown;
}

/** The innermost error: kafkajs wraps the real cause in retry errors. */
export function rootCause(err: unknown): ErrorLike {
    let e = (err ?? {}) as ErrorLike;
    for (let i = 0; i < 10; i++) {
        const inner = (e.originalError ?? e.cause) as ErrorLike | undefined;
        if (!inner || typeof inner !== 'object') break;
        e = inner;
    }
    return e;
}

/**
 * A sentence a person can act on, naming what to check, followed by the client's
 * own message. Recognises kafkajs's error names and broker error types; anything
 * else keeps its message.
 */
export function describeError(err: unknown): string {
    const outer = (err ?? {}) as ErrorLike;
    const root = rootCause(err);
    const message = String(root.message ?? outer.message ?? err ?? 'unknown error');
    const name = String(root.name ?? '');
    const type = String(root.type ?? '');
    let advice: string;
    if (name === 'KafkaJSSASLAuthenticationError' || type.includes('SASL_AUTHENTICATION')) {
        advice = 'Kafka refused the credentials: check the SASL mode, mechanism, username and password of the kafka-config node.';
    } else if (/certificate|self[- ]signed|unable to verify|CERT_|SSL|TLS|EPROTO|wrong version number/i.test(message) ||
        /CERT|ERR_SSL/.test(String(root.code ?? ''))) {
        advice = 'The TLS handshake with Kafka failed: check the TLS switch and the CA, certificate and key of the tls-config node.';
    } else if (name === 'KafkaJSConnectionError' || name === 'KafkaJSBrokerNotFound' ||
        name === 'KafkaJSConnectionClosedError' || /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|Connection timeout/i.test(message)) {
        advice = 'Kafka could not be reached (Is your cluster reachable?): check the broker addresses and that the brokers are running.';
    } else if (name === 'KafkaJSRequestTimeoutError' || type === 'REQUEST_TIMED_OUT') {
        advice = 'Kafka did not answer in time: the cluster may be overloaded; raise the request timeout or retry later.';
    } else if (type === 'UNKNOWN_TOPIC_OR_PARTITION') {
        advice = 'The topic or partition does not exist on the cluster: create it or check its name.';
    } else if (type === 'TOPIC_AUTHORIZATION_FAILED' || type === 'GROUP_AUTHORIZATION_FAILED' || type === 'CLUSTER_AUTHORIZATION_FAILED') {
        advice = 'Kafka denied access: grant this user the needed ACLs on the topic or group.';
    } else if (type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE') {
        advice = 'The broker rejected the record as too large: lower the message size or raise the topic\'s max.message.bytes.';
    } else if (type === 'INVALID_REPLICATION_FACTOR' || type === 'NOT_ENOUGH_REPLICAS' || type === 'NOT_ENOUGH_REPLICAS_AFTER_APPEND') {
        advice = 'Not enough in-sync replicas to accept the record: check the brokers of this topic.';
    } else {
        advice = 'Kafka reported an error.';
    }
    return `${advice} (${message})`;
}

/** The `msg.error` object for any error: CORE:PARAM for ParamError, CORE:RUNTIME otherwise. */
export function toMsgError(err: unknown): MsgError {
    if (err instanceof ParamError) return { Code: 'CORE:PARAM', Description: err.message };
    return { Code: 'CORE:RUNTIME', Description: describeError(err) };
}
