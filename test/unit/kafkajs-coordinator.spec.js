'use strict';
// The coordinator mend, against kafkajs's own ConsumerGroup and OffsetManager with
// fake brokers: a heartbeat or commit that meets a gone or moved coordinator asks
// FindCoordinator again and lands at the broker named; anything else is untouched.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { mendCoordinatorFailover, isCoordinatorError } = require('../../nodes/client/kafkajs-coordinator');
const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup');
const Runner = require('kafkajs/src/consumer/runner');
const OffsetManager = require('kafkajs/src/consumer/offsetManager');
const { KafkaJSProtocolError, KafkaJSConnectionError } = require('kafkajs/src/errors');
const { createErrorFromCode } = require('kafkajs/src/protocol/error');

const protocolError = (code) => new KafkaJSProtocolError(createErrorFromCode(code));
const refused = () => new KafkaJSConnectionError('Connection error: connect ECONNREFUSED', { code: 'ECONNREFUSED' });

const logger = { namespace: () => logger, info() {}, warn() {}, debug() {}, error() {} };

/** A broker that answers heartbeats and commits, or fails them with `fail()`'s error. */
function fakeBroker(nodeId, fail = () => null) {
    const calls = [];
    const answer = (kind) => async (payload) => {
        calls.push({ kind, payload });
        const err = fail(kind);
        if (err) throw err;
        return {};
    };
    return { nodeId, calls, isConnected: () => true, heartbeat: answer('heartbeat'), offsetCommit: answer('commit') };
}

/** A cluster whose FindCoordinator answers the node ids in `answers`, the last one from then on. */
function fakeCluster(brokers, answers) {
    const asked = [];
    const offsets = {};
    return {
        asked,
        async findGroupCoordinatorMetadata({ groupId, coordinatorType }) {
            asked.push({ groupId, coordinatorType });
            const nodeId = answers[Math.min(asked.length - 1, answers.length - 1)];
            return { coordinator: { nodeId } };
        },
        async findBroker({ nodeId }) {
            const b = brokers[nodeId];
            if (!b || b.dead) throw refused();
            return b;
        },
        async refreshMetadata() {},
        committedOffsets: () => offsets,
    };
}

function group(cluster, coordinator, sessionTimeout = 10000) {
    const g = new ConsumerGroup({
        retry: { retries: 0 }, cluster, groupId: 'g', topics: ['t'], topicConfigurations: {}, logger,
        instrumentationEmitter: { emit() {} }, assigners: [], sessionTimeout, rebalanceTimeout: 60000,
    });
    g.coordinator = coordinator;
    g.memberId = 'member-1';
    g.generationId = 7;
    g.offsetManager = new OffsetManager({
        cluster, coordinator, memberAssignment: { t: [0] }, autoCommit: false, topicConfigurations: {},
        instrumentationEmitter: { emit() {} }, groupId: 'g', generationId: 7, memberId: 'member-1',
    });
    return g;
}

const commit = (g) => g.commitOffsets({ topics: [{ topic: 't', partitions: [{ partition: 0, offset: '5' }] }] });

describe('kafkajs coordinator mend', function () {
    before(function () {
        const r = mendCoordinatorFailover();
        assert.strictEqual(r.applied, true, r.reason);
    });

    it('is applied once', function () {
        assert.deepStrictEqual(mendCoordinatorFailover(), { applied: true, reason: 'already' });
    });

    it('leaves any other kafkajs version alone', function () {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafkajs-'));
        fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ version: '2.2.5' }));
        try {
            assert.deepStrictEqual(mendCoordinatorFailover(dir), { applied: false, reason: 'kafkajs 2.2.5 is not 2.2.4' });
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    const table = [
        [protocolError(16), true], [protocolError(15), true], [protocolError(14), true], [refused(), true],
        [protocolError(27), false], [protocolError(22), false], [protocolError(25), false], [new Error('x'), false],
    ];
    for (const [err, expected] of table) {
        it(`${err.type || err.name}: ${expected ? '' : 'not '}a coordinator error`, function () {
            assert.strictEqual(isCoordinatorError(err), expected);
        });
    }

    it('a healthy coordinator: heartbeat and commit as before, no lookup', async function () {
        const one = fakeBroker(1);
        const cluster = fakeCluster({ 1: one }, [1]);
        const g = group(cluster, one);
        await g.heartbeat({ interval: 0 });
        await commit(g);
        assert.deepStrictEqual(one.calls.map((c) => c.kind), ['heartbeat', 'commit']);
        assert.strictEqual(cluster.asked.length, 0);
    });

    it('NOT_COORDINATOR on a heartbeat: the heartbeat goes to the new coordinator, same member and generation', async function () {
        const one = fakeBroker(1, () => protocolError(16));
        const two = fakeBroker(2);
        const cluster = fakeCluster({ 1: one, 2: two }, [2]);
        const g = group(cluster, one);
        await g.heartbeat({ interval: 0 });
        assert.deepStrictEqual(two.calls[0].payload, { groupId: 'g', memberId: 'member-1', groupGenerationId: 7 });
        assert.strictEqual(g.coordinator, two);
        assert.strictEqual(g.offsetManager.coordinator, two);
        assert.deepStrictEqual(cluster.asked, [{ groupId: 'g', coordinatorType: 0 }]);
    });

    it('a dead coordinator: the commit waits until FindCoordinator names another broker, then lands there', async function () {
        const one = fakeBroker(1);
        one.dead = true;
        one.isConnected = () => false; // the offset manager then reconnects to the same node: refused
        const two = fakeBroker(2);
        const cluster = fakeCluster({ 1: one, 2: two }, [1, 1, 2]);
        const g = group(cluster, one);
        await commit(g);
        assert.strictEqual(cluster.asked.length, 3);
        assert.deepStrictEqual(two.calls.map((c) => c.kind), ['commit']);
        assert.deepStrictEqual(two.calls[0].payload.topics, [{ topic: 't', partitions: [{ partition: 0, offset: '5' }] }]);
    });

    it('a coordinator still loading the group is asked again, not looked up', async function () {
        let loading = 2;
        const one = fakeBroker(1, () => (loading-- > 0 ? protocolError(14) : null));
        const cluster = fakeCluster({ 1: one }, [1]);
        const g = group(cluster, one);
        await commit(g);
        assert.deepStrictEqual(one.calls.map((c) => c.kind), ['commit', 'commit', 'commit']);
        assert.strictEqual(cluster.asked.length, 0);
    });

    it('other errors go on at once (a rebalance is kafkajs\'s to handle)', async function () {
        const one = fakeBroker(1, () => protocolError(27));
        const cluster = fakeCluster({ 1: one }, [1]);
        const g = group(cluster, one);
        await assert.rejects(g.heartbeat({ interval: 0 }), { type: 'REBALANCE_IN_PROGRESS' });
        assert.strictEqual(cluster.asked.length, 0);
    });

    it('a coordinator that never moves: the error goes on once the session timeout has passed', async function () {
        this.timeout(3000);
        const one = fakeBroker(1, () => protocolError(16));
        const cluster = fakeCluster({ 1: one }, [1]);
        const g = group(cluster, one, 600);
        const start = Date.now();
        await assert.rejects(g.heartbeat({ interval: 0 }), { type: 'NOT_COORDINATOR_FOR_GROUP' });
        const took = Date.now() - start;
        assert.ok(took >= 600 && took < 1500, `gave up after ${took} ms`);
        assert.ok(cluster.asked.length >= 2);
    });

    it('a coordinator named late is followed for a session timeout from then (it starts the sessions afresh when it loads the group)', async function () {
        this.timeout(5000);
        const start = Date.now();
        const one = fakeBroker(1, () => protocolError(16));
        // named after about 600 ms; loading the group until 1,200 ms, past the first failure's session timeout
        const two = fakeBroker(2, () => (Date.now() < start + 1200 ? protocolError(14) : null));
        const cluster = fakeCluster({ 1: one, 2: two }, [1, 1, 2]);
        const g = group(cluster, one, 1000);
        await g.heartbeat({ interval: 0 });
        assert.ok(Date.now() - start >= 1200);
        assert.strictEqual(two.calls[two.calls.length - 1].kind, 'heartbeat');
        assert.strictEqual(g.memberId, 'member-1');
    });

    it('a consumer that stops ends the wait', async function () {
        const one = fakeBroker(1, () => protocolError(16));
        const cluster = fakeCluster({ 1: one }, [1]);
        const g = group(cluster, one, 60000);
        const start = Date.now();
        const beat = g.heartbeat({ interval: 0 });
        await Runner.prototype.stop.call({ consumerGroup: g, running: false });
        await assert.rejects(beat, { type: 'NOT_COORDINATOR_FOR_GROUP' });
        assert.ok(Date.now() - start < 1000);
    });
});
