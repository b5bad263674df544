'use strict';
/* What the benchmarks share: a broker for the run, fresh topics, the 1 KiB record, and the raw kafkajs readers and writers they compare against. */
const path = require('path');
const crypto = require('crypto');
const { performance } = require('perf_hooks');

const ROOT = path.join(__dirname, '..');
const VALUE = crypto.randomBytes(512).toString('hex'); // 1 KiB

let seq = 0;
const unique = (prefix) => `${prefix}-${Date.now().toString(36)}-${seq++}`;

/** Calls fn(bootstrap) with KAFKA_BROKERS's first broker, or with a broker started (and removed) for the run. */
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

async function newTopic(kafka, name, numPartitions) {
    const admin = kafka.admin();
    await admin.connect();
    try {
        await admin.createTopics({ waitForLeaders: true, topics: [{ topic: name, numPartitions, replicationFactor: 1 }] });
    } finally {
        await admin.disconnect();
    }
    return name;
}

/** Writes n records of VALUE round-robin over `partitions` partitions, four batches of 1000 in flight. */
async function prefill(kafka, topic, n, partitions) {
    const producer = kafka.producer();
    await producer.connect();
    const CHUNK = 1000;
    let next = 0;
    await Promise.all([0, 1, 2, 3].map(async () => {
        while (next < n) {
            const from = next;
            next = Math.min(n, next + CHUNK);
            const messages = [];
            for (let i = from; i < next; i++) messages.push({ partition: i % partitions, value: VALUE });
            await producer.sendBatch({ acks: 1, topicMessages: [{ topic, messages }] });
        }
    }));
    await producer.disconnect();
}

/**
 * A raw kafkajs consumer (eachBatch, a fresh group, from the beginning) reading n records of `topic`.
 * secs: first batch to the n-th record (the group join is not counted); cpu and event-loop use over that time.
 */
async function rawConsume(kafka, topic, n) {
    const consumer = kafka.consumer({ groupId: unique('bench-raw') });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let count = 0;
    let first = 0n;
    let elu0 = null;
    const c0 = process.cpuUsage();
    const done = new Promise((resolve) => {
        consumer.run({
            eachBatch: async ({ batch }) => {
                if (!first) {
                    first = process.hrtime.bigint();
                    elu0 = performance.eventLoopUtilization();
                }
                count += batch.messages.length;
                if (count >= n) resolve(process.hrtime.bigint());
            },
        });
    });
    const last = await done;
    const cpu = process.cpuUsage(c0);
    const elu = performance.eventLoopUtilization(elu0).utilization;
    await consumer.disconnect();
    return { secs: Number(last - first) / 1e9, count, cpu, elu };
}

/** n records of VALUE through kafkajs sendBatch of `batch` records, acks 1, awaited in turn. secs: first send to last acknowledgement. */
async function rawSendBatch(kafka, topic, n, batch) {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'warm-up' }] });
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for (let done = 0; done < n; done += batch) {
        const messages = [];
        for (let i = 0; i < Math.min(batch, n - done); i++) messages.push({ value: VALUE });
        await producer.sendBatch({ acks: 1, topicMessages: [{ topic, messages }] });
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(c0);
    await producer.disconnect();
    return { secs, cpu };
}

/** A core delay node letting `perSecond` messages a second through and queueing the rest: the slow flow of the memory checks. */
function rateLimit(id, z, perSecond, wires) {
    return {
        id, z, type: 'delay', name: '', pauseType: 'rate', timeout: '5', timeoutUnits: 'seconds',
        rate: String(perSecond), nbRateUnits: '1', rateUnits: 'second', randomFirst: '1', randomLast: '5', randomUnits: 'seconds',
        drop: false, allowrate: false, outputs: 1, wires,
    };
}

module.exports = { ROOT, VALUE, unique, withBroker, newTopic, prefill, rawConsume, rawSendBatch, rateLimit };
