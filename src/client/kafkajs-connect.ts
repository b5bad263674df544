// One connect at a time per kafkajs connection, mended at run time (kafkajs 2.2.4).
//
// Why this exists: a kafkajs broker sends each request through its connection
// pool, which calls the connection's connect() whenever the connection is not
// connected, without a lock. After a broker restart every request that finds the
// connection down (heartbeats, commits, fetches, produce requests of several
// callers) starts its own connect(); each one opens a new socket and makes it the
// connection's socket. The sockets opened before the last are left open and
// unowned (a spec counts 11 sockets for 11 requests), and requests of callers whose
// own connect finished first are written to the last socket while it may still be
// connecting. (The MaxListenersExceededWarning of the fault suite had another
// cause: unref() on a refused socket, see connection-watch.ts.)
// Here a connect() called while another is under way on the same connection
// waits for that one and shares its outcome, as one socket per connection intends.
//
// Applied only to kafkajs 2.2.4 with Connection.prototype.connect present.
// KAFKA_CONNECTOR_CONNECT_MEND=off turns it off (to compare, or to rule it out).
import { mendMethods } from './kafkajs-internals';
import type { MendResult } from './kafkajs-internals';

const MENDED = Symbol.for('node-red-contrib-kafka-connector.connect-mend');
const UNDER_WAY = Symbol('connect-under-way');

type Connect = (this: Connection, ...args: unknown[]) => Promise<unknown>;
interface Connection {
    [UNDER_WAY]?: Promise<unknown>;
}

/** Connection.connect(), where a call while another is under way shares that one. */
function sharedConnect(connect: Connect): Connect {
    return function (this: Connection, ...args: unknown[]) {
        const under = this[UNDER_WAY];
        if (under) return under;
        const attempt = connect.apply(this, args);
        this[UNDER_WAY] = attempt;
        const done = () => {
            if (this[UNDER_WAY] === attempt) this[UNDER_WAY] = undefined;
        };
        attempt.then(done, done);
        return attempt;
    };
}

/** Mends the kafkajs copy this package loads (see the top of this file). Idempotent. */
export function mendConcurrentConnects(kafkajsDir?: string): MendResult {
    return mendMethods(MENDED, () => [{ file: ['src', 'network', 'connection.js'], prototype: true, method: 'connect', wrap: sharedConnect }],
        { kafkajsDir, offVariable: 'KAFKA_CONNECTOR_CONNECT_MEND' });
}
