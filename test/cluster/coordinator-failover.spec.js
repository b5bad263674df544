'use strict';
// When the broker that coordinates a consumer group dies (kill -9), the member's
// commits and heartbeats move to the new coordinator within seconds: same member,
// no rebalance, nothing consumed twice. kafkajs 2.2.4 alone keeps asking the dead
// broker (see src/client/kafkajs-coordinator.ts); with the mend turned off
// (KAFKA_CONNECTOR_COORDINATOR_MEND=off) this spec fails.
//
// The consumer is the seam's (createClient → createConsumer) with the package's
// default group timings (session 10 s, heartbeat 3 s), committing what it has
// received every half second, as the consumer node does every commit interval.
// First the topic's leaders are kept off the coordinator (this is about the
// coordinator), then the coordinator also leads a partition.
const assert = require('assert');
const crypto = require('crypto');
const { Kafka, logLevel } = require('kafkajs');
const { Cluster } = require('../../scripts/kafka/cluster');
const { createClient } = require('../../nodes/client');
const { readSettings } = require('../../nodes/lib/settings');

const PARTITIONS = 3;
const SESSION_TIMEOUT_MS = 10000;
const COMMIT_EVERY_MS = 500;
const PRODUCE_EVERY_MS = 50;
/**
 * How soon after the kill commits must land again. The cluster alone needs about
 * 7 s here (the harness fences a dead broker after 6 s) on an idle machine, more
 * on a busy one: what the consumer adds is held to FOLLOW_LIMIT_MS.
 */
const FAILOVER_LIMIT_MS = SESSION_TIMEOUT_MS + 5000;
/** How soon after the cluster serves the group at its new coordinator the consumer's commits land there. */
const FOLLOW_LIMIT_MS = 3000;
/** How long after the failover the member is watched for a late eviction (longer than a session). */
const WATCH_AFTER_MS = SESSION_TIMEOUT_MS + 2000;
/** How long the cluster is asked for a commit stored after the kill. */
const STORED_WAIT_MS = 40000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what, timeoutMs, check) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await check();
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
        await sleep(100);
    }
}

/** Steady traffic: one record per partition every PRODUCE_EVERY_MS, acks from the leader. */
function startTraffic(kafka, topic) {
    const producer = kafka.producer({ retry: { retries: 2 } });
    let running = true;
    let seq = 0;
    const stats = { sent: 0, failed: 0 };
    const loop = (async () => {
        await producer.connect();
        while (running) {
            const messages = Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, value: String(seq++) }));
            try {
                await producer.send({ topic, acks: 1, messages });
                stats.sent += messages.length;
            } catch {
                stats.failed++;
            }
            await sleep(PRODUCE_EVERY_MS);
        }
        await producer.disconnect();
    })();
    return { stats, stop: async () => { running = false; await loop; } };
}

/** A group member through the seam that commits what it has received, every COMMIT_EVERY_MS. */
function startMember(bootstrap, topic, groupId) {
    // Retries enough to outlast a leader election after a kill -9 (the node itself would restart a crashed member).
    const { settings, problems } = readSettings({ brokers: bootstrap, sessionTimeout: SESSION_TIMEOUT_MS, rebalanceMaxRetries: 10 });
    assert.deepStrictEqual(problems, []);
    const log = [];
    const client = createClient({ settings, tls: null, log: (level, message) => log.push({ at: Date.now(), level, message }) });
    const state = {
        log, joins: [], crashes: [], rebalancing: 0, duplicates: 0, received: 0,
        seen: new Set(), next: new Map(), attempts: [], commits: [], commitErrors: [],
    };
    const consumer = client.createConsumer({
        groupId, topics: [topic], fromBeginning: false, settings: settings.consumer, concurrency: PARTITIONS,
        onAssignment: (a) => state.joins.push({ at: Date.now(), assignment: a }),
        onCrash: (err) => state.crashes.push({ at: Date.now(), error: String(err && err.message) }),
        onRebalancing: () => { state.rebalancing++; },
        onBatch: async (records, control) => {
            for (const r of records) {
                const key = `${r.partition}:${r.offset}`;
                if (state.seen.has(key)) state.duplicates++;
                state.seen.add(key);
                state.received++;
                state.next.set(r.partition, BigInt(r.offset) + 1n);
                control.resolveOffset(r.offset);
            }
        },
    });
    let running = true;
    const committed = new Map();
    const commitLoop = (async () => {
        while (running) {
            const offsets = [...state.next].filter(([p, o]) => committed.get(p) !== o)
                .map(([partition, o]) => ({ topic, partition, offset: String(o) }));
            if (offsets.length) {
                const startedAt = Date.now();
                state.attempts.push({ startedAt, offsets });
                try {
                    await consumer.commit(offsets);
                    offsets.forEach((o) => committed.set(o.partition, BigInt(o.offset)));
                    state.commits.push({ startedAt, at: Date.now(), offsets });
                } catch (err) {
                    state.commitErrors.push({ startedAt, at: Date.now(), error: String(err && err.message) });
                }
            }
            await sleep(COMMIT_EVERY_MS);
        }
    })();
    return {
        state,
        start: () => consumer.start(),
        stop: async () => {
            running = false;
            await commitLoop;
            await consumer.stop().catch(() => {});
        },
    };
}

describe('group coordinator failover (3-node cluster)', function () {
    this.timeout(300000);
    let cluster;
    let kafka;
    let admin;

    before(async function () {
        cluster = new Cluster({ version: process.env.KAFKA_VERSION || '3.9.1', nodes: 3 });
        await cluster.start();
        kafka = new Kafka({ clientId: 'failover-spec', brokers: cluster.bootstrap.split(','), logLevel: logLevel.NOTHING });
        admin = kafka.admin();
        await admin.connect();
    });

    after(async function () {
        if (admin) await admin.disconnect().catch(() => {});
        if (cluster) {
            await cluster.stop();
            if (!process.env.KAFKA_KEEP_DATA) await cluster.removeData().catch(() => {});
        }
    });

    /** `leaderToo`: the coordinator also leads partition 0 (else the topic's leaders are elsewhere). */
    async function killCoordinator(leaderToo) {
        const id = crypto.randomBytes(4).toString('hex');
        const topic = `coordinator-failover-${id}`;
        const groupId = `coordinator-failover-${id}`;
        const coordinator = await cluster.coordinatorOf(groupId);
        const [a, b] = cluster.nodeIds.filter((n) => n !== coordinator);
        await admin.createTopics({
            // kafkajs's own wait meets KRaft's transient "unknown topic": the leaders are waited for below
            waitForLeaders: false,
            topics: [{
                topic,
                replicaAssignment: Array.from({ length: PARTITIONS }, (_, partition) => ({
                    partition,
                    replicas: leaderToo && partition === 0 ? [coordinator, a, b] : partition % 2 ? [b, a, coordinator] : [a, b, coordinator],
                })),
            }],
        });
        await until('the topic\'s leaders', 30000, async () => {
            const md = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => null);
            const parts = md ? md.topics[0].partitions : [];
            return parts.length === PARTITIONS && parts.every((p) => p.leader === p.replicas[0]);
        });

        const traffic = startTraffic(kafka, topic);
        const member = startMember(cluster.bootstrap, topic, groupId);
        const { state } = member;
        try {
            // A broker may not serve the new topic's metadata yet (kafkajs's subscribe then throws
            // UNKNOWN_TOPIC_OR_PARTITION): started again until it does, as the engine restarts a member.
            await until('the member started', 30000, () => member.start().then(() => true, (err) => {
                if (err.type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
                return false;
            }));
            await until('the assignment', 30000, () => state.joins.length > 0);
            await until('steady commits', 30000, () => state.commits.length >= 4 && state.received > 50);
            const group = (await admin.describeGroups([groupId])).groups[0];
            assert.strictEqual(group.state, 'Stable');
            assert.strictEqual(group.members.length, 1);
            const memberBefore = group.members[0].memberId;
            assert.strictEqual(await cluster.coordinatorOf(groupId), coordinator);

            const killedAt = Date.now();
            await cluster.kill(coordinator);
            // At most what the dead coordinator can have stored: every commit begun by the kill.
            const before = new Map();
            state.attempts.filter((c) => c.startedAt <= killedAt)
                .forEach((c) => c.offsets.forEach((o) => {
                    if (BigInt(o.offset) > (before.get(o.partition) ?? -1n)) before.set(o.partition, BigInt(o.offset));
                }));
            // A commit has landed at the new coordinator once the group's stored offsets
            // move past those; asked of the cluster, since a stopped kafkajs consumer
            // resolves commitOffsets without sending anything.
            // (A probe without retries, so that it does not lag behind.)
            const probe = kafka.admin({ retry: { retries: 0 } });
            await probe.connect();
            let storedAt;
            let servedAt = null;
            try {
                storedAt = await until('a commit stored after the kill', STORED_WAIT_MS, async () => {
                    const stored = await probe.fetchOffsets({ groupId, topics: [topic] }).catch(() => null);
                    const now = Date.now(); // stored by now (the request itself may have waited)
                    // The first answer: the cluster has a new coordinator serving the group.
                    if (stored && servedAt === null) servedAt = now;
                    const moved = stored && stored[0].partitions.some((p) => BigInt(p.offset) > (before.get(p.partition) ?? -1n));
                    return moved ? now : null;
                }).catch(() => killedAt + STORED_WAIT_MS); // reported and failed below
            } finally {
                await probe.disconnect().catch(() => {});
            }
            const storedMs = storedAt - killedAt;
            const firstCommitAfterKill = state.commits.find((c) => c.startedAt > killedAt);
            // The seam's commit resolves when the coordinator has answered (the consumer did not crash: checked below).
            const failoverMs = firstCommitAfterKill ? firstCommitAfterKill.at - killedAt : storedMs;
            // The cluster's own part: fencing the dead broker (broker.session.timeout.ms), electing
            // a new leader of the group's __consumer_offsets partition, loading the group.
            const servedMs = servedAt === null ? null : servedAt - killedAt;
            await sleep(WATCH_AFTER_MS);

            const newCoordinator = await cluster.coordinatorOf(groupId);
            const after = (await admin.describeGroups([groupId])).groups[0];
            const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
            const coordLog = state.log.filter((l) => /coordinator/i.test(l.message)).map((l) => `+${l.at - killedAt} ms ${l.message}`);
            const report = {
                coordinator, newCoordinator, servedMs, failoverMs, storedMs, joins: state.joins.length, crashes: state.crashes,
                rebalancing: state.rebalancing, duplicates: state.duplicates, received: state.received,
                commitErrorsAfterKill: state.commitErrors.filter((e) => e.at > killedAt).length,
                membersAfter: after.members.map((m) => m.memberId), state: after.state, traffic: traffic.stats,
                committed: offsets[0].partitions,
            };
            console.log(`      ${JSON.stringify(report)}\n      ${coordLog.slice(0, 12).join('\n      ')}`);

            assert.notStrictEqual(newCoordinator, coordinator);
            assert.deepStrictEqual(state.crashes, []);
            assert.ok(servedMs !== null && storedMs < STORED_WAIT_MS, 'no commit was stored after the kill');
            // The consumer's part: its commits follow within moments of the cluster's new coordinator.
            assert.ok(failoverMs - servedMs < FOLLOW_LIMIT_MS,
                `commits landed again ${failoverMs} ms after the kill, ${failoverMs - servedMs} ms after the cluster served the group`);
            assert.ok(failoverMs < FAILOVER_LIMIT_MS, `commits landed again ${failoverMs} ms after the kill`);
            assert.strictEqual(state.joins.length, 1, 'the member joined again: it was evicted or the group rebalanced');
            assert.strictEqual(state.rebalancing, 0);
            assert.strictEqual(after.state, 'Stable');
            assert.deepStrictEqual(after.members.map((m) => m.memberId), [memberBefore]);
            assert.strictEqual(state.duplicates, 0, `${state.duplicates} records were delivered twice`);
            // and it kept consuming and committing at the new coordinator
            const lastCommit = state.commits[state.commits.length - 1];
            assert.ok(lastCommit.at > storedAt + SESSION_TIMEOUT_MS, 'commits stopped after the failover');
            for (const p of offsets[0].partitions) {
                assert.ok(BigInt(p.offset) > (before.get(p.partition) ?? -1n), `partition ${p.partition}: nothing stored since the kill`);
            }
        } finally {
            await member.stop();
            await traffic.stop();
            await cluster.restart(coordinator); // whole again for what follows
        }
    }

    it('kill -9 of the coordinator: commits land at the new one within seconds, same member, no rebalance, nothing redelivered', async function () {
        await killCoordinator(false);
    });

    it('the same when the coordinator also leads a partition of the topic', async function () {
        await killCoordinator(true);
    });
});
