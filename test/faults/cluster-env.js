'use strict';
/*
 * The Kafka cluster a fault run uses.
 *
 * - scripts/kafka/cluster.js (class Cluster) when it is there: FAULTS_BROKERS (default 3) combined
 *   nodes, KAFKA_VERSION (default 3.9.1); FAULTS_CLUSTER_MODULE names another cluster.js;
 * - otherwise (or FAULTS_BROKERS=1) one broker of scripts/kafka/broker.js behind the same
 *   interface, so that the harness can be worked on before the cluster lands. Faults against
 *   "the leader" or "the coordinator" then hit the only broker.
 *
 * Interface used by the scenarios (the Cluster's): start, stop, removeData, bootstrap, nodeIds,
 * kill(id), hang(id), resume(id), restart(id), leaderOf(topic, partition), coordinatorOf(group),
 * waitForFullIsr(topics, ms), plus `replication` (the replication factor to create topics with).
 */
const fs = require('fs');
const path = require('path');
const { Kafka, logLevel } = require('kafkajs');

const ROOT = path.resolve(__dirname, '..', '..');
const VERSION = process.env.KAFKA_VERSION || '3.9.1';

/** One broker of scripts/kafka/broker.js dressed as a one-node Cluster. */
class SingleBrokerCluster {
    constructor() {
        const { Broker } = require(path.join(ROOT, 'scripts/kafka/broker.js'));
        this.broker = new Broker({ version: VERSION });
        this.nodeIds = [1];
        this.replication = 1;
    }

    get bootstrap() {
        return this.broker.info().plaintext;
    }

    address() {
        return this.bootstrap;
    }

    pid() {
        return this.broker.child ? this.broker.child.pid : null;
    }

    async start() {
        await this.broker.start();
    }

    async kill() {
        const child = this.broker.child;
        if (!child) return;
        const closed = new Promise((resolve) => child.once('close', resolve));
        child.kill('SIGKILL');
        await closed;
    }

    async hang() {
        process.kill(this.pid(), 'SIGSTOP');
    }

    async resume() {
        process.kill(this.pid(), 'SIGCONT');
    }

    async restart() {
        await this.broker.start();
    }

    async stopNode() {
        await this.broker.stop();
    }

    async stop() {
        await this.broker.close();
    }

    async removeData() {
        await this.broker.removeData();
    }

    async leaderOf() {
        return 1;
    }

    async coordinatorOf() {
        return 1;
    }

    async waitForFullIsr() {
        // one replica: always in sync
    }
}

// FAULTS_CLUSTER_MODULE: another cluster.js to use (e.g. one not merged yet, from its worktree).
const CLUSTER_MODULE = process.env.FAULTS_CLUSTER_MODULE
    ? path.resolve(process.env.FAULTS_CLUSTER_MODULE)
    : path.join(ROOT, 'scripts/kafka/cluster.js');

function clusterAvailable() {
    return fs.existsSync(CLUSTER_MODULE);
}

function newCluster() {
    const nodes = Number(process.env.FAULTS_BROKERS || (clusterAvailable() ? 3 : 1));
    if (nodes === 1) return new SingleBrokerCluster();
    if (!clusterAvailable()) throw new Error('FAULTS_BROKERS > 1 needs scripts/kafka/cluster.js (branch cluster)');
    const { Cluster } = require(CLUSTER_MODULE);
    const cluster = new Cluster({ version: VERSION, nodes, overrides: {} });
    cluster.replication = Math.min(3, nodes);
    return cluster;
}

/** A kafkajs client of the test process (not the one under test). */
function kafkaFor(bootstrap, clientId = 'faults-checker') {
    return new Kafka({
        clientId,
        brokers: bootstrap.split(','),
        logLevel: logLevel.NOTHING,
        retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 2000 },
        connectionTimeout: 3000,
        requestTimeout: 10000,
    });
}

module.exports = { newCluster, kafkaFor, clusterAvailable, VERSION, ROOT };
