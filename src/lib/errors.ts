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

/** The error and those it wraps, outermost first: kafkajs wraps the real cause in retry errors. */
function causeChain(err: unknown): ErrorLike[] {
    const chain = [(err ?? {}) as ErrorLike];
    for (let i = 0; i < 10; i++) {
        const inner = (chain[chain.length - 1].originalError ?? chain[chain.length - 1].cause) as ErrorLike | undefined;
        if (!inner || typeof inner !== 'object') break;
        chain.push(inner);
    }
    return chain;
}

/** The innermost error. */
export function rootCause(err: unknown): ErrorLike {
    const chain = causeChain(err);
    return chain[chain.length - 1];
}

/** True when the error or one it wraps is a broker error of one of these protocol types. */
export function causedBy(err: unknown, ...types: string[]): boolean {
    return causeChain(err).some((e) => types.includes(String(e.type ?? '')));
}

/** What to check, by kind of failure; the sentences are the catalogs' `kafka-config.runtime.*`. */
export const ADVICE = ['auth', 'tls', 'unreachable', 'partial', 'timeout', 'unknown-topic', 'denied', 'too-large', 'replicas', 'other'] as const;
export type Advice = (typeof ADVICE)[number];
/**
 * Turns an advice key into a sentence in the user's language. `partial` names the
 * brokers that are down in `params.down`; a config node's AdviceText fills it in
 * from what its own connections found (see Reachability), so callers that pass
 * only the key still get the partly-reachable sentence.
 */
export type AdviceText = (advice: Advice, params?: { down?: string }) => string;

/** What the client currently knows of the brokers: addresses that answer and that refuse. */
export interface ReachView {
    up: string[];
    down: string[];
}

/**
 * Which advice fits an error: recognises kafkajs's error names, broker error types
 * and TLS failures. A connection failure while other brokers of the cluster answer
 * (`reach`) is "partly reachable", not "unreachable".
 */
export function adviceFor(err: unknown, reach?: ReachView): Advice {
    return refineAdvice(baseAdvice(err), reach);
}

/** "unreachable" becomes "partial" when some brokers answer while others refuse. */
export function refineAdvice(advice: Advice, reach?: ReachView): Advice {
    return advice === 'unreachable' && reach && reach.up.length > 0 && reach.down.length > 0 ? 'partial' : advice;
}

function baseAdvice(err: unknown): Advice {
    const outer = (err ?? {}) as ErrorLike;
    const root = rootCause(err);
    const message = String(root.message ?? outer.message ?? err ?? '');
    const name = String(root.name ?? '');
    const type = String(root.type ?? '');
    if (name === 'KafkaJSSASLAuthenticationError' || type.includes('SASL_AUTHENTICATION')) return 'auth';
    if (/certificate|self[- ]signed|unable to verify|CERT_|SSL|TLS|EPROTO|wrong version number/i.test(message) ||
        /CERT|ERR_SSL/.test(String(root.code ?? ''))) return 'tls';
    if (name === 'KafkaJSConnectionError' || name === 'KafkaJSBrokerNotFound' ||
        name === 'KafkaJSConnectionClosedError' || /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|Connection timeout/i.test(message)) return 'unreachable';
    if (name === 'KafkaJSRequestTimeoutError' || type === 'REQUEST_TIMED_OUT') return 'timeout';
    if (type === 'UNKNOWN_TOPIC_OR_PARTITION') return 'unknown-topic';
    if (type === 'TOPIC_AUTHORIZATION_FAILED' || type === 'GROUP_AUTHORIZATION_FAILED' || type === 'CLUSTER_AUTHORIZATION_FAILED') return 'denied';
    if (type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE') return 'too-large';
    if (type === 'INVALID_REPLICATION_FACTOR' || type === 'NOT_ENOUGH_REPLICAS' || type === 'NOT_ENOUGH_REPLICAS_AFTER_APPEND') return 'replicas';
    return 'other';
}

/** A sentence a person can act on, naming what to check, followed by the client's own message. */
export function describeError(err: unknown, advice: AdviceText): string {
    const outer = (err ?? {}) as ErrorLike;
    const message = String(rootCause(err).message ?? outer.message ?? err ?? 'unknown error');
    return `${advice(adviceFor(err))} (${message})`;
}

/** The `msg.error` object for any error: CORE:PARAM for ParamError, CORE:RUNTIME otherwise. */
export function toMsgError(err: unknown, advice: AdviceText): MsgError {
    if (err instanceof ParamError) return { Code: 'CORE:PARAM', Description: err.message };
    return { Code: 'CORE:RUNTIME', Description: describeError(err, advice) };
}
