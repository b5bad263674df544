'use strict';
/*
 * kafka-consumer against raw kafkajs, on one broker in one run.
 *
 *   npm run bench:consume                    starts a broker (scripts/kafka/broker.js)
 *   KAFKA_BROKERS=host:port npm run bench:consume
 *   BENCH_RECORDS=300000 BENCH_RATE=500 BENCH_LATENCY_SECS=20 BENCH_SLOW_SECS=30 ...
 *   BENCH_ROUNDS=3   each throughput phase runs this often; the median is printed
 *   BENCH_ONLY=raw,immediate,after-flow,avro,ceiling,publish,latency,slow   a subset of the phases (for profiling)
 *
 * A 4-partition topic is pre-filled with BENCH_RECORDS records of 1 KiB, then read
 * from the beginning with a fresh group each time:
 *   raw         kafkajs consumer, eachBatch, counting records
 *   immediate   kafka-consumer (ack mode immediate) into a helper node that counts
 *   after-flow  kafka-consumer (ack mode after flow) into the counting node, a Complete
 *               node on it wired back into the consumer
 *   ceiling     the same two flows with Kafka taken out (see sourceNode): what
 *               Node-RED itself allows
 *   avro        the immediate and after-flow flows with the payload decoded with the
 *               schema registry, reading another topic pre-filled with BENCH_RECORDS
 *               Avro records of ten fields, about 1 KiB each (bench/avro.js, encoded
 *               by @kafkajs/confluent-schema-registry); a registry is started for the
 *               run (or SCHEMA_REGISTRY_URL). Compared with the Buffer flows of the run.
 *   publish     consume -> function -> kafka-publish (to another 4-partition topic),
 *               a Complete node on the publish node wired back, in ack mode after
 *               flow and in exactly-once mode (transactions), on the same topic and
 *               flow; records/s from the first written output to the last
 *               (exactly-once target: >= 70% of after flow)
 * Records/s are taken from the first record to the last (the group join is not
 * counted). Then:
 *   latency     a producer in this process writes BENCH_RATE records/s for
 *               BENCH_LATENCY_SECS to another topic; latency = arrival in the flow
 *               (after-flow mode) minus the record's timestamp (set at send)
 *   slow flow   after-flow mode, maxInFlight 100, into a delay node letting one record
 *               through every 10 ms (Complete on it wired back), for BENCH_SLOW_SECS;
 *               RSS sampled every second against the RSS at the start
 * The helper's sinon spies on Node.prototype (which record every send and keep every
 * message alive) are removed after loading, as in bench/publish.js.
 * Targets: immediate >= 70% of raw; after-flow >= 50% of raw; RSS flat with a slow flow;
 * Avro >= 50% of the Buffer flow in the same ack mode.
 */
const path = require('path');
const { types } = require('util');
const { performance } = require('perf_hooks');
const v8 = require('v8');
const vm = require('vm');
const { Kafka, logLevel } = require('kafkajs');
const helper = require('node-red-node-test-helper');

const { ROOT, VALUE, unique, withBroker, newTopic, prefill, rawConsume, rateLimit } = require('./common');
const avro = require('./avro');
const N = Number(process.env.BENCH_RECORDS || 300000);
const PARTITIONS = 4;
const RATE = Number(process.env.BENCH_RATE || 500);
const LATENCY_SECS = Number(process.env.BENCH_LATENCY_SECS || 20);
const SLOW_SECS = Number(process.env.BENCH_SLOW_SECS || 30);
const ONLY = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',') : null;
const runs = (phase) => !ONLY || ONLY.includes(phase);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

helper.init(require.resolve('node-red'));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes) => (bytes / 1048576).toFixed(1);

/** Pre-fills `topic` with N Avro records in the wire format, encoded by the library itself. */
async function prefillAvro(kafka, topic, registryUrl) {
    const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry');
    const lib = new SchemaRegistry({ host: registryUrl });
    const { id } = await lib.register({ type: SchemaType.AVRO, schema: avro.SCHEMA }, { subject: `${topic}-value` });
    const producer = kafka.producer();
    await producer.connect();
    const CHUNK = 1000;
    let bytes = 0;
    for (let from = 0; from < N; from += CHUNK) {
        const messages = [];
        for (let i = from; i < Math.min(N, from + CHUNK); i++) {
            const value = await lib.encode(id, avro.record(i));
            bytes += value.length;
            messages.push({ partition: i % PARTITIONS, value });
        }
        await producer.sendBatch({ acks: 1, topicMessages: [{ topic, messages }] });
    }
    await producer.disconnect();
    return bytes / N;
}

/** Loads a flow and removes the helper's recording spies (see the header). */
async function load(flow) {
    const nodes = [
        require(path.join(ROOT, 'nodes/kafka-config.js')),
        require(path.join(ROOT, 'nodes/kafka-consumer.js')),
        require(path.join(ROOT, 'nodes/kafka-schema-registry.js')),
        require('@node-red/nodes/core/common/24-complete.js'),
        require('@node-red/nodes/core/function/89-delay.js'),
        require('@node-red/nodes/core/function/10-function.js'),
        require(path.join(ROOT, 'nodes/kafka-publish.js')),
        sourceNode,
    ];
    await helper.load(nodes, flow);
    helper._sandbox.restore();
    const proto = helper._NodePrototype;
    for (const n of flow) {
        const node = helper.getNode(n.id);
        if (node && Object.prototype.hasOwnProperty.call(node, 'send') && types.isProxy(node.send)) node.send = proto.send;
    }
}

function config(broker, fields = {}) {
    return { id: 'cfg', type: 'kafka-config', brokers: broker, kafkaVersion: '2.8', initialOffset: 'oldest', ...fields };
}

async function viaNode(broker, topic, ackMode, registryUrl = null) {
    const decode = registryUrl ? { format: 'registry', registry: 'reg' } : {};
    const flow = [
        { id: 'f1', type: 'tab' },
        config(broker, { ackMode }),
        { id: 'c1', z: 'f1', type: 'kafka-consumer', config: 'cfg', group: unique(`bench-${ackMode}`), topics: topic, ...decode, ...(process.env.BENCH_MAX_IN_FLIGHT ? { maxInFlight: process.env.BENCH_MAX_IN_FLIGHT } : {}), wires: [['sink']] },
        { id: 'sink', z: 'f1', type: 'helper' },
    ];
    if (registryUrl) flow.push({ id: 'reg', type: 'kafka-schema-registry', url: registryUrl });
    if (ackMode === 'flow') flow.push({ id: 'cp', z: 'f1', type: 'complete', scope: ['sink'], wires: [['c1']] });
    return countAtSink(flow);
}

/** consume -> function -> kafka-publish -> counting node; Complete on the publish node back into the consumer. */
async function viaPublish(broker, kafka, topic, ackMode) {
    const out = await newTopic(kafka, unique(`bench-out-${ackMode}`), PARTITIONS);
    const flow = [
        { id: 'f1', type: 'tab' },
        config(broker, { ackMode, requiredAcks: 'all', ...(process.env.BENCH_TXN_RECORDS ? { txnMaxRecords: process.env.BENCH_TXN_RECORDS } : {}) }),
        { id: 'c1', z: 'f1', type: 'kafka-consumer', config: 'cfg', group: unique(`bench-pub-${ackMode}`), topics: topic, maxInFlight: process.env.BENCH_MAX_IN_FLIGHT || 1000, wires: [['fn']] },
        { id: 'fn', z: 'f1', type: 'function', func: 'msg.key = String(msg.attribute.offset); return msg;', wires: [['pub']] },
        { id: 'pub', z: 'f1', type: 'kafka-publish', config: 'cfg', topic: out, wires: [['sink']] },
        { id: 'sink', z: 'f1', type: 'helper' },
        { id: 'cp', z: 'f1', type: 'complete', scope: ['pub'], wires: [['c1']] },
    ];
    return countAtSink(flow);
}

/**
 * The same flows with Kafka taken out: a source node emits N messages of the
 * consumer's shape (built by the consumer's own recordToMessage), in runs of
 * 1000 like a fetched batch (immediate), or keeping 100 in flight and refilling
 * from 75 like the consumer's default (after flow, acks through the Complete
 * node). What Node-RED itself costs per record: the ceiling for kafka-consumer.
 */
function sourceNode(RED) {
    const { recordToMessage, ackFor } = require(path.join(ROOT, 'nodes/lib/consumer-output.js'));
    const { messageIds } = require(path.join(ROOT, 'nodes/lib/msg-ids.js'));
    const value = Buffer.from(VALUE);
    RED.nodes.registerType('bench-source', function (def) {
        RED.nodes.createNode(this, def);
        // eslint-disable-next-line @typescript-eslint/no-this-alias
        const node = this;
        const nextId = messageIds();
        let sent = 0;
        let inFlight = 0;
        const one = () => {
            const record = { topic: 'ceiling', partition: sent % PARTITIONS, offset: String(sent++), key: null, value, headers: {}, timestamp: String(Date.now()) };
            node.send(recordToMessage(record, 'buffer', node.id, nextId()).msg);
        };
        const run = () => {
            for (let i = 0; i < 1000 && sent < N; i++) one();
            if (sent < N) setImmediate(run);
        };
        const refill = () => {
            while (inFlight < 100 && sent < N) { inFlight++; one(); }
        };
        node.on('input', (msg, _send, done) => {
            if (msg.start) {
                if (def.ackMode === 'flow') refill(); else run();
            } else if (ackFor(msg, node.id) && --inFlight <= 75) {
                refill();
            }
            done();
        });
    });
}

async function nodeRedOnly(ackMode) {
    const flow = [
        { id: 'f1', type: 'tab' },
        { id: 'c1', z: 'f1', type: 'bench-source', ackMode, wires: [['sink']] },
        { id: 'sink', z: 'f1', type: 'helper' },
    ];
    if (ackMode === 'flow') flow.push({ id: 'cp', z: 'f1', type: 'complete', scope: ['sink'], wires: [['c1']] });
    return countAtSink(flow, () => helper.getNode('c1').receive({ start: true }));
}

/** Loads the flow, calls start(), and times N records arriving at the node 'sink' (which calls done()). */
async function countAtSink(flow, start = () => {}) {
    let count = 0;
    let first = 0n;
    let errors = 0;
    let resolve;
    const done = new Promise((r) => { resolve = r; });
    await load(flow);
    const c0 = process.cpuUsage();
    let elu0 = null;
    // done() completes the message: the Complete node fires (after-flow mode).
    helper.getNode('sink').on('input', (msg, _send, msgDone) => {
        msgDone();
        if (msg.error) { errors++; return; }
        if (!first) {
            first = process.hrtime.bigint();
            elu0 = performance.eventLoopUtilization();
        }
        if (++count === N) resolve(process.hrtime.bigint());
    });
    start();
    const last = await done;
    const cpu = process.cpuUsage(c0);
    const elu = performance.eventLoopUtilization(elu0).utilization;
    await helper.unload();
    if (errors) throw new Error(`${errors} error messages`);
    return { secs: Number(last - first) / 1e9, count, cpu, elu };
}

async function latency(kafka, broker) {
    const topic = await newTopic(kafka, unique('bench-latency'), PARTITIONS);
    await load([
        { id: 'f1', type: 'tab' },
        config(broker, { initialOffset: 'newest' }),
        { id: 'c1', z: 'f1', type: 'kafka-consumer', config: 'cfg', group: unique('bench-lat'), topics: topic, wires: [['sink']] },
        { id: 'sink', z: 'f1', type: 'helper' },
        { id: 'cp', z: 'f1', type: 'complete', scope: ['sink'], wires: [['c1']] },
    ]);
    const lat = [];
    helper.getNode('sink').on('input', (msg, _send, msgDone) => {
        if (!msg.error) lat.push(Date.now() - msg.timestamp);
        msgDone();
    });
    const producer = kafka.producer();
    await producer.connect();
    // Wait until the consumer has joined: a probe record must arrive.
    const probeEnd = Date.now() + 60000;
    while (!lat.length) {
        if (Date.now() > probeEnd) throw new Error('the consumer did not join within 60 s');
        await producer.send({ topic, messages: [{ value: 'probe' }] });
        await sleep(200);
    }
    await sleep(500);
    lat.length = 0;
    // RATE records/s, in ticks of 10 ms.
    const perTick = RATE / 100;
    const total = RATE * LATENCY_SECS;
    let sent = 0;
    const t0 = Date.now();
    while (sent < total) {
        const due = Math.min(total, Math.floor(((Date.now() - t0) / 10 + 1) * perTick));
        const messages = [];
        for (; sent < due; sent++) messages.push({ value: VALUE });
        if (messages.length) producer.send({ topic, acks: 1, messages }).catch((e) => console.error(e.message));
        await sleep(10);
    }
    const end = Date.now() + 10000;
    while (lat.length < total && Date.now() < end) await sleep(50);
    await producer.disconnect();
    await helper.unload();
    const sorted = lat.slice().sort((a, b) => a - b);
    const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
    return { received: lat.length, total, p50: q(0.5), p99: q(0.99), max: sorted[sorted.length - 1] };
}

async function slowFlow(broker, topic) {
    gc();
    await sleep(500);
    const startRss = process.memoryUsage().rss;
    await load([
        { id: 'f1', type: 'tab' },
        config(broker),
        { id: 'c1', z: 'f1', type: 'kafka-consumer', config: 'cfg', group: unique('bench-slow'), topics: topic, maxInFlight: 100, wires: [['d1']] },
        rateLimit('d1', 'f1', 100, [['sink']]),
        { id: 'sink', z: 'f1', type: 'helper' },
        { id: 'cp', z: 'f1', type: 'complete', scope: ['d1'], wires: [['c1']] },
    ]);
    let count = 0;
    helper.getNode('sink').on('input', () => { count++; });
    const samples = [];
    for (let s = 0; s < SLOW_SECS; s++) {
        await sleep(1000);
        samples.push(process.memoryUsage().rss);
    }
    await helper.unload();
    const half = Math.floor(samples.length / 2);
    const avg = (a) => a.reduce((x, y) => x + y, 0) / a.length;
    return {
        startRss, peak: Math.max(...samples), count, samples,
        firstHalf: avg(samples.slice(0, half)), secondHalf: avg(samples.slice(half)),
    };
}

function rate(r) {
    const cpu = (r.cpu.user + r.cpu.system) / 1e6;
    const loop = r.elu === undefined ? '' : `, event loop busy ${(100 * r.elu).toFixed(0)}%`;
    return `${Math.round(r.count / r.secs).toLocaleString('en-US').padStart(8)} records/s  (${r.secs.toFixed(2)} s, cpu ${(100 * cpu / r.secs).toFixed(0)}%${loop})`;
}

async function main() {
    await (runs('avro') ? avro.withRegistry : (fn) => fn(null))((registryUrl) => withBroker(async (broker) => {
        const kafka = new Kafka({ clientId: 'bench', brokers: [broker], logLevel: logLevel.NOTHING });
        const topic = await newTopic(kafka, unique('bench-consume'), PARTITIONS);
        const t0 = Date.now();
        await prefill(kafka, topic, N, PARTITIONS);
        console.log(`pre-filled ${topic}: ${N} records of 1 KiB in ${PARTITIONS} partitions (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
        let avroTopic = null;
        if (registryUrl) {
            avroTopic = await newTopic(kafka, unique('bench-consume-avro'), PARTITIONS);
            const t1 = Date.now();
            const size = await prefillAvro(kafka, avroTopic, registryUrl);
            console.log(`pre-filled ${avroTopic}: ${N} Avro records of ten fields, ${Math.round(size)} bytes each (${((Date.now() - t1) / 1000).toFixed(1)} s)`);
        }

        // Rounds interleave the three readers, so a slow moment of the machine hits all of them.
        const results = { raw: [], immediate: [], 'after-flow': [], 'avro-immediate': [], 'avro-after-flow': [], 'ceiling-immediate': [], 'ceiling-after-flow': [], 'publish-flow': [], 'publish-eos': [] };
        for (let round = 0; round < ROUNDS; round++) {
            if (runs('raw')) results.raw.push(await rawConsume(kafka, topic, N));
            if (runs('immediate') || runs('avro')) results.immediate.push(await viaNode(broker, topic, 'immediate'));
            if (runs('after-flow') || runs('avro')) results['after-flow'].push(await viaNode(broker, topic, 'flow'));
            if (avroTopic) {
                results['avro-immediate'].push(await viaNode(broker, avroTopic, 'immediate', registryUrl));
                results['avro-after-flow'].push(await viaNode(broker, avroTopic, 'flow', registryUrl));
            }
            if (runs('ceiling')) {
                results['ceiling-immediate'].push(await nodeRedOnly('immediate'));
                results['ceiling-after-flow'].push(await nodeRedOnly('flow'));
            }
            if (runs('publish')) {
                results['publish-flow'].push(await viaPublish(broker, kafka, topic, 'flow'));
                results['publish-eos'].push(await viaPublish(broker, kafka, topic, 'eos'));
            }
        }
        const median = (list) => list.slice().sort((a, b) => a.count / a.secs - b.count / b.secs)[Math.floor(list.length / 2)] || null;
        const show = (label, list) => {
            if (!list.length) return;
            console.log(`${label} ${rate(median(list))}   rounds: ${list.map((x) => Math.round(x.count / x.secs)).join(', ')}`);
        };
        show('raw kafkajs eachBatch    ', results.raw);
        show('kafka-consumer immediate ', results.immediate);
        show('kafka-consumer after-flow', results['after-flow']);
        show('Avro decoded, immediate  ', results['avro-immediate']);
        show('Avro decoded, after-flow ', results['avro-after-flow']);
        show('Node-RED alone, immediate ', results['ceiling-immediate']);
        show('Node-RED alone, after-flow', results['ceiling-after-flow']);
        const [r, imm, aft] = [results.raw, results.immediate, results['after-flow']].map(median);
        if (r && imm && aft) {
            const raw1 = r.count / r.secs;
            const ratioImm = (imm.count / imm.secs) / raw1;
            const ratioAft = (aft.count / aft.secs) / raw1;
            console.log(`immediate / raw  = ${(100 * ratioImm).toFixed(0)}%  (target >= 70%) ${ratioImm >= 0.7 ? 'OK' : 'MISSED'}`);
            console.log(`after-flow / raw = ${(100 * ratioAft).toFixed(0)}%  (target >= 50%) ${ratioAft >= 0.5 ? 'OK' : 'MISSED'}`);
        }
        for (const mode of ['immediate', 'after-flow']) {
            const [b, a] = [results[mode], results[`avro-${mode}`]].map(median);
            if (!a || !b) continue;
            const ratio = (a.count / a.secs) / (b.count / b.secs);
            console.log(`Avro / Buffer, ${mode.padEnd(10)} = ${(100 * ratio).toFixed(0)}%  (target >= 50%) ${ratio >= 0.5 ? 'OK' : 'MISSED'}`);
        }
        show('consume -> publish, after flow  ', results['publish-flow']);
        show('consume -> publish, exactly once', results['publish-eos']);
        const [pf, pe] = [results['publish-flow'], results['publish-eos']].map(median);
        if (pf && pe) {
            const ratio = (pe.count / pe.secs) / (pf.count / pf.secs);
            console.log(`exactly once / after flow = ${(100 * ratio).toFixed(0)}%  (target >= 70%) ${ratio >= 0.7 ? 'OK' : 'MISSED'}`);
        }
        const [ci, ca] = [results['ceiling-immediate'], results['ceiling-after-flow']].map(median);
        if (imm && ci) console.log(`immediate / Node-RED alone  = ${(100 * (imm.count / imm.secs) / (ci.count / ci.secs)).toFixed(0)}%`);
        if (aft && ca) console.log(`after-flow / Node-RED alone = ${(100 * (aft.count / aft.secs) / (ca.count / ca.secs)).toFixed(0)}%`);

        if (runs('latency')) {
            const l = await latency(kafka, broker);
            console.log(`latency at ${RATE} records/s for ${LATENCY_SECS} s (after-flow): p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms (${l.received}/${l.total} received)`);
        }
        if (!runs('slow')) return;

        const m = await slowFlow(broker, topic);
        const growth = m.secondHalf - m.firstHalf;
        console.log(`slow flow (1 record / 10 ms, maxInFlight 100) for ${SLOW_SECS} s: ${m.count} records; RSS start ${mb(m.startRss)} MB, peak ${mb(m.peak)} MB (+${mb(m.peak - m.startRss)} MB), ` +
            `mean first half ${mb(m.firstHalf)} MB, second half ${mb(m.secondHalf)} MB (${growth >= 0 ? '+' : ''}${mb(growth)} MB)`);
        console.log(`RSS samples (MB): ${m.samples.map(mb).join(' ')}`);
        const flat = m.peak - m.startRss < 100 * 1048576 && growth < 20 * 1048576;
        console.log(`memory with a slow flow: ${flat ? 'flat (OK)' : 'GROWING (MISSED)'}`);
    }));
}

main().then(() => process.exit(0), (err) => {
    console.error(err);
    process.exit(1);
});
