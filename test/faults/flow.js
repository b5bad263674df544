'use strict';
/*
 * The flow under test, wired as a user wires examples/03: kafka-consumer -> function (transform)
 * -> kafka-publish, a Complete node watching the publish node and a Catch node (scope: the
 * function and the publish node) both wired back into the consumer. Ack mode "after flow".
 *
 * The function node writes {k: key, p: input partition, o: input offset, i: instance} as the
 * output value, keyed by the input key, so the checker knows which input record (and which
 * Node-RED instance) produced each output record. It throws the first time it sees a key
 * whose number is 37 mod 100 (1% of the keys), remembered in its context: those records go
 * through the Catch node and the consumer's retry. FAULTS_FAIL_ONCE=off in the Node-RED
 * process's environment turns that off (the soak bench: the remembered keys would grow its heap).
 * FAULTS_TRANSFORM_DELAY_MS (in the Node-RED process's environment) holds each record that long
 * before it goes on to the publish node (the exactly-once fencing scenario: records stay in flight,
 * so the instance always has a transaction open with outputs in it).
 */

const TRANSFORM = `const key = String(msg.key);
const n = Number(key.slice(key.lastIndexOf('-') + 1));
if (n % 100 === 37 && env.get('FAULTS_FAIL_ONCE') !== 'off') {
    const failed = context.get('failed') || {};
    if (!failed[key]) {
        failed[key] = true;
        context.set('failed', failed);
        throw new Error('first attempt at ' + key + ' fails on purpose');
    }
}
const delay = Number(env.get('FAULTS_TRANSFORM_DELAY_MS') || 0);
if (delay > 0) {
    setTimeout(() => {
        msg.payload = JSON.stringify({ k: key, p: msg.attribute.partition, o: msg.attribute.offset, i: env.get('FAULTS_INSTANCE'), t: Date.now() });
        node.send(msg);
        node.done();
    }, delay);
    return null;
}
msg.payload = JSON.stringify({ k: key, p: msg.attribute.partition, o: msg.attribute.offset, i: env.get('FAULTS_INSTANCE'), t: Date.now() });
return msg;`;

/**
 * opts: bootstrap, group, input, output; optional consumerCount (1), maxInFlight (100),
 * sessionTimeout (10000), heartbeatInterval (3000), retryBackoff (1000), commitInterval (1000),
 * consumerName, transformName, isolationLevel, ackMode ('flow'; 'eos': exactly once),
 * txnMaxRecords (2000), txnMaxMs (1000).
 */
function buildFlow(opts) {
    const o = {
        consumerCount: 1, maxInFlight: 100, sessionTimeout: 10000, heartbeatInterval: 3000,
        retryBackoff: 1000, commitInterval: 1000, consumerName: 'in', transformName: 'transform', ackMode: 'flow',
        txnMaxRecords: 2000, txnMaxMs: 1000, isolationLevel: 'uncommitted', ...opts,
    };
    const tab = 'faults-tab';
    return [
        { id: tab, type: 'tab', label: 'faults', disabled: false, info: '' },
        {
            id: 'cfg', type: 'kafka-config', name: 'cluster', brokers: o.bootstrap, kafkaVersion: '3.9',
            clientId: 'node-red-faults', saslMode: 'none', scramMechanism: 'sha-256', useTls: false, tls: '',
            connectionTimeout: 3000, ackMode: o.ackMode, isolationLevel: o.isolationLevel, retryBackoff: o.retryBackoff,
            requestTimeout: 30000, sessionTimeout: o.sessionTimeout, heartbeatInterval: o.heartbeatInterval,
            rebalanceTimeout: 60000, rebalanceStrategy: 'range', rebalanceMaxRetries: 4, rebalanceRetryBackoff: 2000,
            fetchMinBytes: 1, fetchDefaultBytes: 1048576, fetchMaxMB: 0, fetchMaxWait: 250,
            commitInterval: o.commitInterval, initialOffset: 'oldest', offsetRetention: 0, maxMessageBytes: 1000000,
            requiredAcks: 'all', producerRequestTimeout: 10000, idempotent: false,
            flushBytes: 0, flushMessages: 0, flushFrequency: 0, flushMaxMessages: 0, compression: 'none',
            txnMaxRecords: o.txnMaxRecords, txnMaxMs: o.txnMaxMs,
        },
        {
            id: 'consume', type: 'kafka-consumer', z: tab, name: o.consumerName, config: 'cfg', group: o.group,
            topics: o.input, consumerCount: o.consumerCount, format: 'string', maxInFlight: o.maxInFlight,
            maxAttempts: 0, afterMaxAttempts: 'dlq', deadLetterTopic: '', ackTimeout: 0,
            x: 120, y: 100, wires: [['transform']],
        },
        {
            id: 'transform', type: 'function', z: tab, name: o.transformName, func: TRANSFORM, outputs: 1,
            timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], x: 300, y: 100, wires: [['publish']],
        },
        {
            id: 'publish', type: 'kafka-publish', z: tab, name: 'out', config: 'cfg', topic: o.output,
            partition: '', key: '', headers: '', x: 480, y: 100, wires: [[]],
        },
        {
            id: 'written', type: 'complete', z: tab, name: 'written', scope: ['publish'], uncaught: false,
            x: 120, y: 200, wires: [['consume']],
        },
        {
            id: 'failed', type: 'catch', z: tab, name: 'transform or publish failed', scope: ['transform', 'publish'],
            uncaught: false, x: 140, y: 260, wires: [['consume']],
        },
    ];
}

module.exports = { buildFlow, TRANSFORM };
