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
 * The longest wait between two connection attempts. A cluster that comes back is
 * used again within about this long plus one connect, however long it was away;
 * one attempt every few seconds per node is no load for a cluster.
 */
export const RETRY_CAP_MS = 3000;

/**
 * Wait before the next connection attempt: the retry backoff, doubled per failed
 * attempt up to RETRY_CAP_MS (a retry backoff set above the cap is kept as it is:
 * the user asked for that pause), never less than 100 ms (no tight loop).
 */
export function retryDelay(attempt: number, backoff: number): number {
    const base = Math.max(100, backoff);
    return Math.min(Math.max(base, RETRY_CAP_MS), base * 2 ** Math.min(Math.max(0, attempt), 16));
}

/**
 * Which broker addresses answer and which refuse, from what the client's own
 * connection attempts found: an address is down from a failed connect until a
 * connect to it succeeds again. A cluster with some brokers down and some up is
 * "partly reachable", which calls for other advice than "unreachable".
 */
export class Reachability {
    private readonly last = new Map<string, { ok: boolean; cause: string }>();

    /** A connection to `address` was made (`ok`) or failed with `cause`. */
    record(address: string, ok: boolean, cause = ''): boolean {
        const before = this.last.get(address);
        this.last.set(address, { ok, cause });
        return !before || before.ok !== ok;
    }

    /** Addresses whose last connection attempt failed, sorted. */
    down(): string[] {
        return [...this.last].filter(([, v]) => !v.ok).map(([a]) => a).sort();
    }

    /** Addresses whose last connection attempt succeeded, sorted. */
    up(): string[] {
        return [...this.last].filter(([, v]) => v.ok).map(([a]) => a).sort();
    }

    /** Some brokers answer and some refuse. */
    get partial(): boolean {
        return this.down().length > 0 && this.up().length > 0;
    }

    /** Forget everything (a new connection, a redeploy). */
    clear(): void {
        this.last.clear();
    }
}
