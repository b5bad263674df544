'use strict';
// The lingering-member cleanup of the kafkajs seam (src/client/kafkajs-ghosts.ts): which
// answers are asked again and which end the attempt. kafkajs's cluster is stood in for by
// an object with the same private factory the module looks for; the behaviour against a
// real cluster is in the fault suite (scenarios a, e, g).
const assert = require('assert');
const { noteStopped, leaveLingering, keepLeaving } = require('../../nodes/client/kafkajs-ghosts');

/** A kafkajs-like object whose LeaveGroup answers with `answers` in turn (an error type, or 'ok'). */
function fakeKafka(answers, { connectError = null, refusals = Infinity } = {}) {
    const calls = { connect: 0, leave: [] };
    const cluster = {
        async connect() {
            calls.connect++;
            if (connectError && calls.connect <= refusals) throw connectError;
        },
        async disconnect() {},
        async findGroupCoordinator() {
            return {
                async leaveGroup({ memberId }) {
                    const answer = answers[Math.min(calls.leave.length, answers.length - 1)];
                    calls.leave.push(memberId);
                    if (answer !== 'ok') throw Object.assign(new Error(answer), { type: answer });
                },
            };
        },
    };
    const kafka = { [Symbol('private:Kafka:createCluster')]: () => cluster };
    return { kafka, calls };
}

describe('kafkajs seam: members this process stopped leave before the next join', function () {
    it('asks again while the coordinator is still loading the group, then the id is forgotten', async function () {
        const { kafka, calls } = fakeKafka(['GROUP_LOAD_IN_PROGRESS', 'GROUP_COORDINATOR_NOT_AVAILABLE', 'ok']);
        noteStopped('g-loading', 'member-1');
        await leaveLingering(kafka, 'g-loading');
        assert.deepStrictEqual(calls.leave, ['member-1', 'member-1', 'member-1']);
        await leaveLingering(kafka, 'g-loading');
        assert.strictEqual(calls.leave.length, 3, 'left: nothing more to send');
    });

    it('a cluster that does not answer is not waited for: one attempt, the id kept for the next start', async function () {
        const refused = Object.assign(new Error('connect ECONNREFUSED'), { name: 'KafkaJSConnectionError' });
        const { kafka, calls } = fakeKafka(['ok'], { connectError: refused });
        noteStopped('g-down', 'member-2');
        const t = Date.now();
        await leaveLingering(kafka, 'g-down');
        assert.ok(Date.now() - t < 200, `returned after ${Date.now() - t} ms`);
        assert.strictEqual(calls.connect, 1);
        const next = fakeKafka(['ok']);
        await leaveLingering(next.kafka, 'g-down');
        assert.deepStrictEqual(next.calls.leave, ['member-2'], 'still noted, sent once the cluster answers');
    });

    it('a member already gone (UNKNOWN_MEMBER_ID) is forgotten; another refusal keeps it', async function () {
        const gone = fakeKafka(['UNKNOWN_MEMBER_ID']);
        noteStopped('g-gone', 'member-3');
        await leaveLingering(gone.kafka, 'g-gone');
        const after = fakeKafka(['ok']);
        await leaveLingering(after.kafka, 'g-gone');
        assert.deepStrictEqual(after.calls.leave, [], 'forgotten');

        const denied = fakeKafka(['GROUP_AUTHORIZATION_FAILED']);
        noteStopped('g-denied', 'member-4');
        await leaveLingering(denied.kafka, 'g-denied');
        assert.strictEqual(denied.calls.leave.length, 1, 'not asked again');
        const later = fakeKafka(['ok']);
        await leaveLingering(later.kafka, 'g-denied');
        assert.deepStrictEqual(later.calls.leave, ['member-4']);
    });

    it('keepLeaving: asks again while the new member joins, until the old id has left', async function () {
        const refused = Object.assign(new Error('connect ECONNREFUSED'), { name: 'KafkaJSConnectionError' });
        const { kafka, calls } = fakeKafka(['ok'], { connectError: refused, refusals: 2 });
        noteStopped('g-keep', 'member-5');
        await leaveLingering(kafka, 'g-keep');
        assert.deepStrictEqual(calls.leave, [], 'the coordinator could not be reached');
        await keepLeaving(kafka, 'g-keep', () => true, 5000);
        assert.deepStrictEqual(calls.leave, ['member-5']);
        assert.strictEqual(calls.connect, 3);
    });

    it('keepLeaving: stops when the member has joined (or stopped)', async function () {
        const refused = Object.assign(new Error('connect ECONNREFUSED'), { name: 'KafkaJSConnectionError' });
        const { kafka, calls } = fakeKafka(['ok'], { connectError: refused });
        noteStopped('g-joined', 'member-6');
        let joined = false;
        setTimeout(() => { joined = true; }, 1200);
        const t = Date.now();
        await keepLeaving(kafka, 'g-joined', () => !joined, 10000);
        assert.ok(Date.now() - t < 2500, `gave up after ${Date.now() - t} ms`);
        assert.ok(calls.connect >= 1 && calls.connect <= 3, `${calls.connect} attempts`);
    });
});

describe('kafkajs seam: a join abandoned after the coordinator gave an id', function () {
    const { mendAbandonedJoins, lingeringOf } = require('../../nodes/client/kafkajs-ghosts');
    const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup');
    const { KafkaJSProtocolError } = require('kafkajs/src/errors');
    const { createErrorFromCode } = require('kafkajs/src/protocol/error');
    const logger = { namespace: () => logger, info() {}, warn() {}, debug() {}, error() {} };

    /** kafkajs's ConsumerGroup on a coordinator that answers JoinGroup and refuses SyncGroup while `refusing`. */
    function groupOn(groupId, state) {
        const coordinator = {
            nodeId: 1,
            joinGroup: async () => ({ generationId: 3, leaderId: 'member-x', memberId: 'member-x', groupProtocol: 'RoundRobinAssigner', members: [] }),
            syncGroup: async () => {
                if (state.refusing) throw new KafkaJSProtocolError(createErrorFromCode(15)); // GROUP_COORDINATOR_NOT_AVAILABLE
                return { memberAssignment: Buffer.alloc(0) };
            },
        };
        const cluster = {
            findGroupCoordinator: async () => coordinator,
            refreshMetadataIfNecessary: async () => {}, refreshMetadata: async () => {},
            findTopicPartitionMetadata: () => [], isConnected: () => true, committedOffsets: () => ({}),
        };
        const g = new ConsumerGroup({
            retry: { retries: 0 }, cluster, groupId, topics: [], topicConfigurations: {}, logger,
            instrumentationEmitter: { emit() {} }, assigners: [{ name: 'RoundRobinAssigner', version: 0, assign: async () => [], protocol: () => ({ name: 'RoundRobinAssigner', metadata: Buffer.alloc(0) }) }],
            sessionTimeout: 10000, rebalanceTimeout: 60000,
        });
        return g;
    }

    it('its member id is noted to leave; an id that joins again is not', async function () {
        const m = mendAbandonedJoins();
        assert.strictEqual(m.applied, true, m.reason);
        const state = { refusing: true };
        const g = groupOn('g-abandoned', state);
        await assert.rejects(g.joinAndSync(), { type: 'GROUP_COORDINATOR_NOT_AVAILABLE' });
        assert.strictEqual(g.memberId, 'member-x');
        assert.deepStrictEqual(lingeringOf('g-abandoned'), ['member-x']);
        state.refusing = false;
        await g.joinAndSync();
        assert.deepStrictEqual(lingeringOf('g-abandoned'), []);
    });
});
