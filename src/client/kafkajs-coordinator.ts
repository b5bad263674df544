// Group coordinator failover for kafkajs 2.2.4, mended at run time.
//
// Why this exists: kafkajs 2.2.4 asks FindCoordinator only when a member joins
// (ConsumerGroup's join). After that every heartbeat and offset commit goes to
// the broker object it found then:
// - the heartbeat uses `consumerGroup.coordinator` as it is; a refused connection
//   is retried by the runner against the same dead broker until its retries run
//   out and the consumer crashes;
// - the offset manager, when that broker is disconnected, reconnects to the same
//   node id (`cluster.findBroker(this.coordinator)`), and on NOT_COORDINATOR only
//   refreshes the topic metadata, which does not name coordinators;
// - NOT_COORDINATOR on a heartbeat counts as "rebalancing": the member rejoins
//   (a new generation, its partitions revoked) instead of following the group.
// So when the coordinator broker dies, commits stop until the member is evicted
// and rejoins, and everything since the last commit is consumed again. No kafkajs
// release has fixed it, and the package is installed by Node-RED's palette
// manager into a user's node_modules, where a patch of kafkajs's files made at our
// own install would not reliably land. So the kafkajs copy that this package
// loads is mended here, once, when the seam loads it:
// a heartbeat or a commit that fails because the coordinator is gone, moved or
// not ready looks the coordinator up again (FindCoordinator) and is retried
// against the one named, for at most the group's session timeout, counted again
// from each time a new coordinator is named (it starts the members' sessions
// afresh when it loads the group, so a member that reaches it within a session
// timeout is still a member, however long the cluster took to name it); past
// that, or when the consumer is stopping, the error goes on to kafkajs as before.
// A call that succeeds goes through unchanged.
//
// The mend wraps four methods of kafkajs's own classes (three of ConsumerGroup, and
// Runner.stop) and is applied only to kafkajs 2.2.4 with those methods present;
// anything else is left alone.
// KAFKA_CONNECTOR_COORDINATOR_MEND=off turns it off (to compare, or to rule it out).
import { mendMethods } from './kafkajs-internals';
import type { MendResult } from './kafkajs-internals';

/** Marks kafkajs's ConsumerGroup and Runner prototypes as mended: shared by every copy of this module in the process. */
const MENDED = Symbol.for('node-red-contrib-kafka-connector.coordinator-mend');
const FAILOVER = Symbol('coordinator-failover');
const STOPPING = Symbol('consumer-stopping');

/** kafkajs's protocol error types for "ask FindCoordinator again" (codes 16, 15, 14). */
export const COORDINATOR_ERRORS = ['NOT_COORDINATOR_FOR_GROUP', 'GROUP_COORDINATOR_NOT_AVAILABLE', 'GROUP_LOAD_IN_PROGRESS'];
/** kafkajs's errors for a coordinator that cannot be reached (or whose node is no longer known). */
const UNREACHABLE_ERRORS = [
    'KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError',
    'KafkaJSBrokerNotFound', 'KafkaJSLockTimeout',
];
/** The group coordinator, in FindCoordinator's key type. */
const GROUP_COORDINATOR = 0;

const FIRST_WAIT_MS = 200;
const MAX_WAIT_MS = 500;

interface BrokerLike {
    nodeId?: number;
}

interface Logger {
    info(message: string, extra?: object): void;
    warn(message: string, extra?: object): void;
}

interface Failover {
    /** When the first call of this episode failed. */
    since: number;
    /** Until when calls are made again: a session timeout from the first failure or from the last new coordinator named. */
    until: number;
    /** How many lookups this episode has made. */
    lookups: number;
    /** The lookup under way, shared by every call that failed meanwhile. */
    lookup: Promise<void> | null;
    from: number | undefined;
}

/** The parts of kafkajs's ConsumerGroup the mend uses. */
interface Group {
    groupId: string;
    memberId: string | null;
    generationId: number | null;
    sessionTimeout: number;
    coordinator: BrokerLike | null;
    offsetManager: { coordinator: BrokerLike } | null;
    logger: Logger;
    cluster: {
        findGroupCoordinatorMetadata(a: { groupId: string; coordinatorType: number }): Promise<{ coordinator: { nodeId: number } }>;
        findBroker(a: { nodeId: number }): Promise<BrokerLike>;
    };
    [FAILOVER]?: Failover;
    [STOPPING]?: boolean;
}

type GroupMethod = (this: Group, ...args: unknown[]) => Promise<unknown>;

/** True for an error that says the coordinator this member uses is gone, moved or not ready. */
export function isCoordinatorError(err: unknown): boolean {
    const e = (err ?? {}) as { name?: string; type?: string };
    return COORDINATOR_ERRORS.includes(String(e.type)) || UNREACHABLE_ERRORS.includes(String(e.name));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Asks FindCoordinator and points the group (and its offset manager) at the broker named. Never rejects. */
async function lookUp(group: Group, failover: Failover): Promise<void> {
    const before = group.coordinator?.nodeId;
    let found: number | undefined;
    try {
        const { coordinator } = await group.cluster.findGroupCoordinatorMetadata({
            groupId: group.groupId, coordinatorType: GROUP_COORDINATOR,
        });
        const broker = await group.cluster.findBroker({ nodeId: coordinator.nodeId });
        found = coordinator.nodeId;
        group.coordinator = broker;
        if (group.offsetManager) group.offsetManager.coordinator = broker;
        if (found !== before) failover.until = Date.now() + group.sessionTimeout;
    } catch {
        // no answer, or the node named cannot be reached yet: asked again below
    }
    failover.lookups++;
    // A new coordinator is tried at once; the same one (the cluster has not
    // moved the group yet) or none, after a pause.
    if (found === undefined || found === before) {
        await sleep(Math.min(MAX_WAIT_MS, FIRST_WAIT_MS * failover.lookups));
    }
}

/** After a coordinator error: looks the coordinator up again; true when the call should be made again. */
async function relocate(group: Group, err: unknown): Promise<boolean> {
    if (group[STOPPING]) return false;
    let failover = group[FAILOVER];
    if (!failover) {
        const since = Date.now();
        failover = { since, until: since + group.sessionTimeout, lookups: 0, lookup: null, from: group.coordinator?.nodeId };
        group[FAILOVER] = failover;
        group.logger.warn('Group coordinator failed, looking it up again', {
            groupId: group.groupId, memberId: group.memberId, nodeId: failover.from,
            error: (err as Error)?.message,
        });
    }
    if (!failover.lookup) {
        const f = failover;
        // A coordinator still loading the group is the right one: it is only waited for.
        const loading = (err as { type?: string })?.type === 'GROUP_LOAD_IN_PROGRESS';
        f.lookup = (loading ? sleep(FIRST_WAIT_MS) : lookUp(group, f)).finally(() => { f.lookup = null; });
    }
    await failover.lookup;
    if (group[STOPPING]) return false;
    if (Date.now() < failover.until) return true;
    // A session timeout without a new coordinator is more than a failover:
    // kafkajs's own handling (rejoin, or crash and restart) takes over, as without the mend.
    group[FAILOVER] = undefined;
    return false;
}

function mended(original: GroupMethod): GroupMethod {
    return async function (this: Group, ...args: unknown[]) {
        for (let retried = false; ; retried = true) {
            try {
                const result = await original.apply(this, args);
                // Only a call made again after a failure is sure to have reached the
                // coordinator: a first one may have had nothing to send (a heartbeat
                // before its interval), and another call's failover is still under way.
                const failover = retried ? this[FAILOVER] : undefined;
                if (failover) {
                    this[FAILOVER] = undefined;
                    this.logger.info('Group coordinator found again', {
                        groupId: this.groupId, memberId: this.memberId, generationId: this.generationId,
                        from: failover.from, to: this.coordinator?.nodeId, afterMs: Date.now() - failover.since,
                    });
                }
                return result;
            } catch (err) {
                if (!isCoordinatorError(err) || !(await relocate(this, err))) throw err;
            }
        }
    };
}

type Stop = (this: { consumerGroup?: Group }, ...args: unknown[]) => Promise<unknown>;

/** Runner.stop(), marking its group as stopping first: stopping ends a failover wait. */
function stopping(stop: Stop): Stop {
    return function (this: { consumerGroup?: Group }, ...args: unknown[]) {
        if (this.consumerGroup) this.consumerGroup[STOPPING] = true;
        return stop.apply(this, args);
    };
}

/**
 * Mends the kafkajs copy this package loads (see the top of this file): heartbeats and
 * commits follow the coordinator. Idempotent. `kafkajsDir` is for tests; by default it is
 * the kafkajs that `require('kafkajs')` resolves to here.
 */
export function mendCoordinatorFailover(kafkajsDir?: string): MendResult {
    const group = ['src', 'consumer', 'consumerGroup.js'];
    return mendMethods(MENDED, () => [
        ...['heartbeat', 'commitOffsets', 'commitOffsetsIfNecessary'].map((method) => ({ file: group, prototype: true, method, wrap: mended })),
        { file: ['src', 'consumer', 'runner.js'], prototype: true, method: 'stop', wrap: stopping },
    ], { kafkajsDir, offVariable: 'KAFKA_CONNECTOR_COORDINATOR_MEND' });
}
