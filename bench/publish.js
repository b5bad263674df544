'use strict';
/*
 * Throughput of kafka-publish against raw kafkajs, on one broker in one run.
 *
 *   npm run bench:publish                    starts a broker (scripts/kafka/broker.js)
 *   KAFKA_BROKERS=host:port npm run bench:publish
 *   BENCH_MESSAGES=50000 BENCH_OUTSTANDING=2000 ...
 *
 * 1 KiB messages, keyless, to a 3-partition topic, acks Leader.
 *   flow+flush   Node-RED flow (node-red-node-test-helper) into kafka-publish with flush settings
 *   flow         the same without flush settings
 *   raw send     kafkajs producer.send of one message, awaited, CONCURRENCY at a time
 *   raw batch    kafkajs producer.sendBatch of BATCH messages, awaited in turn
 * The flows are driven through node.receive with at most OUTSTANDING messages not yet
 * answered (counted at a Complete node), so the flow's back-pressure is respected.
 * The helper's sinon spies on Node.prototype (which record every send) are removed
 * after loading, so the figures are the flow's, not the test instrumentation's.
 * Targets: flow+flush >= 70% of raw batch; flow >= 80% of raw send.
 */
const path = require('path');
const crypto = require('crypto');
const { Kafka, logLevel } = require('kafkajs');
const helper = require('node-red-node-test-helper');

const ROOT = path.join(__dirname, '..');
const N = Number(process.env.BENCH_MESSAGES || 30000);
const OUTSTANDING = Number(process.env.BENCH_OUTSTANDING || 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY || OUTSTANDING);
const BATCH = Number(process.env.BENCH_BATCH || 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 2);
const VALUE = crypto.randomBytes(512).toString('hex'); // 1 KiB string

helper.init(require.resolve('node-red'));

async function withBroker(fn) {
    if (process.env.KAFKA_BROKERS) return fn(process.env.KAFKA_BROKERS.split(',')[0]);
    const { Broker } = require(path.join(ROOT, 'scripts/kafka/broker.js'));
    const broker = new Broker();
    await broker.start();
    try {
        return await fn(broker.info().plaintext);
    } finally {
        await broker.close();
        await broker.removeData();
    }
}

async function newTopic(kafka, name) {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: name, numPartitions: 3, replicationFactor: 1 }] });
    await admin.disconnect();
    return name;
}

async function flow(broker, topic, producerFields) {
    const nodes = [
        require(path.join(ROOT, 'nodes/kafka-config.js')),
        require(path.join(ROOT, 'nodes/kafka-publish.js')),
        require('@node-red/nodes/core/common/24-complete.js'),
    ];
    await helper.load(nodes, [
        { id: 'f1', type: 'tab' },
        { id: 'cfg', type: 'kafka-config', brokers: broker, kafkaVersion: '2.8', ...producerFields },
        { id: 'pub', z: 'f1', type: 'kafka-publish', config: 'cfg', topic, wires: [['out']] },
        { id: 'out', z: 'f1', type: 'helper' },
        { id: 'cp', z: 'f1', type: 'complete', scope: ['pub'], wires: [['done']] },
        { id: 'done', z: 'f1', type: 'helper' },
    ]);
    // The helper wraps Node.prototype.send/log/status in sinon spies that record every
    // call (and keep every message alive); that is test instrumentation, not the flow.
    helper._sandbox.restore();
    const pub = helper.getNode('pub');
    // warm up: connection, metadata
    await new Promise((resolve) => { helper.getNode('done').once('input', resolve); pub.receive({ payload: 'warm-up' }); });
    let sent = 0;
    let completed = 0;
    let errors = 0;
    const t0 = process.hrtime.bigint();
    await new Promise((resolve) => {
        helper.getNode('out').on('input', (msg) => { if (msg.error) errors++; });
        const pumpMore = () => {
            while (sent < N && sent - completed < OUTSTANDING) pub.receive({ payload: VALUE, n: sent++ });
        };
        helper.getNode('done').on('input', () => {
            completed++;
            if (completed === N) resolve();
            else if (sent - completed < OUTSTANDING / 2) pumpMore();
        });
        pumpMore();
    });
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    await helper.unload();
    if (errors) throw new Error(`${errors} messages failed`);
    return N / secs;
}

async function rawSend(kafka, topic) {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'warm-up' }] });
    let next = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all([...Array(CONCURRENCY).keys()].map(async () => {
        while (next < N) {
            next++;
            await producer.send({ topic, acks: 1, messages: [{ value: VALUE }] });
        }
    }));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    await producer.disconnect();
    return N / secs;
}

async function rawBatch(kafka, topic) {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'warm-up' }] });
    const t0 = process.hrtime.bigint();
    for (let done = 0; done < N; done += BATCH) {
        const messages = [];
        for (let i = 0; i < Math.min(BATCH, N - done); i++) messages.push({ value: VALUE });
        await producer.sendBatch({ acks: 1, topicMessages: [{ topic, messages }] });
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    await producer.disconnect();
    return N / secs;
}

async function main() {
    await withBroker(async (broker) => {
        const kafka = new Kafka({ clientId: 'bench', brokers: [broker], logLevel: logLevel.NOTHING });
        const best = { 'flow+flush': 0, flow: 0, 'raw send': 0, 'raw batch': 0 };
        const runs = {
            'raw send': (t) => rawSend(kafka, t),
            'raw batch': (t) => rawBatch(kafka, t),
            flow: (t) => flow(broker, t, {}),
            'flow+flush': (t) => flow(broker, t, { flushMessages: 500, flushFrequency: 5, flushMaxMessages: 1000 }),
        };
        for (let round = 1; round <= ROUNDS; round++) {
            for (const [name, run] of Object.entries(runs)) {
                const topic = await newTopic(kafka, `bench-${name.replace(/\W/g, '')}-${Date.now().toString(36)}`);
                const rate = await run(topic);
                best[name] = Math.max(best[name], rate);
                console.log(`round ${round}  ${name.padEnd(10)} ${Math.round(rate).toString().padStart(7)} records/s`);
            }
        }
        const pct = (a, b) => `${((100 * best[a]) / best[b]).toFixed(0)}%`;
        console.log(`\n${N} messages of 1 KiB, best of ${ROUNDS} rounds, outstanding ${OUTSTANDING}, concurrency ${CONCURRENCY}, batch ${BATCH}`);
        for (const [name, rate] of Object.entries(best)) console.log(`  ${name.padEnd(10)} ${Math.round(rate).toString().padStart(7)} records/s`);
        console.log(`  flow+flush / raw batch = ${pct('flow+flush', 'raw batch')} (target >= 70%)`);
        console.log(`  flow       / raw send  = ${pct('flow', 'raw send')} (target >= 80%)`);
    });
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
