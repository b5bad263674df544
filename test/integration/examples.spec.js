'use strict';
/*
 * Every flow in examples/ (Import > Examples) runs against the test broker: the example
 * is loaded as it is, except that its config node points at the test broker (and, for
 * the secured one, its listener, user and CA), its topics and group get unique names,
 * and consumers start from the oldest offset (their topic is fresh, so "newest" would
 * only race the first record).
 */
const fs = require('fs');
const path = require('path');
const should = require('should');
const supertest = require('supertest');
const { helper, nodeModules, unique, createTopic, readBack, endOffsets, kafka, withAdmin, withProducer, configFor, waitFor } = require('./support');
const env = require('./kafka-env');
const registryEnv = require('./registry-env');

const EXAMPLES = path.join(__dirname, '..', '..', 'examples');
const CORE = {
    comment: require('@node-red/nodes/core/common/90-comment.js'),
    inject: require('@node-red/nodes/core/common/20-inject.js'),
    switch: require('@node-red/nodes/core/function/10-switch.js'),
};

let httpNode = null;
function httpIn(RED) {
    httpNode = RED.httpNode;
    return require('@node-red/nodes/core/network/21-httpin.js')(RED);
}

function modules() {
    return [
        ...nodeModules('kafka-config', 'kafka-schema-registry', 'kafka-consumer', 'kafka-publish', 'tls-config', 'complete', 'catch', 'function', 'change', 'debug'),
        CORE.comment, CORE.inject, CORE.switch, httpIn,
    ];
}

function example(prefix) {
    const file = fs.readdirSync(EXAMPLES).find((f) => f.startsWith(prefix) && f.endsWith('.json'));
    should.exist(file, `examples/${prefix}*.json`);
    return JSON.parse(fs.readFileSync(path.join(EXAMPLES, file), 'utf8'));
}

/**
 * Points an example at the test broker: `listener` as in support.configFor; `topics` maps
 * the example's topic names to fresh ones (in consumer topics and publish topics), and
 * every consumer group gets a fresh name. Returns { flow, credentials, groups }.
 */
function adapt(flow, listener, topics) {
    const cfg = flow.find((n) => n.type === 'kafka-config');
    const test = configFor(listener, cfg.id);
    const testCfg = test.nodes[0];
    for (const field of ['brokers', 'saslMode', 'scramMechanism', 'useTls']) {
        if (field in testCfg) cfg[field] = testCfg[field];
    }
    cfg.initialOffset = 'oldest';
    const testTls = test.nodes.find((n) => n.type === 'tls-config');
    if (testTls) {
        const tls = flow.find((n) => n.id === cfg.tls);
        should.exist(tls, 'the example has the tls-config node its config node names');
        tls.ca = testTls.ca;
    }
    // Import puts an example on the current tab: here, a tab of its own.
    const tab = { id: 'example-tab', type: 'tab', label: 'example' };
    for (const n of flow) {
        if (n.type !== 'kafka-config' && n.type !== 'tls-config' && n.type !== 'kafka-schema-registry') n.z = tab.id;
        if (n.type === 'kafka-schema-registry') n.url = registryEnv.url();
    }
    flow.unshift(tab);
    const groups = {};
    for (const n of flow) {
        if (n.type === 'kafka-consumer') {
            n.topics = String(n.topics).split(',').map((t) => topics[t.trim()] || t.trim()).join(',');
            groups[n.id] = unique(n.group);
            n.group = groups[n.id];
        }
        if (n.type === 'kafka-publish' && topics[n.topic]) n.topic = topics[n.topic];
        if (n.type === 'kafka-consumer' && topics[n.deadLetterTopic]) n.deadLetterTopic = topics[n.deadLetterTopic];
    }
    return { flow, credentials: test.credentials, groups };
}

function produce(topic, values) {
    return withProducer((producer) => producer.send({ topic, messages: values.map((value) => ({ value })) }));
}

function received(node) {
    const msgs = [];
    node.on('input', (msg) => msgs.push(msg));
    return msgs;
}

describe('examples (Import > Examples) against the broker', function () {
    this.timeout(60000);

    before(function (done) {
        helper.startServer(done);
    });

    afterEach(async function () {
        await helper.unload();
    });

    after(function (done) {
        helper.stopServer(done);
    });

    it('lists seven examples, none with credentials', function () {
        const files = fs.readdirSync(EXAMPLES).filter((f) => f.endsWith('.json')).sort();
        files.should.have.length(7);
        for (const f of files) {
            const flow = JSON.parse(fs.readFileSync(path.join(EXAMPLES, f), 'utf8'));
            flow.should.be.an.Array();
            flow.filter((n) => n.type === 'comment').should.not.be.empty();
            for (const n of flow) {
                n.should.not.have.property('credentials');
                for (const secret of ['password', 'username', 'passphrase', 'keydata', 'certdata', 'cadata']) n.should.not.have.property(secret);
            }
            const cfg = flow.filter((n) => n.type === 'kafka-config');
            cfg.should.have.length(1);
            cfg[0].brokers.should.match(/^127\.0\.0\.1:909\d$/);
        }
    });

    it('01 consumes a topic into the debug node and acknowledges each record', async function () {
        const topic = await createTopic(unique('orders'));
        const { flow, credentials, groups } = adapt(example('01'), 'plaintext', { orders: topic });
        await helper.load(modules(), flow, credentials);
        const msgs = received(helper.getNode('debug01'));
        await produce(topic, ['first', 'second']);
        await waitFor(() => msgs.length >= 2, 'two records in the debug node');
        msgs.map((m) => m.payload).should.deepEqual(['first', 'second']);
        msgs[1].attribute.should.deepEqual({ topic, partition: 0, offset: 1 });
        // The Complete node acknowledged both: the group commits past them.
        await waitFor(async () => {
            const [t] = await withAdmin((admin) => admin.fetchOffsets({ groupId: groups.consume01, topics: [topic] }));
            return t.partitions[0].offset === '2';
        }, 'the committed offset to reach 2');
    });

    it('02 publishes the body of a POST and replies with msg.attribute', async function () {
        const topic = await createTopic(unique('orders'));
        const { flow, credentials } = adapt(example('02'), 'plaintext', { orders: topic });
        await helper.load(modules(), flow, credentials);
        const url = flow.find((n) => n.type === 'http in').url;
        const first = await supertest(httpNode).post(url).set('Content-Type', 'text/plain').send('order 42');
        should(first.status).equal(200, JSON.stringify(first.body));
        first.body.should.deepEqual({ topic, partition: 0, offset: 0 });
        const second = await supertest(httpNode).post(url).set('Content-Type', 'text/plain').send('order 43').expect(200);
        second.body.should.deepEqual({ topic, partition: 0, offset: 1 });
        const records = await readBack(topic, 2);
        records.map((r) => r.value.toString()).should.deepEqual(['order 42', 'order 43']);
    });

    it('02 replies 500 with msg.error when the record cannot be written', async function () {
        const topic = await createTopic(unique('orders'), 1, [{ name: 'max.message.bytes', value: '1000' }]);
        const { flow, credentials } = adapt(example('02'), 'plaintext', { orders: topic });
        await helper.load(modules(), flow, credentials);
        const url = flow.find((n) => n.type === 'http in').url;
        const res = await supertest(httpNode).post(url).set('Content-Type', 'text/plain').send('x'.repeat(5000)).expect(500);
        res.body.should.have.properties('Code', 'Description');
        res.body.Code.should.equal('CORE:RUNTIME');
    });

    it('03 transforms each record into the other topic and commits once it is written', async function () {
        const input = await createTopic(unique('orders'));
        const output = await createTopic(unique('orders-processed'));
        const { flow, credentials, groups } = adapt(example('03'), 'plaintext', { orders: input, 'orders-processed': output });
        await helper.load(modules(), flow, credentials);
        const written = received(helper.getNode('debug03'));
        await produce(input, ['apple', 'pear', 'plum']);
        const records = await readBack(output, 3);
        records.map((r) => r.value.toString()).should.deepEqual(['APPLE', 'PEAR', 'PLUM']);
        await waitFor(() => written.length >= 3, 'three written messages');
        written[2].attribute.should.deepEqual({ topic: output, partition: 0, offset: 2 });
        written[2]._kafka.should.match({ topic: input, partition: 0, offset: 2 });
        await waitFor(async () => {
            const [t] = await withAdmin((admin) => admin.fetchOffsets({ groupId: groups.consume03, topics: [input] }));
            return t.partitions[0].offset === '3';
        }, 'the committed offset to reach 3');
    });

    it('07 sums each batch of orders into one summary record and commits the batch once it is written', async function () {
        const input = await createTopic(unique('orders'), 2);
        const output = await createTopic(unique('orders-summary'));
        const { flow, credentials, groups } = adapt(example('07'), 'plaintext', { orders: input, 'orders-summary': output });
        await helper.load(modules(), flow, credentials);
        const N = 1200;
        await withProducer((producer) => producer.send({
            topic: input, messages: Array.from({ length: N }, (_, i) => ({ partition: i % 2, value: JSON.stringify({ amount: i }) })),
        }));
        await waitFor(async () => {
            const [t] = await withAdmin((admin) => admin.fetchOffsets({ groupId: groups.consume07, topics: [input] }));
            return t.partitions.every((p) => p.offset === String(N / 2));
        }, 'the group to commit every record', 60000);
        const written = (await endOffsets(output))[0];
        const summaries = (await readBack(output, written)).map((r) => JSON.parse(r.value.toString()));
        const orders = summaries.reduce((a, s) => a + s.orders, 0);
        orders.should.equal(N, `every order in exactly one summary: ${JSON.stringify(summaries.map((s) => s.orders))}`);
        summaries.reduce((a, s) => a + s.total, 0).should.equal((N * (N - 1)) / 2);
        summaries.forEach((s) => s.orders.should.be.belowOrEqual(500));
        summaries.length.should.be.below(N / 100, 'a summary per batch, not per record');
    });

    it('03 does not commit past a record whose publish failed, and retries it', async function () {
        const input = await createTopic(unique('orders'));
        // The output topic refuses records over 1000 bytes: the publish of a bigger one fails at the broker.
        const output = await createTopic(unique('orders-processed'), 1, [{ name: 'max.message.bytes', value: '1000' }]);
        const { flow, credentials, groups } = adapt(example('03'), 'plaintext', { orders: input, 'orders-processed': output });
        flow.find((n) => n.type === 'kafka-config').retryBackoff = 300;
        await helper.load(modules(), flow, credentials);
        const failed = received(helper.getNode('debugfail03'));
        await produce(input, ['a'.repeat(5000)]);
        await waitFor(() => failed.length >= 2, 'the record to fail twice (a retry)', 30000);
        failed.every((m) => m._kafka.offset === 0 && m._kafka.topic === input).should.be.true();
        const [t] = await withAdmin((admin) => admin.fetchOffsets({ groupId: groups.consume03, topics: [input] }));
        Number(t.partitions[0].offset).should.be.belowOrEqual(0, 'never committed past the failing record');
    });

    it('03 publishes no junk during an outage: the runtime error leaves by the error output', async function () {
        if (!env.broker()) this.skip(); // an external cluster (KAFKA_BROKERS) is not ours to stop
        this.timeout(240000);
        const input = await createTopic(unique('orders'));
        const output = await createTopic(unique('orders-processed'));
        const { flow, credentials, groups } = adapt(example('03'), 'plaintext', { orders: input, 'orders-processed': output });
        Object.assign(flow.find((n) => n.type === 'kafka-config'), { retryBackoff: 500, sessionTimeout: 6000, heartbeatInterval: 1000 });
        await helper.load(modules(), flow, credentials);
        const errors = received(helper.getNode('errors03'));
        const transformed = received(helper.getNode('publish03'));
        await produce(input, ['apple']);
        (await readBack(output, 1)).map((r) => r.value.toString()).should.deepEqual(['APPLE']);
        // Committed before the outage, so the only records after it are new ones.
        await waitFor(async () => {
            const [t] = await withAdmin((admin) => admin.fetchOffsets({ groupId: groups.consume03, topics: [input] }));
            return t.partitions[0].offset === '1';
        }, 'the committed offset to reach 1');
        await env.broker().stop();
        try {
            await waitFor(() => errors.length > 0, 'a runtime error on the error output', 120000, 200);
            errors[0].error.Code.should.equal('CORE:RUNTIME');
            should(errors[0].payload).be.null();
        } finally {
            await env.broker().start();
        }
        await produce(input, ['pear']);
        await waitFor(() => transformed.some((m) => m.payload === 'PEAR'), 'the record after the outage', 120000, 200);
        transformed.every((m) => typeof m.payload === 'string' && !m.error).should.be.true();
        (await readBack(output, 2)).map((r) => r.value.toString()).should.deepEqual(['APPLE', 'PEAR']);
    });

    it('05 writes each record once, inside transactions, and commits the offsets with them', async function () {
        const input = await createTopic(unique('payments'));
        const output = await createTopic(unique('payments-processed'));
        const { flow, credentials, groups } = adapt(example('05'), 'plaintext', { payments: input, 'payments-processed': output });
        flow.find((n) => n.type === 'kafka-config').ackMode.should.equal('eos');
        await helper.load(modules(), flow, credentials);
        await produce(input, ['10.00', '20.00', '30.00']);
        await waitFor(async () => {
            const [t] = await withAdmin((admin) => admin.fetchOffsets({ groupId: groups.consume05, topics: [input] }));
            return t.partitions[0].offset === '3';
        }, 'the transactions to commit the offsets', 60000);
        const reader = kafka().consumer({ groupId: unique('reader'), readUncommitted: false });
        const seen = [];
        await reader.connect();
        try {
            await reader.subscribe({ topics: [output], fromBeginning: true });
            await reader.run({ eachMessage: async ({ message }) => { seen.push(JSON.parse(message.value.toString()).paid); } });
            await waitFor(() => seen.length >= 3, 'three committed outputs', 30000);
        } finally {
            await reader.disconnect();
        }
        seen.should.deepEqual(['10.00', '20.00', '30.00']);
    });

    it('06 publishes Avro through the schema registry and consumes it decoded; a plain record goes to the dead-letter topic', async function () {
        const topic = await createTopic(unique('orders-avro'));
        const dlq = await createTopic(unique('orders-avro-dlq'));
        const { flow, credentials } = adapt(example('06'), 'plaintext', { 'orders-avro': topic, 'orders-avro-dlq': dlq });
        flow.find((n) => n.type === 'kafka-config').retryBackoff = 200;
        await helper.load(modules(), flow, credentials);
        const decoded = received(helper.getNode('debug06'));
        const writes = received(helper.getNode('debugw06'));
        helper.getNode('inject06').receive({});
        await waitFor(() => writes.length >= 1 && decoded.length >= 1, 'the order written and read back decoded', 60000);
        should(writes[0].error).be.undefined();
        decoded[0].payload.should.deepEqual(writes[0].payload);
        decoded[0].schema.should.match({ subject: `${topic}-value`, version: 1, type: 'AVRO' });
        const [raw] = await readBack(topic, 1);
        raw.value[0].should.equal(0, 'the Confluent wire format');
        await produce(topic, ['{"id": 1, "item": "plain JSON"}']);
        const [dead] = await readBack(dlq, 1, 60000);
        dead.headers['dlq-error'].toString().should.match(/cannot be decoded with the schema registry/);
    });

    it('04 round-trips a record with SCRAM-SHA-512 over TLS', async function () {
        const topic = await createTopic(unique('secure-orders'));
        const { flow, credentials } = adapt(example('04'), 'scram-ssl', { 'secure-orders': topic });
        credentials.should.have.property('cfg04');
        await helper.load(modules(), flow, credentials);
        const records = received(helper.getNode('debug04'));
        const writes = received(helper.getNode('debugw04'));
        helper.getNode('inject04').receive({}); // as if its button was clicked: publishes the time
        await waitFor(() => writes.length >= 1 && records.length >= 1, 'the record written and read back over SASL_SSL');
        writes[0].attribute.should.deepEqual({ topic, partition: 0, offset: 0 });
        records[0].payload.should.equal(String(writes[0].payload));
    });
});
