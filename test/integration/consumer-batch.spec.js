'use strict';
/*
 * kafka-consumer's batch output (Batch size above 1) against the real broker:
 * one message per batch of records of one partition, acknowledged or failed as a
 * whole through Complete and Catch, in ack modes after flow, immediately and
 * exactly once.
 */
const assert = require('assert');
const { helper, nodeModules, unique, withProducer, caughtUp, createTopic, configFor, waitFor, kafka } = require('./support');

const NODES = nodeModules('kafka-config', 'kafka-consumer', 'kafka-publish', 'function', 'complete', 'catch');

async function produce(topic, count, partitions) {
    const messages = [];
    for (let i = 0; i < count; i++) messages.push({ partition: i % partitions, key: `k${i}`, value: JSON.stringify({ n: i }) });
    await withProducer((p) => p.send({ topic, messages }));
}


/** Checks one batch message's shape; returns its records' `n`s. */
const CHECK_BATCH = `
const b = msg.payload;
const a = msg.attribute;
const bad = (why) => { const p = global.get('problems') || []; p.push(why); global.set('problems', p); };
if (!Array.isArray(b) || b.length === 0) bad('payload not a non-empty array');
if (b.length > env.get('BATCH_SIZE_MAX')) bad('batch of ' + b.length);
if (a.count !== b.length || a.offset !== b[0].offset || a.lastOffset !== b[b.length - 1].offset) bad('attribute ' + JSON.stringify(a));
for (let i = 1; i < b.length; i++) if (b[i].offset <= b[i - 1].offset) bad('offsets out of order');
if (msg.topic !== a.topic) bad('msg.topic');
for (const r of b) {
    if (typeof r.value !== 'object' || typeof r.value.n !== 'number') bad('value not parsed JSON');
    if (r.key !== 'k' + r.value.n) bad('key ' + r.key);
    if (r.value.n % env.get('PARTITIONS') !== a.partition) bad('record ' + r.value.n + ' in partition ' + a.partition);
    if (typeof r.timestamp !== 'number') bad('timestamp');
}
global.set('messages', (global.get('messages') || 0) + 1);
global.set('sizes', (global.get('sizes') || []).concat([b.length]));
`;

describe('kafka-consumer batch output (real broker)', function () {
    this.timeout(120000);
    afterEach(async function () {
        await helper.unload();
    });

    it('after flow: batches of one partition, in order; a failed batch comes again whole; commits reach the end', async function () {
        const topic = await createTopic(unique('batch-flow'), 3);
        const group = unique('g');
        const N = 600;
        await produce(topic, N, 3);
        const { nodes, credentials } = configFor('plaintext', 'cfg', { commitInterval: 200, retryBackoff: 200, initialOffset: 'oldest' });
        const flow = [
            ...nodes,
            { id: 'c1', type: 'kafka-consumer', config: 'cfg', group, topics: topic, format: 'json', maxInFlight: 4, batchSize: 25, batchWait: 50, wires: [['w1'], []] },
            {
                id: 'w1', type: 'function', wires: [[]],
                func: `const env = { get: (k) => ({ BATCH_SIZE_MAX: 25, PARTITIONS: 3 })[k] };
${CHECK_BATCH}
const seen = global.get('seen') || {};
for (const r of msg.payload) seen[r.value.n] = (seen[r.value.n] || 0) + 1;
global.set('seen', seen);
// The first time a batch holds a record whose n is a multiple of 100, the whole batch fails.
const failing = msg.payload.filter((r) => r.value.n % 100 === 0 && seen[r.value.n] === 1);
if (failing.length) {
    global.set('failedBatches', (global.get('failedBatches') || []).concat([msg.payload.map((r) => r.value.n)]));
    setTimeout(() => node.error(new Error('batch failed'), msg), 20);
    return null;
}
setTimeout(() => { node.send(msg); node.done(); }, Math.floor(Math.random() * 30));
return null;`,
            },
            { id: 'done1', type: 'complete', scope: ['w1'], uncaught: false, wires: [['c1']] },
            { id: 'catch1', type: 'catch', scope: ['w1'], uncaught: false, wires: [['c1']] },
        ];
        await helper.load(NODES, flow, credentials);
        const global = helper.getNode('w1').context().global;
        await waitFor(() => caughtUp(group, topic), 'the group to commit up to the end offsets', 90000, 250);
        assert.deepStrictEqual(global.get('problems') || [], []);
        const seen = global.get('seen');
        const failed = global.get('failedBatches') || [];
        assert.strictEqual(failed.length, N / 100, 'each batch holding a multiple of 100 failed once');
        const retried = new Set(failed.flat());
        for (let n = 0; n < N; n++) {
            assert.ok(seen[n] >= 1, `record ${n} processed`);
            // The records of a failed batch come again (all of them); the others once.
            if (!retried.has(n)) assert.strictEqual(seen[n], 1, `record ${n} once`);
            else assert.strictEqual(seen[n], 2, `record ${n} of a failed batch twice`);
        }
        const sizes = global.get('sizes');
        assert.ok(global.get('messages') < N / 5, `far fewer messages than records: ${global.get('messages')} for ${N}`);
        assert.ok(sizes.filter((s) => s === 25).length > sizes.length / 2, `mostly full batches: ${JSON.stringify(sizes)}`);
    });

    it('immediately: every record in some batch, once; a partial batch goes out after the batch wait', async function () {
        const topic = await createTopic(unique('batch-imm'), 2);
        const group = unique('g');
        const N = 205;
        await produce(topic, N, 2);
        const { nodes, credentials } = configFor('plaintext', 'cfg', { ackMode: 'immediate', commitInterval: 200, initialOffset: 'oldest' });
        const flow = [
            ...nodes,
            { id: 'c1', type: 'kafka-consumer', config: 'cfg', group, topics: topic, format: 'json', batchSize: 40, batchWait: 200, wires: [['w1'], []] },
            {
                id: 'w1', type: 'function', wires: [[]],
                func: `const env = { get: (k) => ({ BATCH_SIZE_MAX: 40, PARTITIONS: 2 })[k] };
${CHECK_BATCH}
const seen = global.get('seen') || {};
for (const r of msg.payload) seen[r.value.n] = (seen[r.value.n] || 0) + 1;
global.set('seen', seen);
return null;`,
            },
        ];
        await helper.load(NODES, flow, credentials);
        const global = helper.getNode('w1').context().global;
        await waitFor(() => Object.keys(global.get('seen') || {}).length === N, 'every record', 60000, 100);
        await waitFor(() => caughtUp(group, topic), 'the commits', 30000, 200);
        assert.deepStrictEqual(global.get('problems') || [], []);
        assert.deepStrictEqual(Object.values(global.get('seen')).filter((n) => n !== 1), [], 'each record once');
        const sizes = global.get('sizes');
        assert.strictEqual(sizes.reduce((a, b) => a + b, 0), N);
        assert.ok(sizes.some((s) => s < 40), 'the partial batches went out');
    });

    it('exactly once: one output per batch, written inside the batch\'s transaction; each visible once to read committed', async function () {
        const input = await createTopic(unique('batch-eos-in'), 2);
        const output = await createTopic(unique('batch-eos-out'), 1);
        const group = unique('g');
        const N = 200;
        await produce(input, N, 2);
        const { nodes, credentials } = configFor('plaintext', 'cfg', {
            ackMode: 'eos', txnMaxMs: 200, txnMaxRecords: 30, retryBackoff: 300, initialOffset: 'oldest', requiredAcks: 'all',
        });
        const flow = [
            ...nodes,
            { id: 'c1', type: 'kafka-consumer', config: 'cfg', group, topics: input, format: 'json', maxInFlight: 5, batchSize: 20, batchWait: 50, wires: [['f1'], []] },
            {
                id: 'f1', type: 'function', wires: [['p1']],
                // One output record per batch: the sum of its records' n, keyed by its first and last offsets.
                func: `msg.key = msg.attribute.partition + ':' + msg.attribute.offset + '-' + msg.attribute.lastOffset;
msg.payload = JSON.stringify({ ns: msg.payload.map((r) => r.value.n) });
return msg;`,
            },
            { id: 'p1', type: 'kafka-publish', config: 'cfg', topic: output, wires: [[]] },
            { id: 'done1', type: 'complete', scope: ['p1'], uncaught: false, wires: [['c1']] },
            { id: 'catch1', type: 'catch', scope: ['f1', 'p1'], uncaught: false, wires: [['c1']] },
        ];
        await helper.load(NODES, flow, credentials);
        await waitFor(() => caughtUp(group, input), 'the group to commit up to the end offsets', 90000, 250);
        const reader = kafka().consumer({ groupId: unique('reader'), readUncommitted: false, maxWaitTimeInMs: 100 });
        const outputs = [];
        await reader.connect();
        try {
            await reader.subscribe({ topics: [output], fromBeginning: true });
            await reader.run({ eachMessage: async ({ message }) => { outputs.push(JSON.parse(message.value.toString()).ns); } });
            await waitFor(() => outputs.flat().length >= N, 'the outputs', 30000, 100);
            await new Promise((r) => setTimeout(r, 1000));
        } finally {
            await reader.disconnect();
        }
        const all = outputs.flat().sort((a, b) => a - b);
        assert.deepStrictEqual(all, Array.from({ length: N }, (_, i) => i), 'every input once over the outputs');
        assert.ok(outputs.every((ns) => ns.length <= 20), 'at most a batch per output');
    });
});
