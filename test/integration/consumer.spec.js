'use strict';
/*
 * kafka-consumer against the real broker: at-least-once delivery with acks that
 * come back late and out of order, failures that are retried, commits that never
 * pass an unprocessed record, redeploys mid-stream, and group assignment.
 */
const assert = require('assert');
const { AssignerProtocol } = require('kafkajs');
const { helper, nodeModules, unique, withAdmin, withProducer, describeGroup, committed, endOffsets, createTopic, configFor, waitFor } = require('./support');

const NODES = nodeModules('kafka-config', 'kafka-consumer', 'function', 'complete', 'catch');

async function produce(topic, count, partitions, prefix = 'r') {
    const messages = [];
    for (let i = 0; i < count; i++) messages.push({ partition: i % partitions, key: `k${i}`, value: `${prefix}${i}` });
    await withProducer((p) => p.send({ topic, messages }));
}

/**
 * A flow: consumer -> worker (function, acknowledges after a random delay, fails
 * the first attempt of some records) -> done; Complete and Catch wired back.
 */
function ackFlow({ topic, group, failEvery = 0, consumer = {}, cfg = {}, ackBack = true }) {
    const { nodes, credentials } = configFor('plaintext', 'cfg', { commitInterval: 200, retryBackoff: 200, initialOffset: 'oldest', ...cfg });
    const flow = [
        ...nodes,
        { id: 'c1', type: 'kafka-consumer', config: 'cfg', group, topics: topic, maxInFlight: 20, wires: [['w1']], ...consumer },
        {
            id: 'w1', type: 'function', wires: [[]],
            func: `
const seen = global.get('seen') || {};
const id = msg.attribute.partition + ':' + msg.attribute.offset;
seen[id] = (seen[id] || 0) + 1;
global.set('seen', seen);
const n = Number(msg.payload.toString().replace(/^\\D+/, ''));
const fail = ${failEvery} > 0 && n % ${failEvery} === 0 && seen[id] === 1;
setTimeout(() => { if (fail) node.error(new Error('boom ' + id), msg); else { node.send(msg); node.done(); } }, Math.floor(Math.random() * 40));
return null;`,
        },
    ];
    if (ackBack) {
        flow.push({ id: 'done1', type: 'complete', scope: ['w1'], uncaught: false, wires: [['c1']] });
        flow.push({ id: 'catch1', type: 'catch', scope: ['w1'], uncaught: false, wires: [['c1']] });
    }
    return { flow, credentials };
}

describe('kafka-consumer', function () {
    this.timeout(120000);
    afterEach(async function () {
        await helper.unload();
    });

    it('delivers every record at least once with out-of-order acks and retried failures; commits never pass an unprocessed record', async function () {
        const topic = await createTopic(unique('cons-alo'), 3);
        const group = unique('g');
        const N = 300;
        await produce(topic, N, 3);
        const { flow, credentials } = ackFlow({ topic, group, failEvery: 7 });
        await helper.load(NODES, flow, credentials);
        const worker = helper.getNode('w1');
        const global = worker.context().global;
        // While running: every committed offset is at most one past a processed record.
        let checks = 0;
        let watching = true;
        let violation = null;
        const watcher = (async () => {
            while (watching) {
                const c = await committed(group, topic);
                const s = global.get('seen') || {};
                for (const [p, off] of Object.entries(c)) {
                    for (let o = 0; o < off; o++) {
                        if (!s[`${p}:${o}`]) violation = violation || `partition ${p} committed ${off} before offset ${o} was processed`;
                    }
                }
                checks++;
                await new Promise((r) => setTimeout(r, 150));
            }
        })();
        try {
            await waitFor(async () => {
                const c = await committed(group, topic);
                return [0, 1, 2].every((p) => c[p] === N / 3);
            }, `all offsets committed (now ${JSON.stringify(await committed(group, topic))})`, 60000, 300);
        } finally {
            watching = false;
            await watcher;
            assert.ok(checks > 2, 'the watcher checked the commits while running');
        }
        assert.strictEqual(violation, null, violation);
        const s = global.get('seen');
        for (let i = 0; i < N; i++) {
            const id = `${i % 3}:${Math.floor(i / 3)}`;
            assert.ok(s[id] >= 1, `record ${id} processed`);
            const n = i;
            // only the failed records were processed twice
            if (n % 7 !== 0) assert.strictEqual(s[id], 1, `record ${id} processed once`);
            else assert.ok(s[id] >= 2, `failed record ${id} retried`);
        }
        assert.deepStrictEqual(await committed(group, topic), await endOffsets(topic));
    });

    it('never moves the committed offset when the flow never acknowledges', async function () {
        const topic = await createTopic(unique('cons-noack'), 2);
        const group = unique('g');
        await produce(topic, 20, 2);
        const { flow, credentials } = ackFlow({ topic, group, ackBack: false });
        await helper.load(NODES, flow, credentials);
        const global = helper.getNode('w1').context().global;
        await waitFor(() => Object.keys(global.get('seen') || {}).length === 20, 'all records emitted', 30000);
        await new Promise((r) => setTimeout(r, 1500));
        // The commit point is the oldest unacknowledged record (offset 0): pinned there, so a
        // restart redelivers them even with initial offset "newest".
        const c = await committed(group, topic);
        assert.deepStrictEqual(c, { 0: 0, 1: 0 });
    });

    it('loses nothing across a full redeploy and a stop mid-stream', async function () {
        const topic = await createTopic(unique('cons-redeploy'), 2);
        const group = unique('g');
        const N = 400;
        await produce(topic, N, 2);
        const { flow, credentials } = ackFlow({ topic, group, consumer: { maxInFlight: 5 } });
        await helper.load(NODES, flow, credentials);
        const global = helper.getNode('w1').context().global;
        await waitFor(() => Object.keys(global.get('seen') || {}).length >= 50, 'some records processed', 30000);
        // full redeploy mid-stream
        await helper.setFlows(flow, 'full', credentials);
        await waitFor(() => Object.keys(global.get('seen') || {}).length >= 150, 'more records processed', 30000);
        // modified nodes only: the consumer alone is restarted
        const changed = flow.map((n) => (n.id === 'c1' ? { ...n, name: 'renamed' } : n));
        await helper.setFlows(changed, 'nodes', credentials);
        await waitFor(() => Object.keys(global.get('seen') || {}).length >= 250, 'more records processed', 30000);
        // stop, then start again
        const seenBefore = { ...global.get('seen') };
        await helper.unload();
        await helper.load(NODES, changed, credentials);
        const g2 = helper.getNode('w1').context().global;
        g2.set('seen', seenBefore);
        await waitFor(async () => {
            const c = await committed(group, topic);
            return c[0] === N / 2 && c[1] === N / 2;
        }, 'all offsets committed', 60000, 300);
        const s = g2.get('seen');
        const missing = [];
        for (let i = 0; i < N; i++) if (!s[`${i % 2}:${Math.floor(i / 2)}`]) missing.push(i);
        assert.deepStrictEqual(missing, []);
        // Duplicates are bounded by what was in flight at each restart (3 restarts x maxInFlight 5) plus committed-interval lag.
        const dups = Object.values(s).reduce((n, v) => n + (v - 1), 0);
        assert.ok(dups <= 3 * 5 + 3 * 2 * 200, `duplicates ${dups}`);
    });

    it('shares four partitions between two consumers in one node', async function () {
        const topic = await createTopic(unique('cons-two'), 4);
        const group = unique('g');
        const { flow, credentials } = ackFlow({ topic, group, consumer: { consumerCount: 2 } });
        await helper.load(NODES, flow, credentials);
        let members = [];
        await waitFor(async () => {
            members = await withAdmin(async (admin) => {
                const d = await admin.describeGroups([group]);
                return d.groups[0].state === 'Stable' ? d.groups[0].members : [];
            });
            return members.length === 2;
        }, 'two stable members', 30000, 300);
        const owned = members.map((m) => AssignerProtocol.MemberAssignment.decode(m.memberAssignment).assignment[topic] || []);
        assert.deepStrictEqual(owned.map((o) => o.length), [2, 2]);
        assert.deepStrictEqual(owned.flat().sort(), [0, 1, 2, 3]);
    });

    for (const [strategy, expected] of [
        // Range per topic: A(3 partitions) -> [0,1],[2]; B(2) -> [0],[1]
        ['range', [{ A: [0, 1], B: [0] }, { A: [2], B: [1] }]],
        // RoundRobin over A0 A1 A2 B0 B1 -> m0: A0 A2 B1, m1: A1 B0
        ['roundrobin', [{ A: [0, 2], B: [1] }, { A: [1], B: [0] }]],
    ]) {
        it(`assigns two topics with the ${strategy} strategy as that strategy defines`, async function () {
            const a = await createTopic(unique('cons-a'), 3);
            const b = await createTopic(unique('cons-b'), 2);
            const group = unique('g');
            const { flow, credentials } = ackFlow({ topic: `${a}\n${b}`, group, consumer: { consumerCount: 2 }, cfg: { rebalanceStrategy: strategy } });
            await helper.load(NODES, flow, credentials);
            let desc = null;
            await waitFor(async () => {
                desc = await describeGroup(group);
                return desc.state === 'Stable' && desc.members.length === 2;
            }, 'two stable members', 30000, 300);
            assert.strictEqual(desc.protocol, strategy);
            const got = desc.members
                .sort((x, y) => (x.memberId < y.memberId ? -1 : 1))
                .map((m) => {
                    const asg = AssignerProtocol.MemberAssignment.decode(m.memberAssignment).assignment;
                    return { A: (asg[a] || []).sort(), B: (asg[b] || []).sort() };
                });
            assert.deepStrictEqual(got, expected);
        });
    }
});
