'use strict';
/*
 * Shared helpers for the integration specs: unique names, an independent kafkajs
 * admin/consumer/producer to check what the nodes did, and kafka-config node
 * definitions for each listener of the test broker.
 */
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { Kafka, logLevel } = require('kafkajs');
const helper = require('node-red-node-test-helper');
const env = require('./kafka-env');

// NODE_RED_PATH=<folder with node_modules/node-red> runs the specs on another Node-RED release.
const NODE_RED = process.env.NODE_RED_PATH
    ? require.resolve('node-red', { paths: [process.env.NODE_RED_PATH] })
    : require.resolve('node-red');
/** Requires a module of the Node-RED release under test (core nodes, @node-red/util). */
const fromNodeRed = (id) => require(require.resolve(id, { paths: [path.dirname(NODE_RED)] }));
helper.init(NODE_RED);

// node-red-node-test-helper translates every key to itself; the specs check the
// real sentences, so node modules are loaded with this package's catalogs.
const { i18n } = fromNodeRed('@node-red/util');
const LOCALES = path.join(__dirname, '..', '..', 'nodes', 'locales');
let catalogs = null;
function loadCatalogs() {
    if (!catalogs) {
        // Node-RED's own node messages (`node-red:common.status.*`), as the runtime has them.
        const coreLocales = path.join(path.dirname(require.resolve('@node-red/nodes/package.json', { paths: [path.dirname(NODE_RED)] })), 'locales');
        catalogs = Promise.resolve(i18n.init({})).then(() => Promise.all([
            i18n.registerMessageCatalog('node-red', coreLocales, 'messages.json'),
            ...['kafka-config', 'kafka-consumer', 'kafka-publish', 'kafka-schema-registry']
                .filter((ns) => fs.existsSync(path.join(LOCALES, 'en-US', `${ns}.json`)))
                .map((ns) => i18n.registerMessageCatalog(ns, LOCALES, `${ns}.json`)),
        ]));
    }
    return catalogs;
}

/** Wraps a node module so its RED._ translates with the catalog named after the node type. */
function withCatalog(nodeModule, namespace) {
    return async function (RED) {
        await loadCatalogs();
        const red = Object.create(RED);
        red._ = (key, params) => i18n._(key.includes(':') ? key : `${namespace}:${key}`, params);
        return nodeModule(red);
    };
}

/** This package's node modules, translated, plus the core nodes the specs wire with them. */
function nodeModules(...names) {
    const root = path.join(__dirname, '..', '..', 'nodes');
    const core = {
        'tls-config': '@node-red/nodes/core/network/05-tls.js',
        complete: '@node-red/nodes/core/common/24-complete.js',
        catch: '@node-red/nodes/core/common/25-catch.js',
        function: '@node-red/nodes/core/function/10-function.js',
        change: '@node-red/nodes/core/function/15-change.js',
        debug: '@node-red/nodes/core/common/21-debug.js',
    };
    return names.map((name) => (core[name]
        ? fromNodeRed(core[name])
        : withCatalog(require(path.join(root, `${name}.js`)), name)));
}

/** A name no other test uses: topics and groups never see each other's data. */
function unique(prefix) {
    return `${prefix}-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
}

/** An independent kafkajs client on the plaintext listener, to check what the nodes did. */
function kafka(options = {}) {
    return new Kafka({
        clientId: 'spec-checker',
        brokers: [env.info().plaintext],
        logLevel: logLevel.NOTHING,
        retry: { retries: 3, initialRetryTime: 200 },
        ...options,
    });
}

async function withAdmin(fn) {
    const admin = kafka().admin();
    await admin.connect();
    try {
        return await fn(admin);
    } finally {
        await admin.disconnect();
    }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The specs' own writer. Idempotent: kafkajs resends a whole produce request when one of its
 * partitions is refused (a topic just created, not yet served on a busy broker), and a plain
 * producer then writes the other partitions' records twice; with idempotence the broker drops
 * the resent copies, so a spec's input is exactly what it wrote.
 */
function specProducer() {
    return kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
}

async function withProducer(fn) {
    const producer = specProducer();
    await producer.connect();
    try {
        return await fn(producer);
    } finally {
        await producer.disconnect();
    }
}

/** kafkajs's names for "the group's coordinator is loading, missing or elsewhere" (codes 14, 15, 16). */
const COORDINATOR_MOVING = ['GROUP_LOAD_IN_PROGRESS', 'GROUP_COORDINATOR_NOT_AVAILABLE', 'NOT_COORDINATOR_FOR_GROUP'];

/** The group's committed offset per partition of `topic` (-1: none); through `admin` when given. */
async function committed(group, topic, admin) {
    if (!admin) return withAdmin((a) => committed(group, topic, a));
    let res;
    for (let attempt = 0; ; attempt++) {
        try {
            res = await admin.fetchOffsets({ groupId: group, topics: [topic] });
            break;
        } catch (err) {
            // A broker that has just started may still be loading (or moving) the group's coordinator: ask again.
            if (attempt >= 50 || !COORDINATOR_MOVING.includes(err.type)) throw err;
            await sleep(200);
        }
    }
    const out = {};
    for (const p of res[0].partitions) out[p.partition] = Number(p.offset);
    return out;
}

/** The end (high-water) offset per partition of `topic`. */
async function endOffsets(topic) {
    return withAdmin(async (admin) => {
        const out = {};
        for (const p of await admin.fetchTopicOffsets(topic)) out[p.partition] = Number(p.high);
        return out;
    });
}

async function createTopic(topic, numPartitions = 1, configEntries = []) {
    await withAdmin(async (admin) => {
        await admin.createTopics({ waitForLeaders: false, topics: [{ topic, numPartitions, replicationFactor: 1, configEntries }] });
        // Every partition led before the spec goes on. kafkajs's own waitForLeaders gives up when
        // the new topic is not in the metadata yet (UNKNOWN_TOPIC_OR_PARTITION), as on a busy machine.
        await waitFor(async () => {
            try {
                const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
                return topics[0].partitions.length === numPartitions && topics[0].partitions.every((p) => p.leader >= 0);
            } catch (err) {
                if (err.type === 'UNKNOWN_TOPIC_OR_PARTITION' || err.type === 'LEADER_NOT_AVAILABLE') return false;
                throw err;
            }
        }, `leaders for ${topic}`, 30000, 100);
    });
    return topic;
}

/** Whether the group has committed up to the topic's end offsets (false while its coordinator is still loading). */
async function caughtUp(group, topic) {
    try {
        const [c, e] = await Promise.all([committed(group, topic), endOffsets(topic)]);
        return Object.keys(e).every((p) => Number(c[p]) === e[p]);
    } catch {
        return false;
    }
}

/** Reads `count` records of a topic from the beginning with a fresh group; resolves with kafkajs messages. */
async function readBack(topic, count, timeoutMs = 20000) {
    const consumer = kafka().consumer({ groupId: unique('readback'), maxWaitTimeInMs: 100 });
    const records = [];
    await consumer.connect();
    try {
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`read ${records.length} of ${count} records of ${topic}`)), timeoutMs);
            consumer.run({
                eachMessage: async ({ partition, message }) => {
                    records.push({ partition, ...message });
                    if (records.length >= count) {
                        clearTimeout(timer);
                        resolve();
                    }
                },
            }).catch(reject);
        });
    } finally {
        await consumer.disconnect();
    }
    return records;
}

/**
 * A kafka-config node definition for one listener of the test broker:
 * 'plaintext' | 'plain' | 'scram256' | 'scram512' | 'ssl' | 'mtls' | 'scram-ssl'.
 * Returns { nodes, credentials } to merge into a flow: the config node (id `cfgId`)
 * plus a tls-config node where TLS is used.
 */
function configFor(listener, cfgId = 'cfg', extra = {}) {
    const info = env.info();
    const users = info.users;
    const def = { id: cfgId, type: 'kafka-config', name: listener, kafkaVersion: '2.8', ...extra };
    const credentials = {};
    const nodes = [def];
    const sasl = (mode, user, mechanism) => {
        def.saslMode = mode;
        if (mechanism) def.scramMechanism = mechanism;
        credentials[cfgId] = { username: user.username, password: user.password };
    };
    const tls = (withClientCert, caFile = info.tls.ca) => {
        def.useTls = true;
        def.tls = `${cfgId}-tls`;
        const t = { id: `${cfgId}-tls`, type: 'tls-config', name: 'tls', ca: caFile, cert: '', key: '', verifyservercert: true, servername: '', alpnprotocol: '' };
        if (withClientCert) {
            t.cert = info.tls.clientCert;
            t.key = info.tls.clientKey;
        }
        nodes.push(t);
    };
    switch (listener) {
        case 'plaintext': def.brokers = extra.brokers || info.plaintext; break;
        case 'plain': def.brokers = info.saslPlaintext; sasl('plain', users.plain); break;
        case 'scram256': def.brokers = info.saslPlaintext; sasl('scram', users.scram256, 'sha-256'); break;
        case 'scram512': def.brokers = info.saslPlaintext; sasl('scram', users.scram512, 'sha-512'); break;
        case 'ssl': def.brokers = info.ssl; tls(false); break;
        case 'mtls': def.brokers = info.mtls; tls(true); break;
        case 'scram-ssl': def.brokers = info.saslSsl; sasl('scram', users.scram512, 'sha-512'); tls(false); break;
        default: throw new Error(`unknown listener ${listener}`);
    }
    Object.assign(def, extra);
    return { nodes, credentials };
}

/** Resolves when `predicate()` is true, polling; rejects with `what` after the timeout. */
async function waitFor(predicate, what, timeoutMs = 20000, everyMs = 50) {
    const end = Date.now() + timeoutMs;
    for (;;) {
        if (await predicate()) return;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, everyMs));
    }
}

/** Every status a node showed, oldest first, through the test helper's spy on Node.prototype.status. */
function statusHistory(node) {
    return node.status.getCalls ? node.status.getCalls().filter((c) => c.thisValue === node).map((c) => c.args[0]) : [];
}

/** The last status a node showed (null when none). */
function lastStatus(node) {
    const all = statusHistory(node);
    return all.length ? all[all.length - 1] : null;
}

async function describeGroup(group) {
    return withAdmin(async (admin) => (await admin.describeGroups([group])).groups[0]);
}

/** Records every status a node shows (node-red-node-test-helper lets us spy on node.status). */
function statuses(node) {
    const seen = [];
    const original = node.status.bind(node);
    node.status = (s) => {
        seen.push(s);
        return original(s);
    };
    return seen;
}

/**
 * Mocha hooks for a describe block: unload the flow after each test and fail the
 * test if any promise rejection went unhandled while it ran.
 */
function unloadAndCheckRejections() {
    const rejections = [];
    const onRejection = (reason) => rejections.push(reason);
    before(function () { process.on('unhandledRejection', onRejection); });
    after(function () { process.off('unhandledRejection', onRejection); });
    afterEach(async function () {
        await helper.unload();
        const seen = rejections.splice(0);
        if (seen.length) throw new Error(`unhandled promise rejection: ${seen.map(String).join('; ')}`);
    });
}

module.exports = { caughtUp, specProducer, statusHistory, lastStatus, describeGroup, unloadAndCheckRejections, helper, nodeModules, fromNodeRed, env, unique, kafka, withAdmin, withProducer, committed, endOffsets, sleep, createTopic, readBack, configFor, waitFor, statuses };
