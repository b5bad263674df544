'use strict';
/*
 * Throughput of kafka-publish against raw kafkajs, on one broker in one run.
 *
 *   npm run bench:publish                    starts a broker (scripts/kafka/broker.js)
 *   KAFKA_BROKERS=host:port npm run bench:publish
 *   BENCH_MESSAGES=50000 BENCH_OUTSTANDING=2000 BENCH_ROUNDS=3 BENCH_ONLY=flow+flush,raw\ batch ...
 *
 * 1 KiB messages, keyless, to a 3-partition topic, acks Leader.
 *   flow+flush   Node-RED flow (node-red-node-test-helper) into kafka-publish with flush settings
 *   flow         the same without flush settings
 *   raw send     kafkajs producer.send of one message, awaited, CONCURRENCY at a time
 *   raw batch    kafkajs producer.sendBatch of BATCH messages, awaited in turn
 *   flow buffer  the flow, each payload a 1 KiB Buffer
 *   flow avro    the flow encoding each payload with the schema registry: an object
 *                of ten fields, about 1 KiB in Avro (bench/avro.js); a registry is
 *                started for the run (or SCHEMA_REGISTRY_URL)
 * The flows are driven through node.receive keeping OUTSTANDING messages not yet
 * answered (counted where they leave kafka-publish, i.e. acknowledged, or with
 * BENCH_COUNT=complete at a Complete node): each answer lets one more in, so the
 * flow always has as much waiting as raw batch hands kafkajs at once (with the
 * defaults: one batch of 1000 in flight, the next 1000 accumulating).
 * The helper's sinon spies on Node.prototype (which record every send and which each
 * wired node copies onto itself when created) are removed after loading, so the
 * figures are the flow's, not the test instrumentation's.
 * Every figure is records acknowledged per second; the summary is the median of the rounds.
 * Targets: flow+flush >= 70% of raw batch; flow >= 80% of raw send; flow avro >= 50% of flow buffer.
 */
const path = require('path');
const { types } = require('util');
const { Kafka, logLevel } = require('kafkajs');
const helper = require('node-red-node-test-helper');

const { ROOT, VALUE, withBroker, newTopic, rawSendBatch } = require('./common');
const avro = require('./avro');
const N = Number(process.env.BENCH_MESSAGES || 30000);
const OUTSTANDING = Number(process.env.BENCH_OUTSTANDING || 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY || OUTSTANDING);
const BATCH = Number(process.env.BENCH_BATCH || 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const COUNT_AT_COMPLETE = process.env.BENCH_COUNT === 'complete';
const ONLY = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',') : null;

helper.init(require.resolve('node-red'));

/** Records per second, and this process's CPU time per record (µs, all threads). */
function result(secs, cpu) {
    return { rate: N / secs, cpuUs: (cpu.user + cpu.system) / N };
}

const BUFFER = Buffer.from(VALUE);

/** `payload(n)`: the n-th message's payload; `registryUrl`: encode with the schema registry (Avro). */
async function flow(broker, topic, producerFields, payload = () => VALUE, registryUrl = null) {
    const nodes = [
        require(path.join(ROOT, 'nodes/kafka-config.js')),
        require(path.join(ROOT, 'nodes/kafka-schema-registry.js')),
        require(path.join(ROOT, 'nodes/kafka-publish.js')),
        require('@node-red/nodes/core/common/24-complete.js'),
    ];
    const encode = registryUrl ? { encode: 'value', registry: 'reg', schemaType: 'AVRO', valueSchema: avro.SCHEMA, autoRegister: true } : {};
    const flowDef = [
        { id: 'f1', type: 'tab' },
        { id: 'cfg', type: 'kafka-config', brokers: broker, kafkaVersion: '2.8', ...producerFields },
        { id: 'pub', z: 'f1', type: 'kafka-publish', config: 'cfg', topic, ...encode, wires: [['out']] },
        { id: 'out', z: 'f1', type: 'helper' },
    ];
    if (registryUrl) flowDef.push({ id: 'reg', type: 'kafka-schema-registry', url: registryUrl });
    // Counted at a Complete node (BENCH_COUNT=complete) or, by default, at the output:
    // a message leaves kafka-publish once its record is acknowledged, with msg.attribute.
    if (COUNT_AT_COMPLETE) {
        flowDef.push({ id: 'cp', z: 'f1', type: 'complete', scope: ['pub'], wires: [['done']] }, { id: 'done', z: 'f1', type: 'helper' });
    }
    await helper.load(nodes, flowDef);
    // The helper wraps Node.prototype.send/log/status in sinon spies that record every
    // call (and keep every message alive); that is test instrumentation, not the flow.
    // Each wired node also copied the spied send onto itself when it was created.
    helper._sandbox.restore();
    const proto = helper._NodePrototype;
    for (const { id } of flowDef) {
        const node = helper.getNode(id);
        if (node && Object.prototype.hasOwnProperty.call(node, 'send') && types.isProxy(node.send)) node.send = proto.send;
    }
    const pub = helper.getNode('pub');
    // warm up: connection, metadata
    const counter = helper.getNode(COUNT_AT_COMPLETE ? 'done' : 'out');
    await new Promise((resolve) => { counter.once('input', resolve); pub.receive({ payload: payload(-1) }); });
    let sent = 0;
    let completed = 0;
    let errors = 0;
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    await new Promise((resolve) => {
        helper.getNode('out').on('input', (msg) => { if (msg.error) errors++; });
        const pumpMore = () => {
            while (sent < N && sent - completed < OUTSTANDING) pub.receive({ payload: payload(sent), n: sent++ });
        };
        // Every completion makes room for one more: OUTSTANDING stay in the flow
        // throughout, as a source that always has data would keep them.
        counter.on('input', () => {
            completed++;
            if (completed === N) resolve();
            else pumpMore();
        });
        pumpMore();
    });
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(c0);
    await helper.unload();
    if (errors) throw new Error(`${errors} messages failed`);
    return result(secs, cpu);
}

async function rawSend(kafka, topic) {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'warm-up' }] });
    let next = 0;
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    await Promise.all([...Array(CONCURRENCY).keys()].map(async () => {
        while (next < N) {
            next++;
            await producer.send({ topic, acks: 1, messages: [{ value: VALUE }] });
        }
    }));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(c0);
    await producer.disconnect();
    return result(secs, cpu);
}

async function rawBatch(kafka, topic) {
    const { secs, cpu } = await rawSendBatch(kafka, topic, N, BATCH);
    return result(secs, cpu);
}

async function main() {
    const avroPhase = !ONLY || ONLY.includes('flow avro');
    await (avroPhase ? avro.withRegistry : (fn) => fn(null))((registryUrl) => withBroker(async (broker) => {
        const kafka = new Kafka({ clientId: 'bench', brokers: [broker], logLevel: logLevel.NOTHING });
        const rates = { 'flow+flush': [], flow: [], 'raw send': [], 'raw batch': [], 'flow buffer': [], 'flow avro': [] };
        const runs = {
            'raw send': (t) => rawSend(kafka, t),
            'raw batch': (t) => rawBatch(kafka, t),
            flow: (t) => flow(broker, t, {}),
            'flow+flush': (t) => flow(broker, t, { flushMessages: 500, flushFrequency: 5, flushMaxMessages: 1000 }),
            'flow buffer': (t) => flow(broker, t, {}, () => BUFFER),
            'flow avro': (t) => flow(broker, t, {}, (n) => avro.record(n), registryUrl),
        };
        for (let round = 1; round <= ROUNDS; round++) {
            for (const [name, run] of Object.entries(runs)) {
                if (ONLY && !ONLY.includes(name)) continue;
                const topic = await newTopic(kafka, `bench-${name.replace(/\W/g, '')}-${Date.now().toString(36)}`, 3);
                const { rate, cpuUs } = await run(topic);
                rates[name].push(rate);
                console.log(`round ${round}  ${name.padEnd(11)} ${Math.round(rate).toString().padStart(7)} records/s  ${cpuUs.toFixed(1).padStart(5)} µs CPU/record`);
            }
        }
        const median = (list) => {
            const v = [...list].sort((a, b) => a - b);
            return v.length === 0 ? 0 : v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
        };
        const med = Object.fromEntries(Object.entries(rates).map(([name, list]) => [name, median(list)]));
        const pct = (a, b) => `${((100 * med[a]) / med[b]).toFixed(0)}%`;
        console.log(`\n${N} messages of 1 KiB, median of ${ROUNDS} rounds, outstanding ${OUTSTANDING}, concurrency ${CONCURRENCY}, ` +
            `batch ${BATCH}, flows counted at ${COUNT_AT_COMPLETE ? 'a Complete node' : 'the output'}`);
        for (const [name, rate] of Object.entries(med)) {
            if (rates[name].length) console.log(`  ${name.padEnd(11)} ${Math.round(rate).toString().padStart(7)} records/s`);
        }
        if (!ONLY) {
            console.log(`  flow+flush / raw batch = ${pct('flow+flush', 'raw batch')} (target >= 70%)`);
            console.log(`  flow       / raw send  = ${pct('flow', 'raw send')} (target >= 80%)`);
        }
        if (rates['flow avro'].length && rates['flow buffer'].length) {
            console.log(`  flow avro  / flow buffer = ${pct('flow avro', 'flow buffer')} (target >= 50%)`);
        }
    }));
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
