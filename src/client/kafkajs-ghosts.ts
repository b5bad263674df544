// Group members this process stopped but the coordinator may still count: a member
// whose LeaveGroup could not reach the cluster (it crashed in an outage) stays in the
// group until its session times out, and a rebalance waits for it that long. Before a
// member of the same group joins again, those member ids are made to leave, so the
// group settles as soon as the cluster is back. Only ids this process itself used are
// ever named: never another instance's live member.
import type { Kafka } from 'kafkajs';
import { COORDINATOR_ERRORS } from './kafkajs-coordinator';
import { mendMethods } from './kafkajs-internals';
import type { MendResult } from './kafkajs-internals';

const lingering = new Map<string, Set<string>>();
const LEAVE_BUDGET_MS = 3000;
const LEAVE_RETRY_MS = 250;

/** The member ids of a group noted and not yet gone (for specs). */
export function lingeringOf(groupId: string): string[] {
    return [...(lingering.get(groupId) ?? [])];
}

/** A member id of this group that this process stopped (it may or may not have left). */
export function noteStopped(groupId: string, memberId: string | null): void {
    if (!memberId) return;
    let ids = lingering.get(groupId);
    if (!ids) lingering.set(groupId, ids = new Set());
    ids.add(memberId);
}

interface KafkajsBroker {
    leaveGroup(args: { groupId: string; memberId: string }): Promise<unknown>;
}
interface KafkajsCluster {
    connect(): Promise<void>;
    disconnect(): Promise<void>;
    findGroupCoordinator(args: { groupId: string }): Promise<KafkajsBroker>;
}

/** Sends LeaveGroup for the noted ids (within a few seconds); ids that are gone, or left now, are forgotten. */
export async function leaveLingering(kafka: Kafka, groupId: string): Promise<void> {
    const ids = lingering.get(groupId);
    if (!ids || !ids.size) return;
    // kafkajs keeps its cluster factory private; LeaveGroup for a given member id needs it.
    const create = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
    if (!create) return;
    const cluster = (kafka as unknown as Record<symbol, (o: object) => KafkajsCluster>)[create]({});
    const until = Date.now() + LEAVE_BUDGET_MS;
    let over = false;
    const attempt = async () => {
        await cluster.connect();
        const coordinator = await cluster.findGroupCoordinator({ groupId });
        for (const memberId of [...ids]) {
            try {
                await coordinator.leaveGroup({ groupId, memberId });
                ids.delete(memberId);
            } catch (err) {
                const type = (err as { type?: string }).type;
                if (type === 'UNKNOWN_MEMBER_ID') ids.delete(memberId); // already gone
                else throw err;
            }
        }
    };
    // A cluster just back is still loading its groups (the coordinator answers "loading" or
    // "not available" for a second or two): asked again within the budget, since a member
    // that does not leave holds the group's rebalance for its whole session timeout. A
    // cluster that does not answer at all is not waited for: the member's start goes on.
    const work = (async () => {
        for (;;) {
            try {
                await attempt();
                return;
            } catch (err) {
                const type = String((err as { type?: string }).type);
                // a coordinator that answers but is not ready for the group yet (codes 14, 15, 16)
                if (over || !COORDINATOR_ERRORS.includes(type) || Date.now() + LEAVE_RETRY_MS >= until) throw err;
                await new Promise((resolve) => setTimeout(resolve, LEAVE_RETRY_MS));
            }
        }
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
        await Promise.race([work, new Promise((resolve) => { timer = setTimeout(resolve, LEAVE_BUDGET_MS); })]);
    } catch {
        // the cluster is not back yet: the next start tries again
    } finally {
        over = true;
        if (timer) clearTimeout(timer);
        work.catch(() => undefined);
        await cluster.disconnect().catch(() => undefined);
        if (!ids.size) lingering.delete(groupId);
    }
}

/**
 * After leaveLingering() could not reach the coordinator (a cluster only partly back): keeps
 * sending LeaveGroup for the noted ids every LEAVE_RETRY_MS * 2 while `going()` holds and at
 * most `forMs`, so that a join sent meanwhile does not wait the old ids' session out. Never rejects.
 */
export async function keepLeaving(kafka: Kafka, groupId: string, going: () => boolean, forMs: number): Promise<void> {
    const until = Date.now() + forMs;
    while (lingering.get(groupId)?.size && going() && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, LEAVE_RETRY_MS * 2));
        if (!going()) return;
        await leaveLingering(kafka, groupId).catch(() => undefined);
    }
}

const JOIN_MENDED = Symbol.for('node-red-contrib-kafka-connector.abandoned-join-mend');

interface Member {
    groupId: string;
    memberId: string | null;
}
type JoinAndSync = (this: Member, ...args: unknown[]) => Promise<unknown>;

/**
 * kafkajs 2.2.4, mended at run time: a join that fails for good after the coordinator
 * gave the member an id (JoinGroup answered, then SyncGroup refused, as a cluster still
 * loading its groups does) ends the consumer without a LeaveGroup, and the consumer
 * reports no member id for it. That id then held the group's next rebalance for its
 * whole session timeout (the full fault run's e: 9 s after the cluster was back). Its
 * id is noted here, so the next start asks it to leave. Idempotent.
 */
export function mendAbandonedJoins(kafkajsDir?: string): MendResult {
    const wrap = (joinAndSync: JoinAndSync): JoinAndSync => async function (this: Member, ...args: unknown[]) {
        try {
            const joined = await joinAndSync.apply(this, args);
            // joined again under an id noted before (kafkajs's fetch loop rejoins after a failed join): in use, not lingering
            if (this.memberId) lingering.get(this.groupId)?.delete(this.memberId);
            return joined;
        } catch (err) {
            noteStopped(this.groupId, this.memberId);
            throw err;
        }
    };
    return mendMethods(JOIN_MENDED, () => [{ file: ['src', 'consumer', 'consumerGroup.js'], prototype: true, method: 'joinAndSync', wrap }], { kafkajsDir });
}
