'use strict';
/*
 * Mocha global fixtures for the integration tests: one Kafka broker for the whole run.
 * - KAFKA_BROKERS=host:port[,host:port]  use that cluster (plaintext only, nothing started)
 * - otherwise start a real broker from Maven Central jars (KAFKA_VERSION, default 3.9.1)
 * and, beside it, a schema registry:
 * - SCHEMA_REGISTRY_URL=http://host:port/...  use that registry (its Confluent-compatible API)
 * - otherwise build (once) and start Apicurio Registry from Maven Central (scripts/registry)
 */
const { Broker } = require('../../scripts/kafka/broker');
const { Registry } = require('../../scripts/registry/registry');
const env = require('./kafka-env');
const registryEnv = require('./registry-env');

let broker = null;
let registry = null;
let stopping = null;

/** Stops the broker and the registry once; later callers (teardown after a signal) wait for the same stop. */
function shutdown() {
    if (!stopping && (broker || registry)) {
        const b = broker;
        const r = registry;
        stopping = Promise.all([
            b && (async () => {
                await b.close();
                if (!process.env.KAFKA_KEEP_DATA) await b.removeData(); // keep the log, drop the data
            })(),
            r && r.stop(),
        ]);
    }
    return stopping || Promise.resolve();
}

/** The registry beside the broker: the one SCHEMA_REGISTRY_URL names, or one of our own. */
async function startRegistry() {
    if (process.env.SCHEMA_REGISTRY_URL) {
        registryEnv.set(null, process.env.SCHEMA_REGISTRY_URL);
        console.log(`schema registry: using ${process.env.SCHEMA_REGISTRY_URL}`);
        return;
    }
    registry = new Registry();
    await registry.start();
    registryEnv.set(registry, registry.url);
    const built = registry.buildMs > 2000 ? ` (+${(registry.buildMs / 1000).toFixed(1)} s building it)` : '';
    console.log(`schema registry ready in ${(registry.startMs / 1000).toFixed(1)} s${built} at ${registry.url}`);
}

function onSignal(signal, code) {
    process.once(signal, () => {
        shutdown().catch((err) => console.error(err)).finally(() => process.exit(code));
    });
}

async function mochaGlobalSetup() {
    onSignal('SIGINT', 130);
    onSignal('SIGTERM', 143);
    const registryStarted = startRegistry();
    registryStarted.catch(() => undefined); // awaited below
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
        try {
            await registryStarted;
        } catch (err) {
            await shutdown();
            throw err;
        }
        return;
    }
    broker = new Broker();
    try {
        // One after the other: a broker starting beside the registry's JVM on a small
        // machine is still loading its group coordinator when the first spec runs.
        await registryStarted;
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
    registryEnv.clear();
    await shutdown();
}

module.exports = { mochaGlobalSetup, mochaGlobalTeardown };
