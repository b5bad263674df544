'use strict';
/*
 * Mocha global fixtures for the integration tests: one Kafka broker for the whole run.
 * - KAFKA_BROKERS=host:port[,host:port]  use that cluster (plaintext only, nothing started)
 * - otherwise start a real broker from Maven Central jars (KAFKA_VERSION, default 3.9.1)
 */
const { Broker } = require('../../scripts/kafka/broker');
const env = require('./kafka-env');

let broker = null;
let stopping = null;

/** Stops the broker once; later callers (teardown after a signal) wait for the same stop. */
function shutdown() {
    if (!stopping && broker) {
        const b = broker;
        stopping = (async () => {
            await b.close();
            if (!process.env.KAFKA_KEEP_DATA) await b.removeData(); // keep the log, drop the data
        })();
    }
    return stopping || Promise.resolve();
}

function onSignal(signal, code) {
    process.once(signal, () => {
        shutdown().catch((err) => console.error(err)).finally(() => process.exit(code));
    });
}

async function mochaGlobalSetup() {
    onSignal('SIGINT', 130);
    onSignal('SIGTERM', 143);
    if (process.env.KAFKA_BROKERS) {
        const brokers = process.env.KAFKA_BROKERS.split(',').map((s) => s.trim()).filter(Boolean);
        env.set(null, {
            version: process.env.KAFKA_VERSION || 'external',
            external: true,
            plaintext: brokers[0],
            saslPlaintext: null,
            ssl: null,
            mtls: null,
            saslSsl: null,
            brokers,
            users: null,
            tls: null,
            logFile: null,
            startMs: null,
        });
        console.log(`kafka: using external cluster ${brokers.join(',')}`);
        return;
    }
    broker = new Broker();
    try {
        await broker.start();
    } catch (err) {
        await shutdown();
        throw err;
    }
    env.set(broker);
    const i = broker.info();
    const fetched = broker.fetchMs > 2000 ? ` (+${(broker.fetchMs / 1000).toFixed(1)} s fetching jars)` : '';
    console.log(`kafka ${i.version} ready in ${(i.startMs / 1000).toFixed(1)} s${fetched} on ${i.plaintext}`);
}

async function mochaGlobalTeardown() {
    env.clear();
    await shutdown();
}

module.exports = { mochaGlobalSetup, mochaGlobalTeardown };
