// The config node's connection state machine, reduced to what its user nodes show.
// Status texts are message keys, translated by the node.

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'retrying' | 'invalid' | 'closed';

export interface StatusView {
    fill: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
    shape: 'dot' | 'ring';
    /**
     * A message key: Node-RED's own `node-red:common.status.*` where one fits (so
     * every editor language has it), else this package's `status.*`.
     */
    key: string;
}

/** A status as a node shows it: the view's colour and shape, with translated text. */
export interface ShownStatus {
    fill: StatusView['fill'];
    shape: StatusView['shape'];
    text: string;
}

const VIEWS: Record<ConnectionState, StatusView> = {
    idle: { fill: 'grey', shape: 'ring', key: 'node-red:common.status.not-connected' },
    connecting: { fill: 'yellow', shape: 'ring', key: 'node-red:common.status.connecting' },
    connected: { fill: 'green', shape: 'dot', key: 'node-red:common.status.connected' },
    retrying: { fill: 'red', shape: 'ring', key: 'node-red:common.status.disconnected' },
    invalid: { fill: 'red', shape: 'dot', key: 'status.invalid' },
    closed: { fill: 'grey', shape: 'ring', key: 'node-red:common.status.not-connected' },
};

export function statusView(state: ConnectionState): StatusView {
    return VIEWS[state];
}

/**
 * Wait before the next connection attempt: the retry backoff, doubled per failed
 * attempt, never more than a minute, never less than 100 ms (no tight loop).
 */
export function retryDelay(attempt: number, backoff: number): number {
    const base = Math.max(100, backoff);
    return Math.min(Math.max(base, 60000), base * 2 ** Math.min(Math.max(0, attempt), 16));
}
