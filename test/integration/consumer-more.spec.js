'use strict';
/*
 * kafka-consumer against the real broker, continued: the commit interval in both
 * ack modes, a slow flow that outlives the session timeout, records compressed by
 * another client with snappy/lz4/zstd, and redelivery to the new owner of a
 * partition after a rebalance.
 */
const assert = require('assert');
const crypto = require('crypto');
const { isDeepStrictEqual } = require('util');
const { CompressionTypes } = require('kafkajs');
const { helper, nodeModules, unique, kafka, withProducer, describeGroup, committed, endOffsets, sleep, createTopic, configFor, waitFor } = require('./support');

const NODES = nodeModules('kafka-config', 'kafka-consumer', 'function', 'complete', 'catch');
/** A new two-partition topic with n records in each. */
async function twoPartitions(prefix, n) {
    const topic = await createTopic(unique(prefix), 2);
    await withProducer((p) => p.send({
        topic,
        messages: Array.from({ length: 2 * n }, (_, i) => ({ partition: i % 2, value: `${prefix}-${i}` })),
    }));
    return topic;
}

/** A flow: consumer -> worker (function `func`); Complete and Catch on the worker wired back to the consumer. */
function workerFlow({ topic, group, func, consumer = {}, cfg = {}, ids = { c: 'c1', w: 'w1' } }) {
    const { nodes, credentials } = configFor('plaintext', 'cfg', { retryBackoff: 200, initialOffset: 'oldest', ...cfg });
    return {
        credentials,
        nodes,
        flow: pair({ topic, group, func, consumer, ids }),
    };
}

function pair({ topic, group, func, consumer = {}, ids }) {
    return [
        { id: ids.c, type: 'kafka-consumer', config: 'cfg', group, topics: topic, wires: [[ids.w]], ...consumer },
        { id: ids.w, type: 'function', wires: [[]], func },
        { id: `${ids.w}-done`, type: 'complete', scope: [ids.w], uncaught: false, wires: [[ids.c]] },
        { id: `${ids.w}-catch`, type: 'catch', scope: [ids.w], uncaught: false, wires: [[ids.c]] },
    ];
}

describe('kafka-consumer commits, slow flows, codecs and rebalances', function () {
    this.timeout(120000);
    afterEach(async function () {
        await helper.unload();
    });

    it('after flow: commits acknowledged records at once, whatever the commit interval', async function () {
        const topic = await createTopic(unique('cons-prompt'), 1);
        const group = unique('g');
        const func = `const at = global.get('at') || {}; at[msg.attribute.offset] = Date.now(); global.set('at', at);
node.send(msg); node.done(); return null;`;
        const { flow, nodes, credentials } = workerFlow({ topic, group, func, cfg: { ackMode: 'flow', commitInterval: 600000, fetchMaxWait: 100 } });
        await helper.load(NODES, [...nodes, ...flow], credentials);
        const global = helper.getNode('w1').context().global;
        for (let i = 0; i < 5; i++) {
            await withProducer((p) => p.send({ topic, messages: [{ value: `v${i}` }] }));
            await waitFor(() => Object.keys({ ...global.get('at') }).length === i + 1, `record ${i} acknowledged`, 30000);
            const ackedAt = global.get('at')[i];
            await waitFor(async () => (await committed(group, topic))[0] === i + 1, `record ${i} committed`, 5000, 20);
            assert.ok(Date.now() - ackedAt < 3000, 'committed within moments of its acknowledgement');
        }
    });

    for (const ackMode of ['immediate']) {
        it(`commits at the commit interval, not at every record (ack mode ${ackMode})`, async function () {
            const INTERVAL = 3000;
            const topic = await createTopic(unique('cons-interval'), 1);
            const group = unique('g');
            // The worker notes when each record was acknowledged (after flow) or emitted (immediate).
            const func = `const at = global.get('at') || {}; at[msg.attribute.offset] = Date.now(); global.set('at', at);
node.send(msg); node.done(); return null;`;
            const { flow, nodes, credentials } = workerFlow({ topic, group, func, cfg: { ackMode, commitInterval: INTERVAL, fetchMaxWait: 100 } });
            await helper.load(NODES, [...nodes, ...flow], credentials);
            const global = helper.getNode('w1').context().global;
            const admin = kafka().admin();
            await admin.connect();
            const observations = []; // { t: when the request left, c: committed offset }
            let producing = true;
            try {
                // A steady stream: one record every 100 ms for 10 s.
                const producer = withProducer(async (p) => {
                    for (let i = 0; producing && i < 100; i++) {
                        await p.send({ topic, messages: [{ value: `v${i}` }] });
                        await sleep(100);
                    }
                });
                const end = Date.now() + 11000;
                while (Date.now() < end) {
                    const t = Date.now();
                    const c = (await committed(group, topic, admin))[0];
                    observations.push({ t, c });
                    await sleep(100);
                }
                producing = false;
                await producer;
            } finally {
                producing = false;
                await admin.disconnect();
            }
            const at = { ...global.get('at') };
            const processed = Object.keys(at).length;
            assert.ok(processed >= 50, `records processed: ${processed}`);
            // Moments the committed offset moved: one per commit interval at most.
            const changes = [];
            for (let i = 1; i < observations.length; i++) {
                if (observations[i].c !== observations[i - 1].c && observations[i].c > 0) changes.push(observations[i].t);
            }
            assert.ok(changes.length >= 2, `the committed offset moved ${changes.length} times`);
            const gaps = changes.slice(1).map((t, i) => t - changes[i]);
            assert.ok(gaps.every((g) => g >= INTERVAL - 700), `gaps between commits ${JSON.stringify(gaps)} ms`);
            // ... and not immediately: some acknowledged record stayed uncommitted for over a second.
            const lagged = observations.some((o) => Object.entries(at).some(([off, t]) => t < o.t - 1000 && Number(off) >= o.c));
            assert.ok(lagged, 'commits wait for the interval');
            // Within the interval: every record handled an interval (plus slack) before an
            // observation is committed by then.
            for (const o of observations) {
                const due = Object.entries(at).filter(([, t]) => t < o.t - INTERVAL - 1500).map(([off]) => Number(off));
                if (due.length) assert.ok(o.c > Math.max(...due), `at ${o.t} committed ${o.c}, yet offset ${Math.max(...due)} was handled long before`);
            }
        });
    }

    it('keeps its group membership through a flow slower than the session timeout, with at most maxInFlight records in flight', async function () {
        const topic = await createTopic(unique('cons-slow'), 2);
        const group = unique('g');
        const N = 10;
        await withProducer((p) => p.send({ topic, messages: Array.from({ length: N }, (_, i) => ({ partition: i % 2, value: `s${i}` })) }));
        // Each record is held 10 s (session timeout 6 s) before it is acknowledged.
        const func = `const cur = (global.get('cur') || 0) + 1; global.set('cur', cur);
global.set('max', Math.max(global.get('max') || 0, cur));
const seen = global.get('seen') || {}; const id = msg.attribute.partition + ':' + msg.attribute.offset;
seen[id] = (seen[id] || 0) + 1; global.set('seen', seen);
setTimeout(() => { global.set('cur', global.get('cur') - 1); node.send(msg); node.done(); }, 10000);
return null;`;
        const { flow, nodes, credentials } = workerFlow({
            topic, group, func,
            consumer: { maxInFlight: 5 },
            cfg: { sessionTimeout: 6000, heartbeatInterval: 1000, commitInterval: 500 },
        });
        await helper.load(NODES, [...nodes, ...flow], credentials);
        const global = helper.getNode('w1').context().global;
        await waitFor(() => (global.get('cur') || 0) === 5, 'five records in flight', 30000);
        const before = await describeGroup(group);
        assert.strictEqual(before.state, 'Stable');
        assert.strictEqual(before.members.length, 1);
        await waitFor(() => Object.keys(global.get('seen') || {}).length === N && global.get('cur') === 0, 'every record processed', 60000, 200);
        const after = await describeGroup(group);
        assert.strictEqual(after.state, 'Stable');
        assert.deepStrictEqual(after.members.map((m) => m.memberId), before.members.map((m) => m.memberId), 'the same member, never evicted');
        assert.strictEqual(global.get('max'), 5, 'at most maxInFlight records in flight');
        const seen = { ...global.get('seen') };
        assert.deepStrictEqual(Object.values(seen), Array(N).fill(1), `each record once: ${JSON.stringify(seen)}`);
        const ends = await endOffsets(topic);
        await waitFor(async () => isDeepStrictEqual(await committed(group, topic), ends), 'all committed', 10000, 200);
    });

    it('decodes snappy, lz4 and zstd records written by another client, byte for byte', async function () {
        // Registers the codecs in kafkajs for this process (the checker's producer uses them).
        const { availableCodecs } = require('../../nodes/client/codecs.js');
        assert.deepStrictEqual(['snappy', 'lz4', 'zstd'].filter((c) => !availableCodecs.includes(c)), []);
        const topic = await createTopic(unique('cons-codecs'), 1);
        const sent = [];
        await withProducer(async (p) => {
            for (const compression of [CompressionTypes.Snappy, CompressionTypes.LZ4, CompressionTypes.ZSTD]) {
                const messages = [
                    { value: crypto.randomBytes(3000) },
                    { value: Buffer.from('compressible '.repeat(500)) },
                    { value: Buffer.alloc(0) },
                ];
                sent.push(...messages.map((m) => m.value));
                await p.send({ topic, messages, compression });
            }
        });
        const func = "const got = global.get('got') || []; got.push(msg.payload); global.set('got', got); node.send(msg); node.done(); return null;";
        const { flow, nodes, credentials } = workerFlow({ topic, group: unique('g'), func, cfg: { commitInterval: 200 } });
        await helper.load(NODES, [...nodes, ...flow], credentials);
        const global = helper.getNode('w1').context().global;
        await waitFor(() => (global.get('got') || []).length === sent.length, 'every record', 30000);
        const got = global.get('got');
        got.forEach((b, i) => {
            assert.ok(Buffer.isBuffer(b), `record ${i} is a Buffer`);
            assert.ok(b.equals(sent[i]), `record ${i} byte-equal (${b.length} vs ${sent[i].length} bytes)`);
        });
    });

    it('after a rebalance, ignores acks for a lost partition and redelivers its unacknowledged records to the new owner', async function () {
        const N = 10; // per partition
        const topic = await twoPartitions('cons-rebal', N);
        const group = unique('g');
        // w1 holds its records: the test releases them (send + done: the Complete node acks).
        const hold = `const held = global.get('held') || []; const seen = global.get('seen1') || {};
const id = msg.attribute.partition + ':' + msg.attribute.offset; seen[id] = (seen[id] || 0) + 1; global.set('seen1', seen);
held.push({ partition: msg.attribute.partition, offset: msg.attribute.offset, release: () => { node.send(msg); node.done(); } });
global.set('held', held); return null;`;
        const ack = `const seen = global.get('seen2') || {}; const id = msg.attribute.partition + ':' + msg.attribute.offset;
seen[id] = (seen[id] || 0) + 1; global.set('seen2', seen); node.send(msg); node.done(); return null;`;
        const cfg = { commitInterval: 200, heartbeatInterval: 500, sessionTimeout: 6000 };
        const first = workerFlow({ topic, group, func: hold, cfg });
        await helper.load(NODES, [...first.nodes, ...first.flow], first.credentials);
        const global = helper.getNode('w1').context().global;
        await waitFor(() => (global.get('held') || []).length === 2 * N, 'c1 holds every record of both partitions', 30000);
        // Nothing acknowledged: the commit point stays at the oldest record.
        await sleep(600);
        assert.deepStrictEqual(await committed(group, topic), { 0: 0, 1: 0 });

        // A second consumer node joins the group: c1 loses one partition to c2.
        const second = pair({ topic, group, func: ack, ids: { c: 'c2', w: 'w2' } });
        await helper.setFlows([...first.nodes, ...first.flow, ...second], 'nodes', first.credentials);
        await waitFor(() => Object.keys(global.get('seen2') || {}).length === N, 'c2 received the lost partition', 30000, 100);
        const lost = Number(Object.keys(global.get('seen2'))[0].split(':')[0]);
        const kept = 1 - lost;
        assert.ok(Object.keys(global.get('seen2')).every((id) => id.startsWith(`${lost}:`)), 'c2 has one partition');
        const ends = await endOffsets(topic);
        await waitFor(async () => (await committed(group, topic))[lost] === ends[lost], 'c2 committed the lost partition', 20000, 200);

        // c1's late acks for the lost partition are ignored: its committed offset never goes back.
        const held = global.get('held');
        const release = (pred) => held.filter(pred).forEach((h) => h.release());
        release((h) => h.offset < N / 2);
        await waitFor(async () => (await committed(group, topic))[kept] === N / 2, 'c1 committed half of its partition', 20000, 200);
        await sleep(1000); // several commit intervals
        assert.deepStrictEqual(await committed(group, topic), { [lost]: ends[lost], [kept]: N / 2 });
        release((h) => h.offset >= N / 2);
        await waitFor(async () => isDeepStrictEqual(await committed(group, topic), ends), 'everything committed', 20000, 200);
        await sleep(1000);
        assert.deepStrictEqual(await committed(group, topic), ends);
        // c1 saw each record once (no re-emission of its own in-flight records after the rejoin);
        // c2 saw each record of the lost partition once.
        assert.deepStrictEqual(Object.values({ ...global.get('seen1') }), Array(2 * N).fill(1));
        assert.deepStrictEqual(Object.values({ ...global.get('seen2') }), Array(N).fill(1));
    });

    it('commits what was acknowledged when the group rebalances, so the new owner of a partition does not get it again', async function () {
        const N = 10; // per partition
        const topic = await twoPartitions('cons-rebal-commit', N);
        const group = unique('g');
        const count = (key) => `const seen = global.get('${key}') || {}; const id = msg.attribute.partition + ':' + msg.attribute.offset;
seen[id] = (seen[id] || 0) + 1; global.set('${key}', seen); node.send(msg); node.done(); return null;`;
        // Ack mode immediate with a commit interval far longer than the test: only the rebalance can commit.
        const cfg = { ackMode: 'immediate', commitInterval: 600000, heartbeatInterval: 500, sessionTimeout: 6000 };
        const first = workerFlow({ topic, group, func: count('seen1'), cfg });
        await helper.load(NODES, [...first.nodes, ...first.flow], first.credentials);
        const global = helper.getNode('w1').context().global;
        await waitFor(() => Object.keys(global.get('seen1') || {}).length === 2 * N, 'c1 acknowledged every record', 30000);
        await sleep(1000);
        assert.deepStrictEqual(await committed(group, topic), { 0: -1, 1: -1 }, 'nothing committed before the rebalance');

        const second = pair({ topic, group, func: count('seen2'), ids: { c: 'c2', w: 'w2' } });
        await helper.setFlows([...first.nodes, ...first.flow, ...second], 'nodes', first.credentials);
        await waitFor(async () => {
            const d = await describeGroup(group);
            return d.state === 'Stable' && d.members.length === 2;
        }, 'both consumers in the group', 30000, 200);
        const ends = await endOffsets(topic);
        assert.deepStrictEqual(await committed(group, topic), ends, 'committed at the rebalance');
        await sleep(2000); // c2 has fetched from its partition's committed offset by now
        assert.deepStrictEqual({ ...global.get('seen2') }, {}, 'c2 got no record again');
        assert.deepStrictEqual(Object.values({ ...global.get('seen1') }), Array(2 * N).fill(1));
    });
});
