'use strict';
/*
 * npm start: a local Kafka broker (or KAFKA_BROKERS) plus Node-RED with this package,
 * on http://127.0.0.1:1880/. Ctrl-C stops both.
 *
 * The user dir (<repo>/.node-red-user/, git-ignored) installs this package the way the
 * palette manager would: a package.json that depends on it and node_modules/<name> as a
 * link to the repo, so its examples appear under Import > Examples. A user dir without
 * flows gets a working demo flow.
 *
 *   PORT=1881 npm start          another port
 *   KAFKA_BROKERS=host:9092 npm start   an existing cluster (plaintext)
 *   SCHEMA_REGISTRY_URL=http://host:8081 npm start   an existing schema registry; otherwise
 *                                a local Apicurio Registry (scripts/registry) on 127.0.0.1:8081 when free
 *
 * The browser test reuses start() with its own user dir and a random port.
 */
const fs = require('fs');
const path = require('path');
const http = require('http');

const REPO = path.resolve(__dirname, '..');
const PKG = require(path.join(REPO, 'package.json'));
const DEMO_TOPIC = 'node-red-demo';

/** Makes `userDir` a Node-RED user dir with this package installed (a link to the repo). */
function prepareUserDir(userDir) {
    fs.mkdirSync(path.join(userDir, 'node_modules'), { recursive: true });
    const manifest = path.join(userDir, 'package.json');
    let project = { name: 'node-red-project', description: 'Node-RED user dir of the Kafka demo', version: '0.0.1', private: true, dependencies: {} };
    if (fs.existsSync(manifest)) project = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    project.dependencies = { ...project.dependencies, [PKG.name]: `file:${path.relative(userDir, REPO) || '.'}` };
    fs.writeFileSync(manifest, `${JSON.stringify(project, null, 4)}\n`);
    const link = path.join(userDir, 'node_modules', PKG.name);
    let current = null;
    try {
        current = fs.readlinkSync(link);
    } catch {
        // no link yet
    }
    if (current !== REPO) {
        fs.rmSync(link, { recursive: true, force: true });
        fs.symlinkSync(REPO, link, 'dir');
    }
}

/**
 * The demo flow: an inject node publishes a greeting every 5 s; a consumer reads the
 * topic into the debug sidebar; a Complete node acknowledges each record when its debug
 * node has shown it, so the group's offsets are committed.
 */
function demoFlow(brokers) {
    const tab = 'demo-tab';
    return [
        { id: tab, type: 'tab', label: 'Kafka demo', disabled: false, info: 'Publishes a greeting every 5 seconds and consumes it again.\nSee Import > Examples > node-red-contrib-kafka-connector for more.' },
        { id: 'demo-cfg', type: 'kafka-config', name: 'local Kafka', brokers, kafkaVersion: '3.9' },
        { id: 'demo-comment', type: 'comment', z: tab, name: 'Every 5 s a greeting goes to the topic node-red-demo and comes back through the consumer', info: '', x: 380, y: 40, wires: [] },
        { id: 'demo-inject', type: 'inject', z: tab, name: 'every 5 s', props: [{ p: 'payload' }], repeat: '5', crontab: '', once: true, onceDelay: '1', topic: '', payload: 'Hello from Node-RED', payloadType: 'str', x: 150, y: 100, wires: [['demo-publish']] },
        { id: 'demo-publish', type: 'kafka-publish', z: tab, name: '', config: 'demo-cfg', topic: DEMO_TOPIC, x: 360, y: 100, wires: [['demo-published']] },
        { id: 'demo-published', type: 'debug', z: tab, name: 'written at', active: true, tosidebar: true, console: false, tostatus: false, complete: 'attribute', targetType: 'msg', statusVal: '', statusType: 'auto', x: 580, y: 100, wires: [] },
        { id: 'demo-consumer', type: 'kafka-consumer', z: tab, name: '', config: 'demo-cfg', group: 'node-red-demo', topics: DEMO_TOPIC, consumerCount: 1, format: 'string', x: 440, y: 220, wires: [['demo-received']] },
        { id: 'demo-received', type: 'debug', z: tab, name: 'received', active: true, tosidebar: true, console: false, tostatus: true, complete: 'true', targetType: 'full', statusVal: 'payload', statusType: 'auto', x: 700, y: 220, wires: [] },
        { id: 'demo-complete', type: 'complete', z: tab, name: 'shown', scope: ['demo-received'], uncaught: false, x: 440, y: 300, wires: [['demo-consumer']] },
        // Control messages: pause, resume, and replay the last minute (a seek by time).
        { id: 'demo-pause', type: 'inject', z: tab, name: 'pause', props: [{ p: 'action', v: 'pause', vt: 'str' }], repeat: '', crontab: '', once: false, onceDelay: 0.1, topic: '', x: 130, y: 180, wires: [['demo-consumer']] },
        { id: 'demo-resume', type: 'inject', z: tab, name: 'resume', props: [{ p: 'action', v: 'resume', vt: 'str' }], repeat: '', crontab: '', once: false, onceDelay: 0.1, topic: '', x: 130, y: 220, wires: [['demo-consumer']] },
        { id: 'demo-replay', type: 'inject', z: tab, name: 'replay the last minute', props: [{ p: 'action', v: 'seek', vt: 'str' }, { p: 'timestamp', v: '$millis() - 60000', vt: 'jsonata' }], repeat: '', crontab: '', once: false, onceDelay: 0.1, topic: '', x: 170, y: 260, wires: [['demo-consumer']] },
    ];
}

function portFree(port) {
    const net = require('net');
    return new Promise((resolve) => {
        const srv = net.createServer();
        srv.once('error', () => resolve(false));
        srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
}

async function createTopic(brokers, topic) {
    const { Kafka, logLevel } = require('kafkajs');
    const admin = new Kafka({ clientId: 'node-red-demo-setup', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
        const existing = await admin.listTopics();
        if (!existing.includes(topic)) {
            await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] });
        }
    } finally {
        await admin.disconnect();
    }
}

/**
 * Starts Kafka (unless `brokers` or KAFKA_BROKERS name one) and Node-RED with this package.
 * Resolves with { url, port, brokers, broker (Broker | null), RED, userDir, stop() }.
 */
async function start(options = {}) {
    const {
        port = Number(process.env.PORT || 1880),
        host = '127.0.0.1',
        userDir = path.join(REPO, '.node-red-user'),
        flows = 'demo', // 'demo': deploy the demo flow into an empty user dir; 'none': deploy nothing
        logLevel = 'info',
        lang,
        linkPackage = true, // false: the user dir has this package installed already (palette check)
        schemaRegistry = false, // true: a schema registry beside the broker (SCHEMA_REGISTRY_URL, else a local one)
    } = options;
    let brokers = options.brokers || process.env.KAFKA_BROKERS || null;
    let broker = null;
    if (!brokers) {
        const { Broker, freePorts } = require('./kafka/broker');
        broker = options.broker || new Broker();
        if (!options.broker && options.plaintextPort && !broker.ports) {
            // The examples' config nodes say 127.0.0.1:9092: put the plaintext listener there when it is free.
            if (await portFree(options.plaintextPort)) {
                const [saslPlaintext, ssl, mtls, saslSsl, controller] = await freePorts(5);
                broker.ports = { plaintext: options.plaintextPort, saslPlaintext, ssl, mtls, saslSsl, controller };
            }
        }
        await broker.start();
        brokers = broker.info().plaintext;
    }
    let registry = null;
    let registryUrl = schemaRegistry ? process.env.SCHEMA_REGISTRY_URL || null : null;
    if (schemaRegistry && !registryUrl) {
        const { Registry } = require('./registry/registry');
        // The example flows' registry nodes say 127.0.0.1:8081: use that port when it is free.
        registry = new Registry({ port: (await portFree(8081)) ? 8081 : 0 });
        try {
            await registry.start();
        } catch (err) {
            if (broker && !options.broker) await broker.close().catch(() => undefined);
            throw err;
        }
        registryUrl = registry.url;
    }
    const stopBroker = async () => {
        if (registry) await registry.stop();
        if (broker && !options.broker) {
            await broker.close();
            await broker.removeData();
        }
    };

    let server = null;
    let RED = null;
    try {
        if (linkPackage) prepareUserDir(userDir);
        const flowFile = path.join(userDir, 'flows.json');
        if (flows === 'demo') {
            await createTopic(brokers, DEMO_TOPIC);
            if (!fs.existsSync(flowFile)) {
                fs.writeFileSync(flowFile, `${JSON.stringify(demoFlow(brokers), null, 4)}\n`);
            } else {
                // the broker of an earlier run may have had another address
                const saved = JSON.parse(fs.readFileSync(flowFile, 'utf8'));
                const cfg = Array.isArray(saved) && saved.find((n) => n.id === 'demo-cfg');
                if (cfg && cfg.brokers !== brokers) {
                    cfg.brokers = brokers;
                    fs.writeFileSync(flowFile, `${JSON.stringify(saved, null, 4)}\n`);
                }
            }
        }

        const express = require('express');
        RED = require('node-red');
        const app = express();
        server = http.createServer(app);
        const settings = {
            userDir,
            flowFile: 'flows.json',
            uiHost: host,
            uiPort: port,
            httpAdminRoot: '/',
            httpNodeRoot: '/',
            credentialSecret: false, // a throwaway demo dir: credentials stay readable in flows_cred.json
            logging: { console: { level: logLevel, metrics: false, audit: false } },
            editorTheme: { tours: false, projects: { enabled: false } },
            telemetry: { enabled: false, updateNotification: false }, // no consent dialog, no calls home
            functionGlobalContext: {},
        };
        if (lang) settings.lang = lang;
        if (options.adminAuth) settings.adminAuth = options.adminAuth;
        RED.init(server, settings);
        app.use(settings.httpAdminRoot, RED.httpAdmin);
        app.use(settings.httpNodeRoot, RED.httpNode);
        await new Promise((resolve, reject) => {
            server.once('error', reject);
            server.listen(port, host, resolve);
        });
        await RED.start();
    } catch (err) {
        if (RED && server && server.listening) await RED.stop().catch(() => undefined);
        if (server && server.listening) await new Promise((resolve) => server.close(resolve));
        await stopBroker();
        throw err;
    }
    const actualPort = server.address().port;
    let stopping = null;
    return {
        url: `http://${host}:${actualPort}/`,
        port: actualPort,
        brokers,
        broker,
        registryUrl,
        RED,
        userDir,
        stop() {
            if (!stopping) {
                stopping = (async () => {
                    await RED.stop().catch(() => undefined);
                    if (server.closeAllConnections) server.closeAllConnections();
                    await new Promise((resolve) => server.close(() => resolve()));
                    await stopBroker();
                })();
            }
            return stopping;
        },
    };
}

async function main() {
    const demo = await start({ plaintextPort: 9092, schemaRegistry: true });
    let exiting = false;
    const exit = (code) => {
        if (exiting) return;
        exiting = true;
        console.log('\nstopping Node-RED, Kafka and the schema registry ...');
        demo.stop().catch((err) => console.error(err)).finally(() => process.exit(code));
    };
    process.on('SIGINT', () => exit(130));
    process.on('SIGTERM', () => exit(143));
    const where = demo.broker ? `local Kafka ${demo.broker.info().version}` : 'Kafka';
    console.log(`\nNode-RED is ready: ${demo.url}  (${where} at ${demo.brokers}; Ctrl-C stops both)`);
    if (demo.brokers !== '127.0.0.1:9092') {
        console.log(`The examples (Import > Examples) connect to 127.0.0.1:9092: set their config node's Brokers to ${demo.brokers}.`);
    }
    if (demo.registryUrl) console.log(`Schema registry: ${demo.registryUrl}`);
    if (demo.registryUrl && demo.registryUrl !== 'http://127.0.0.1:8081/apis/ccompat/v7') {
        console.log(`Example 06 uses http://127.0.0.1:8081/apis/ccompat/v7: set its schema registry node's URL to ${demo.registryUrl}.`);
    }
    console.log('');
}

if (require.main === module) {
    main().catch((err) => {
        console.error(err);
        process.exit(1);
    });
}

module.exports = { start, prepareUserDir, demoFlow, createTopic, DEMO_TOPIC };
