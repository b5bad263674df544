'use strict';
/*
 * Exactly-once mode (ack mode "eos") against the real broker: consume -> transform
 * -> publish with a Complete and a Catch node wired back, each input partition's
 * outputs and offsets in one Kafka transaction. Read-committed readers see every
 * input exactly once; an aborted transaction's outputs are visible only to
 * read-uncommitted readers.
 */
const assert = require('assert');
const { helper, nodeModules, unique, withProducer, createTopic, configFor, waitFor, kafka, caughtUp } = require('./support');

const NODES = nodeModules('kafka-config', 'kafka-consumer', 'kafka-publish', 'function', 'complete', 'catch');

async function produce(topic, count, partitions) {
    const messages = [];
    for (let i = 0; i < count; i++) messages.push({ partition: i % partitions, key: `k${i}`, value: `v${i}` });
    await withProducer((p) => p.send({ topic, messages }));
}

/**
 * consumer (eos) -> transform -> publish -> after; the first attempt of the keys in `failKeys`
 * fails after a pause (so that records before it are written first): in the transform, before
 * its output is written, or with `failAfterWrite` in the step after the publish, once it is.
 * Complete (after) and Catch (transform, publish, after) back into the consumer. The step after
 * calls node.done() itself: a record failing there must not complete first.
 */
function eosFlow({ input, output, group, failKeys = [], failAfterMs = 300, failAfterWrite = false, cfg = {}, consumer = {} }) {
    const { nodes, credentials } = configFor('plaintext', 'cfg', {
        ackMode: 'eos', txnMaxMs: 200, retryBackoff: 300, initialOffset: 'oldest', requiredAcks: 'all', ...cfg,
    });
    const flow = [
        ...nodes,
        { id: 'c1', type: 'kafka-consumer', config: 'cfg', group, topics: input, format: 'string', maxInFlight: 50, wires: [['f1'], []], ...consumer },
        { id: 'f1', type: 'function', name: 'transform', wires: [['p1']], func: `${failing(failAfterWrite ? [] : failKeys, failAfterMs)}\nmsg.payload = 'out-' + msg.payload;\nreturn msg;` },
        { id: 'p1', type: 'kafka-publish', config: 'cfg', topic: output, wires: [['f2']] },
        { id: 'f2', type: 'function', name: 'after', wires: [[]], func: `${failing(failAfterWrite ? failKeys : [], failAfterMs)}\nnode.send(msg);\nnode.done();\nreturn null;` },
        { id: 'done1', type: 'complete', scope: ['f2'], uncaught: false, wires: [['c1']] },
        { id: 'catch1', type: 'catch', scope: ['f1', 'p1', 'f2'], uncaught: false, wires: [['c1']] },
    ];
    return { flow, credentials };
}

/** A function node's opening: the first attempt of the keys in `keys` fails `afterMs` later. */
function failing(keys, afterMs) {
    return `
const key = msg.key;
const tried = context.get('tried') || {};
if (${JSON.stringify(keys)}.includes(key) && !tried[key]) {
    tried[key] = true;
    context.set('tried', tried);
    setTimeout(() => node.error(new Error(node.name + ' failed for ' + key), msg), ${afterMs});
    return null;
}`;
}

/** Every record of a topic, read from the beginning with the given isolation, until `quietMs` without one. */
async function readAll(topic, readUncommitted, quietMs = 3000) {
    const consumer = kafka().consumer({ groupId: unique('reader'), readUncommitted, maxWaitTimeInMs: 100 });
    const records = [];
    let last = Date.now();
    await consumer.connect();
    try {
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({ eachMessage: async ({ message }) => { records.push(message); last = Date.now(); } });
        await waitFor(() => Date.now() - last > quietMs && records.length > 0, `records of ${topic}`, 60000, 200);
    } finally {
        await consumer.disconnect();
    }
    return records;
}

function keyCounts(records) {
    const counts = new Map();
    for (const r of records) counts.set(r.key.toString(), (counts.get(r.key.toString()) || 0) + 1);
    return counts;
}


describe('kafka-consumer in exactly-once mode (transactions)', function () {
    this.timeout(120000);
    afterEach(async function () {
        await helper.unload();
    });

    /**
     * `n` records k0.. on a new input topic of `partitions`, the exactly-once flow (eosFlow's
     * `options`) on them, until the group has committed up to the input's end; the output topic.
     */
    async function runEos(name, partitions, n, options) {
        const input = await createTopic(unique(`${name}-in`), partitions);
        const output = await createTopic(unique(`${name}-out`), partitions);
        const group = unique('g');
        await produce(input, n, partitions);
        const { flow, credentials } = eosFlow({ input, output, group, ...options });
        await helper.load(NODES, flow, credentials);
        await waitFor(() => caughtUp(group, input), 'the group to commit up to the end offsets', 90000, 250);
        return output;
    }

    it('writes each input\'s output exactly once for read-committed readers, and commits the offsets with the transactions', async function () {
        const N = 600;
        const output = await runEos('eos', 3, N, { failKeys: ['k7', 'k250', 'k501'] });
        const records = await readAll(output, false);
        const counts = keyCounts(records);
        assert.strictEqual(counts.size, N, 'every input key has an output');
        const twice = [...counts].filter(([, n]) => n !== 1);
        assert.deepStrictEqual(twice, [], 'no key twice for a read-committed reader');
        for (const r of records) assert.strictEqual(r.value.toString(), `out-v${r.key.toString().slice(1)}`);
    });

    it('aborts the transaction of a record failing after its output was written: its outputs are visible to read-uncommitted readers only', async function () {
        const N = 40;
        // k20 fails once, 3 s after its output was written: k0..k19 of its transaction are written by then
        // (a first transaction may take a moment to start writing: Kafka 4.x answers its first
        // AddPartitionsToTxn with CONCURRENT_TRANSACTIONS while the coordinator settles).
        const output = await runEos('eos-abort', 1, N, { failKeys: ['k20'], failAfterMs: 3000, failAfterWrite: true, cfg: { txnMaxMs: 10000, txnMaxRecords: 100 } });
        const committedView = keyCounts(await readAll(output, false));
        const uncommittedView = keyCounts(await readAll(output, true));
        assert.strictEqual(committedView.size, N);
        assert.ok([...committedView.values()].every((n) => n === 1), 'read committed: each key once');
        const seenTwice = [...uncommittedView].filter(([, n]) => n > 1).map(([k]) => k);
        assert.ok(seenTwice.length >= 10, `read uncommitted sees the aborted transaction's outputs too (${seenTwice.length} keys twice)`);
        assert.ok(seenTwice.includes('k0'), 'k0 was written in the aborted transaction');
    });

    it('retries a record failing before anything was written for it inside its transaction: nothing aborted, each key once even read uncommitted', async function () {
        const N = 40;
        // k20 fails once in the transform, 3 s after it arrives, with k0..k19 written and k21.. going on meanwhile.
        const output = await runEos('eos-retry', 1, N, { failKeys: ['k20'], failAfterMs: 3000, cfg: { txnMaxMs: 10000, txnMaxRecords: 100 } });
        const uncommittedView = keyCounts(await readAll(output, true));
        assert.strictEqual(uncommittedView.size, N);
        assert.deepStrictEqual([...uncommittedView].filter(([, n]) => n !== 1), [], 'read uncommitted: each key once (no transaction aborted)');
        const committedView = keyCounts(await readAll(output, false));
        assert.strictEqual(committedView.size, N);
    });

    it('a read-committed kafka-consumer skips aborted transactions of several producers, aborted in another order than they began', async function () {
        const topic = await createTopic(unique('rc-interleaved'), 1);
        // Producers 0, 1, 2 begin their transactions at offsets 0, 1, 2, write again, and abort
        // in the reverse order; then a committed transaction and a plain record. kafkajs 2.2.4
        // alone hands the first aborted records to read-committed readers.
        const producers = [];
        try {
            for (let i = 0; i < 3; i++) {
                const p = kafka().producer({ transactionalId: unique(`rc-tx${i}`), idempotent: true, maxInFlightRequests: 1 });
                await p.connect();
                producers.push(p);
            }
            const txns = [];
            for (const [i, p] of producers.entries()) {
                txns.push(await p.transaction());
                await txns[i].send({ topic, acks: -1, messages: [{ key: `aborted-${i}-a`, value: 'x' }] });
            }
            for (const [i, t] of txns.entries()) await t.send({ topic, acks: -1, messages: [{ key: `aborted-${i}-b`, value: 'x' }] });
            for (const t of [...txns].reverse()) await t.abort();
            const kept = await producers[0].transaction();
            await kept.send({ topic, acks: -1, messages: [{ key: 'committed', value: 'x' }] });
            await kept.commit();
        } finally {
            for (const p of producers) await p.disconnect();
        }
        await withProducer((p) => p.send({ topic, messages: [{ key: 'plain', value: 'x' }] }));

        const { nodes, credentials } = configFor('plaintext', 'cfg', { isolationLevel: 'committed', initialOffset: 'oldest', ackMode: 'immediate' });
        await helper.load(NODES, [
            ...nodes,
            { id: 'c1', type: 'kafka-consumer', config: 'cfg', group: unique('g'), topics: topic, format: 'string', wires: [['f1'], []] },
            { id: 'f1', type: 'function', func: 'return msg;', wires: [[]] },
        ], credentials);
        const got = [];
        helper.getNode('f1').on('input', (msg) => got.push(msg.key));
        await waitFor(() => got.includes('plain'), 'the plain record', 60000, 100);
        assert.deepStrictEqual(got, ['committed', 'plain']);
    });

    it('refuses exactly-once mode for a Kafka version before 0.11', async function () {
        const { flow, credentials } = eosFlow({ input: 'x', output: 'y', group: unique('g'), cfg: { kafkaVersion: '0.10.2' } });
        await helper.load(NODES, flow, credentials);
        const cfg = helper.getNode('cfg');
        await waitFor(() => cfg.error.getCalls().some((c) => /0\.10\.2/.test(String(c.args[0]))), 'a configuration error naming the version', 5000);
    });
});
