'use strict';
/* What the benchmarks share: a broker for the run, and fresh topics. */
const path = require('path');

const ROOT = path.join(__dirname, '..');

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

module.exports = { ROOT, withBroker, newTopic };
