'use strict';
/*
 * Mocha global fixtures of the fault suite (.mocharc.faults.json): one Kafka cluster for the
 * whole run (see cluster-env.js), and the package built and packed once. Scenarios that stop
 * brokers bring them back before they end.
 */
const { newCluster, kafkaFor, clusterAvailable } = require('./cluster-env');
const { packOnce, cleanup } = require('./node-red');

let cluster = null;
let tarball = null;
let failed = false;
let stopping = null;

function shutdown() {
    if (!stopping) {
        stopping = (async () => {
            const kept = await cleanup({ keep: failed });
            if (kept) console.log(`faults: Node-RED user dirs and logs kept in ${kept}`);
            if (cluster) {
                const c = cluster;
                cluster = null;
                // a hung broker would ignore SIGTERM
                for (const id of c.nodeIds) await c.resume(id).catch(() => {});
                await c.stop();
                if (!process.env.KAFKA_KEEP_DATA) await c.removeData();
            }
        })();
    }
    return stopping;
}

function onSignal(signal, code) {
    process.once(signal, () => {
        shutdown().catch((err) => console.error(err)).finally(() => process.exit(code));
    });
}

async function mochaGlobalSetup() {
    onSignal('SIGINT', 130);
    onSignal('SIGTERM', 143);
    const t0 = Date.now();
    const packed = packOnce();
    cluster = newCluster();
    try {
        await cluster.start();
        tarball = await packed;
    } catch (err) {
        await shutdown();
        throw err;
    }
    const kind = clusterAvailable() && cluster.nodeIds.length > 1 ? `${cluster.nodeIds.length}-node cluster` : 'single broker (scripts/kafka/cluster.js not there yet)';
    console.log(`faults: ${kind} at ${cluster.bootstrap}, package packed, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

async function mochaGlobalTeardown() {
    await shutdown();
}

const mochaHooks = {
    afterEach() {
        if (this.currentTest && this.currentTest.state === 'failed') failed = true;
    },
};

module.exports = {
    mochaGlobalSetup,
    mochaGlobalTeardown,
    mochaHooks,
    cluster: () => cluster,
    tarball: () => tarball,
    kafka: (clientId) => kafkaFor(cluster.bootstrap, clientId),
};
