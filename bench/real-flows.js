'use strict';
/*
 * The flows bench/real.js deploys into real Node-RED processes. This package's nodes are taken
 * from the shipped examples (examples/01, 02, 05: what a user imports), with brokers, topic,
 * group and the field under test changed. node-red-contrib-kafkajs's nodes carry the defaults of
 * its editor (js/*.html of the installed package), with "from beginning" switched on.
 *
 * Every flow has the same instruments, all ordinary core nodes:
 *   count    a function node counting records in flow context: n, time (Date.now) of the first
 *            and of the n-th record (atN), errors; returns nothing, so Node-RED completes the message
 *   errors   a function node fed by a Catch node (all nodes) and by the consumer's error output
 *   GET  /bench/stats   http in -> function -> http response: {count, gen, errors, now}
 *   POST /bench/start   http in -> the flow's source or generator (and an http response)
 */
const fs = require('fs');
const path = require('path');

const { ROOT, rateLimit } = require('./common');

const TAB = 'bench-tab';
/* 1 KiB, built inside Node-RED; the records carry no compression, so the bytes do not matter. */
const KIB = "'0123456789abcdef'.repeat(64)";

function example(file) {
    return JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', file), 'utf8'));
}

/** A copy of the example's node of `type`, with `fields` over it, on the bench tab. */
function fromExample(file, type, fields) {
    const found = example(file).find((n) => n.type === type);
    if (!found) throw new Error(`examples/${file} has no ${type} node`);
    const node = { ...found, ...fields };
    if (type !== 'kafka-config') node.z = TAB;
    return node;
}

function fn(id, name, func, wires = [[]], initialize = '') {
    return { id, type: 'function', z: TAB, name, func, outputs: 1, timeout: 0, noerr: 0, initialize, finalize: '', libs: [], wires };
}

// A batch message (kafka-consumer's batch output: payload an array) counts for its records.
const COUNT = (n) => `const s = flow.get('count');
const now = Date.now();
if (s.n === 0) s.first = now;
s.n += Array.isArray(msg.payload) ? msg.payload.length : 1;
if (s.atN === 0 && s.n >= ${n}) s.atN = now;
return null;`;

const ERRORS = `const e = flow.get('errors') || { n: 0, last: null };
e.n++;
const err = msg.error || {};
e.last = String(err.message || err.Description || JSON.stringify(err));
flow.set('errors', e);
return null;`;

const STATS = `msg.payload = { count: flow.get('count'), gen: flow.get('gen') || null, errors: flow.get('errors') || null, now: Date.now() };
return msg;`;

/** The instruments (see the header) around `nodes`; `startTarget`: the node POST /bench/start feeds. */
function benchFlow(n, nodes, startTarget = null) {
    const flow = [
        { id: TAB, type: 'tab', label: 'bench', disabled: false, info: '' },
        fn('count', 'count', COUNT(n), [[]], "flow.set('count', { n: 0, first: 0, atN: 0 });"),
        fn('errors', 'errors', ERRORS),
        { id: 'catch', type: 'catch', z: TAB, name: '', scope: null, uncaught: false, wires: [['errors']] },
        { id: 'stats-in', type: 'http in', z: TAB, name: '', url: '/bench/stats', method: 'get', upload: false, swaggerDoc: '', wires: [['stats']] },
        fn('stats', 'stats', STATS, [['stats-out']]),
        { id: 'stats-out', type: 'http response', z: TAB, name: '', statusCode: '', headers: {}, wires: [] },
        ...nodes,
    ];
    if (startTarget) {
        flow.push(
            { id: 'start-in', type: 'http in', z: TAB, name: '', url: '/bench/start', method: 'post', upload: false, swaggerDoc: '', wires: [[startTarget, 'start-out']] },
            { id: 'start-out', type: 'http response', z: TAB, name: '', statusCode: '', headers: {}, wires: [] },
        );
    }
    // Node-RED takes a node without x and y for a config node: lay the flow's nodes out in rows.
    flow.filter((node) => node.z && node.x === undefined).forEach((node, i) => Object.assign(node, { x: 160 + 220 * (i % 4), y: 60 + 80 * Math.floor(i / 4) }));
    return flow;
}

/** A Complete node watching `watched`, wired back into `into` (as examples/01 wires it). */
function completeBack(watched, into) {
    return fromExample('01 Consume a topic.json', 'complete', { id: 'done', name: '', scope: [watched], wires: [[into]] });
}

/** examples/01's config (05's for exactly once) with this run's broker, reading from the oldest offset. */
function connectorConfig(broker, ackMode, fields = {}) {
    const file = ackMode === 'eos' ? '05 Exactly once.json' : '01 Consume a topic.json';
    return fromExample(file, 'kafka-config', { id: 'cfg', name: 'bench', brokers: broker, ackMode, initialOffset: 'oldest', ...fields });
}

function connectorConsumer({ topic, group, maxInFlight = 100, batch = {}, wires }) {
    return fromExample('01 Consume a topic.json', 'kafka-consumer', {
        id: 'consumer', name: 'bench', config: 'cfg', group, topics: topic, format: 'buffer', maxInFlight, ...batch, wires: [wires, ['errors']],
    });
}

/**
 * kafka-consumer (ack mode immediate, flow or eos) -> count; a Complete node on count back into the consumer unless immediate.
 * `batchSize`: batch output (batches of that many, at most 4 batches in flight, as example 07).
 */
function connectorConsume({ n, broker, topic, group, ackMode, batchSize = 1 }) {
    const batch = batchSize > 1 ? { batchSize, batchWait: 100, maxInFlight: 4 } : {};
    const nodes = [connectorConfig(broker, ackMode), connectorConsumer({ topic, group, wires: ['count'], batch })];
    if (ackMode !== 'immediate') nodes.push(completeBack('count', 'consumer'));
    return benchFlow(n, nodes);
}

/** Ack mode after flow, maxInFlight 100, into a delay node letting 100 records/s through, then count (Complete on count back). */
function connectorSlow({ n, broker, topic, group }) {
    return benchFlow(n, [
        connectorConfig(broker, 'flow'),
        connectorConsumer({ topic, group, wires: ['delay'] }),
        delay100(),
        completeBack('count', 'consumer'),
    ]);
}

function delay100() {
    return rateLimit('delay', TAB, 100, [['count']]);
}

/*
 * The Node-RED ceiling: a function node emitting n messages of the consumer's shape (a shared
 * 1 KiB Buffer as payload, attribute, topic, key, headers, timestamp, a receipt in _kafka), sent
 * without cloning as the consumer sends them. Immediate: runs of 1000, the next run on a timer
 * (the function sandbox has no setImmediate), like fetched batches. After flow: 100 in flight,
 * refilled from 75 as the Complete node hands records back (the consumer's default maxInFlight).
 */
const SOURCE = (n, mode) => `const s = context.get('src');
const one = () => {
    const i = s.sent++;
    const attribute = { topic: 'ceiling', partition: i % 4, offset: Math.floor(i / 4) };
    node.send({ payload: s.value, attribute, topic: 'ceiling', key: null, headers: {}, timestamp: Date.now(),
        _kafka: { consumer: node.id, topic: 'ceiling', partition: attribute.partition, offset: attribute.offset } }, false);
};
if (msg._kafka) {
    s.inFlight--;
    if (s.inFlight <= 75) {
        while (s.inFlight < 100 && s.sent < ${n}) { s.inFlight++; one(); }
    }
    return null;
}
if (s.started) return null;
s.started = true;
flow.set('gen', { t0: Date.now() });
if (${JSON.stringify(mode)} === 'flow') {
    while (s.inFlight < 100 && s.sent < ${n}) { s.inFlight++; one(); }
} else {
    const run = () => {
        for (let k = 0; k < 1000 && s.sent < ${n}; k++) one();
        if (s.sent < ${n}) setTimeout(run, 0);
    };
    run();
}
return null;`;

/** The ceiling: source -> count; after flow with a Complete node on count back into the source. */
function ceiling({ n, ackMode }) {
    const nodes = [fn('source', 'source', SOURCE(n, ackMode), [['count']], `context.set('src', { sent: 0, inFlight: 0, started: false, value: Buffer.from(${KIB}) });`)];
    if (ackMode === 'flow') nodes.push(completeBack('count', 'source'));
    return benchFlow(n, nodes, 'source');
}

/*
 * The generator in front of a producer node: on POST /bench/start with {warmup: true} one
 * message; on POST /bench/start, n messages of a 1 KiB string. With a window, it keeps `window`
 * messages not yet completed: a Complete node watching the producer hands each finished message
 * back and one more goes out (kafka-publish completes a message once its record is acknowledged).
 * Without one (window 0) it sends them all, in runs of 1000 on a timer: the only way to feed
 * node-red-contrib-kafkajs's producer, which never completes a message (its input handler takes
 * no done callback, and Node-RED 4 completes no message by itself).
 */
const GENERATOR = (n, window) => `const s = context.get('gen');
if (msg.req) {
    if (msg.payload && msg.payload.warmup) {
        node.send({ payload: s.value, warmup: true }, false);
        return null;
    }
    if (s.t0) return null;
    s.t0 = Date.now();
    flow.set('gen', { t0: s.t0 });
    if (${window} === 0) {
        const run = () => {
            for (let k = 0; k < 1000 && s.sent < ${n}; k++) { s.sent++; node.send({ payload: s.value }, false); }
            if (s.sent < ${n}) setTimeout(run, 0);
        };
        run();
        return null;
    }
    while (s.sent < ${n} && s.sent - s.done < ${window}) { s.sent++; node.send({ payload: s.value }, false); }
    return null;
}
if (msg.warmup) return null;
s.done++;
if (s.sent < ${n}) { s.sent++; node.send({ payload: s.value }, false); }
return null;`;

function generator(n, window, producerId) {
    const gen = fn('generator', 'generator', GENERATOR(n, window), [[producerId]], `context.set('gen', { sent: 0, done: 0, t0: 0, value: ${KIB} });`);
    return window ? [gen, completeBack(producerId, 'generator')] : [gen];
}

/** generator -> kafka-publish (examples/02's nodes), its output left unwired; `flush`: the config's flush fields. */
function connectorPublish({ n, window, broker, topic, flush = {} }) {
    return benchFlow(n, [
        fromExample('02 Publish from an HTTP request.json', 'kafka-config', { id: 'cfg', name: 'bench', brokers: broker, ...flush }),
        fromExample('02 Publish from an HTTP request.json', 'kafka-publish', { id: 'publish', config: 'cfg', topic, wires: [[]] }),
        ...generator(n, window, 'publish'),
    ], 'generator');
}

/* node-red-contrib-kafkajs: the defaults of its editor. */
function kafkajsClient(broker) {
    return {
        id: 'kjs-client', type: 'kafkajs-client', name: 'bench', brokers: broker, clientid: 'node-red-bench',
        connectiontimeout: 3000, requesttimeout: 25000, advancedretry: false, maxretrytime: 30000,
        initialretrytime: 300, factor: 0.2, multiplier: 2, retries: 5, auth: 'none', tlsselfsign: false,
        tlscacert: '', tlsclientcert: '', tlsprivatekey: '', tlspassphrase: '', saslssl: true, saslmechanism: 'plain',
        loglevel: 'error',
    };
}

function kafkajsConsumer({ topic, group, wires }) {
    return {
        id: 'consumer', type: 'kafkajs-consumer', z: TAB, name: 'bench', client: 'kjs-client', groupid: group, topic,
        // "from beginning" is among its advanced options; the others keep the editor's defaults.
        advancedoptions: true, autocommitinterval: 5000, autocommitthreshold: 100, sessiontimeout: 30000,
        rebalancetimeout: 60000, heartbeatinterval: 3000, metadatamaxage: 300000, maxbytesperpartition: 1048576,
        minbytes: 1, maxbytes: 10485760, maxwaittimeinms: 5000, frombeginning: true, clearoffsets: false,
        allowautotopiccreation: false, wires: [wires],
    };
}

/** node-red-contrib-kafkajs consumer -> count. */
function kafkajsConsume({ n, broker, topic, group }) {
    return benchFlow(n, [kafkajsClient(broker), kafkajsConsumer({ topic, group, wires: ['count'] })]);
}

/** node-red-contrib-kafkajs consumer -> delay 100/s -> count (it takes no acknowledgements). */
function kafkajsSlow({ n, broker, topic, group }) {
    return benchFlow(n, [kafkajsClient(broker), kafkajsConsumer({ topic, group, wires: ['delay'] }), delay100()]);
}

/** generator (no window: see GENERATOR) -> node-red-contrib-kafkajs producer (acks leader, as kafka-publish's default). */
function kafkajsPublish({ n, broker, topic }) {
    return benchFlow(n, [
        kafkajsClient(broker),
        {
            id: 'publish', type: 'kafkajs-producer', z: TAB, name: 'bench', client: 'kjs-client', topic,
            advancedoptions: false, acknowledge: 'leader', partition: null, headeritems: {}, key: null,
            responsetimeout: 30000, transactiontimeout: 60000, metadatamaxage: 300000, allowautotopiccreation: false,
            wires: [],
        },
        ...generator(n, 0, 'publish'),
    ], 'generator');
}

module.exports = { connectorConsume, connectorSlow, ceiling, connectorPublish, kafkajsConsume, kafkajsSlow, kafkajsPublish };
