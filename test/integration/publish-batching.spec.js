'use strict';
/*
 * kafka-publish batching against the real broker: 10,000 messages with flush
 * settings leave in far fewer produce requests than messages, and every message's
 * offset is unique, correct, and matches the record read back. Two publish nodes
 * on one config node share the batches.
 */
const should = require('should');
const { helper, unique, createTopic, readBack, configFor, nodeModules } = require('./support');
const { loadPublish } = require('./publish-harness');

/** Sends `count` messages at once; resolves with every output message. */
function sendAll(h, count, make) {
    return Promise.all([...Array(count).keys()].map((i) => h.send(make(i))));
}

function checkOffsets(outs, records) {
    const seen = new Set();
    const back = new Map(records.map((r) => [`${r.partition}:${r.offset}`, r]));
    const perPartition = new Map();
    for (const o of outs) {
        should(o.error).be.undefined();
        const k = `${o.attribute.partition}:${o.attribute.offset}`;
        seen.has(k).should.be.false(`offset ${k} given twice`);
        seen.add(k);
        back.get(k).value.toString().should.equal(o.payload, `the record at ${k}`);
        perPartition.set(o.attribute.partition, (perPartition.get(o.attribute.partition) || 0) + 1);
    }
    // offsets in each partition are exactly 0..n-1
    for (const [p, n] of perPartition) {
        const offs = outs.filter((o) => o.attribute.partition === p).map((o) => o.attribute.offset).sort((a, b) => a - b);
        offs.should.deepEqual([...Array(n).keys()]);
    }
}

describe('kafka-publish batching (real broker)', function () {
    this.timeout(120000);
    afterEach(async function () { await helper.unload(); });

    it('10,000 messages with flush settings: far fewer produce requests, every offset exact', async function () {
        const topic = await createTopic(unique('pub-batch'), 3);
        const h = await loadPublish({ flushMessages: 500, flushFrequency: 50, flushMaxMessages: 2000 }, { topic });
        const producer = await helper.getNode('cfg').producer();
        let requests = 0;
        const off = producer.onProduceRequest(() => { requests++; });
        const outs = await sendAll(h, 10000, (i) => ({ payload: `m${i}`, key: i % 7 === 0 ? `k${i % 13}` : undefined }));
        off();
        requests.should.be.within(5, 200, `${requests} produce requests for 10,000 messages`);
        checkOffsets(outs, await readBack(topic, 10000, 60000));
    });

    it('without flush settings, what arrives while a request is in flight leaves together', async function () {
        const topic = await createTopic(unique('pub-atonce'), 2);
        const h = await loadPublish({}, { topic });
        const producer = await helper.getNode('cfg').producer();
        let requests = 0;
        const off = producer.onProduceRequest(() => { requests++; });
        const outs = await sendAll(h, 2000, (i) => ({ payload: `a${i}` }));
        off();
        requests.should.be.within(2, 200, `${requests} produce requests for 2,000 messages`);
        checkOffsets(outs, await readBack(topic, 2000, 60000));
    });

    it('a steady stream leaves in fewer, larger produce requests with flush settings than without', async function () {
        // 400 messages, one every 5 ms (200/s, a sensor feed): without flush settings nearly every
        // message leaves alone; with flush frequency 50 ms they leave some ten at a time.
        const stream = async (cfg) => {
            const topic = await createTopic(unique('pub-steady'), 1);
            const h = await loadPublish(cfg, { topic });
            await h.send({ payload: 'warm-up' });
            const producer = await helper.getNode('cfg').producer();
            let requests = 0;
            const off = producer.onProduceRequest(() => { requests++; });
            const outs = [];
            for (let i = 0; i < 400; i++) {
                outs.push(h.send({ payload: `s${i}` }));
                await new Promise((r) => setTimeout(r, 5));
            }
            const written = await Promise.all(outs);
            off();
            written.forEach((o, i) => should(o.attribute.offset).equal(i + 1));
            await helper.unload();
            return requests;
        };
        const without = await stream({});
        const withFlush = await stream({ flushFrequency: 50, flushMessages: 500 });
        console.log(`      steady stream of 400 messages: ${without} produce requests without flush settings, ${withFlush} with flush frequency 50 ms`);
        without.should.be.above(150, 'without flush settings most messages leave on their own');
        withFlush.should.be.below(without / 4, 'with flush settings, far fewer and larger requests');
    });

    it('flush frequency holds a lone message until the time passes', async function () {
        const topic = await createTopic(unique('pub-freq'), 1);
        const h = await loadPublish({ flushFrequency: 700, flushMessages: 1000 }, { topic });
        await h.send({ payload: 'warm-up' }); // partition metadata and connection are ready
        const t0 = Date.now();
        const o = await h.send({ payload: 'late' });
        (Date.now() - t0).should.be.within(600, 3000);
        o.attribute.offset.should.equal(1);
    });

    it('two publish nodes on one config node share batches; stopping the flow sends what is queued', async function () {
        const topic = await createTopic(unique('pub-shared'), 1);
        const { nodes, credentials } = configFor('plaintext', 'cfg', { flushMessages: 1000000, flushFrequency: 60000 });
        const flow = [{ id: 'f1', type: 'tab' }, ...nodes,
            { id: 'p1', z: 'f1', type: 'kafka-publish', config: 'cfg', topic, wires: [['out']] },
            { id: 'p2', z: 'f1', type: 'kafka-publish', config: 'cfg', topic, wires: [['out']] },
            { id: 'out', z: 'f1', type: 'helper' }];
        await helper.load(nodeModules('kafka-config', 'kafka-publish'), flow, credentials);
        const producer = await helper.getNode('cfg').producer();
        let requests = 0;
        producer.onProduceRequest(() => { requests++; });
        const outs = [];
        helper.getNode('out').on('input', (m) => outs.push(m));
        for (let i = 0; i < 50; i++) helper.getNode(i % 2 ? 'p1' : 'p2').receive({ payload: `s${i}` });
        await new Promise((r) => setTimeout(r, 300));
        outs.length.should.equal(0, 'held back by the flush settings');
        await helper.unload(); // close: the queue is flushed before the producer disconnects
        requests.should.equal(1, 'both nodes\' messages in one request');
        const back = await readBack(topic, 50);
        back.map((r) => r.value.toString()).sort().should.deepEqual([...Array(50).keys()].map((i) => `s${i}`).sort());
    });
});
