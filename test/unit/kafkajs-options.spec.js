'use strict';
const assert = require('assert');
const { readSettings } = require('../../nodes/lib/settings');
const {
    clientConfig, consumerConfig, producerConfig, saslOptions, acksValue, compressionCode, nodeLogLevel, UNLIMITED_FETCH_BYTES,
} = require('../../nodes/lib/kafkajs-options');

function settings(raw = {}, creds = {}) {
    const r = readSettings({ brokers: 'a:1,b:2', ...raw }, creds);
    assert.deepStrictEqual(r.problems, []);
    return r.settings;
}

describe('kafkajs-options: client', function () {
    it('maps the connection with explicit timeouts and no TLS', function () {
        const s = settings({ clientId: 'x', connectionTimeout: 4000, requestTimeout: 12000 });
        const c = clientConfig(s.connection, s.consumer, null);
        assert.deepStrictEqual(c.brokers, ['a:1', 'b:2']);
        assert.strictEqual(c.clientId, 'x');
        assert.strictEqual(c.ssl, false);
        assert.strictEqual(c.sasl, undefined);
        assert.strictEqual(c.connectionTimeout, 4000);
        assert.strictEqual(c.authenticationTimeout, 4000);
        assert.strictEqual(c.requestTimeout, 12000);
        assert.strictEqual(c.enforceRequestTimeout, true);
    });
    it('TLS on uses the tls-config options, or the system CAs without one', function () {
        const s = settings({ useTls: true });
        const opts = { ca: 'CA', rejectUnauthorized: true };
        assert.strictEqual(clientConfig(s.connection, s.consumer, opts).ssl, opts);
        assert.strictEqual(clientConfig(s.connection, s.consumer, null).ssl, true);
    });
    const sasl = [
        [{ saslMode: 'none' }, undefined],
        [{ saslMode: 'plain' }, { mechanism: 'plain', username: 'u', password: 'p' }],
        [{ saslMode: 'scram', scramMechanism: 'sha-256' }, { mechanism: 'scram-sha-256', username: 'u', password: 'p' }],
        [{ saslMode: 'scram', scramMechanism: 'sha-512' }, { mechanism: 'scram-sha-512', username: 'u', password: 'p' }],
    ];
    for (const [raw, expected] of sasl) {
        it(`SASL ${JSON.stringify(raw)}`, function () {
            const s = settings(raw, { username: 'u', password: 'p' });
            assert.deepStrictEqual(saslOptions(s.connection), expected);
            assert.deepStrictEqual(clientConfig(s.connection, s.consumer, null).sasl, expected);
        });
    }
    it('checks the cluster with a short retry: the config node retries with the backoff itself', function () {
        const s = settings({ retryBackoff: 0 });
        assert.deepStrictEqual(clientConfig(s.connection, s.consumer, null).retry, { initialRetryTime: 300, maxRetryTime: 2000, retries: 2 });
    });
});

describe('kafkajs-options: consumer', function () {
    it('sets every manual default explicitly, including those kafkajs has otherwise', function () {
        const c = consumerConfig('g', settings().consumer);
        assert.deepStrictEqual(c, {
            groupId: 'g',
            sessionTimeout: 10000, // kafkajs: 30000
            heartbeatInterval: 3000,
            rebalanceTimeout: 60000,
            minBytes: 1,
            maxBytesPerPartition: 1048576,
            maxBytes: UNLIMITED_FETCH_BYTES, // manual: 0 = unlimited; kafkajs: 10 MB
            maxWaitTimeInMs: 250, // kafkajs: 5000
            readUncommitted: true, // kafkajs: read committed
            allowAutoTopicCreation: false,
            retry: { retries: 4, initialRetryTime: 2000, maxRetryTime: 2000, factor: 0, multiplier: 1 },
        });
    });
    const cases = [
        [{ fetchMaxMB: 3 }, 'maxBytes', 3 * 1048576],
        [{ isolationLevel: 'committed' }, 'readUncommitted', false],
        [{ sessionTimeout: 45000 }, 'sessionTimeout', 45000],
        [{ heartbeatInterval: 500 }, 'heartbeatInterval', 500],
        [{ rebalanceTimeout: 1234 }, 'rebalanceTimeout', 1234],
        [{ fetchMinBytes: 64 }, 'minBytes', 64],
        [{ fetchDefaultBytes: 4096 }, 'maxBytesPerPartition', 4096],
        [{ fetchMaxWait: 10 }, 'maxWaitTimeInMs', 10],
        [{ rebalanceMaxRetries: 9 }, 'retry', { retries: 9, initialRetryTime: 2000, maxRetryTime: 2000, factor: 0, multiplier: 1 }],
        [{ rebalanceRetryBackoff: 300 }, 'retry', { retries: 4, initialRetryTime: 300, maxRetryTime: 300, factor: 0, multiplier: 1 }],
    ];
    for (const [raw, key, expected] of cases) {
        it(`${JSON.stringify(raw)} -> ${key}`, function () {
            assert.deepStrictEqual(consumerConfig('g', settings(raw).consumer)[key], expected);
        });
    }
});

describe('kafkajs-options: producer', function () {
    it('defaults', function () {
        const p = producerConfig(settings().producer);
        assert.strictEqual(p.idempotent, false);
        assert.strictEqual(p.maxInFlightRequests, undefined);
    });
    it('idempotent keeps one request in flight', function () {
        const p = producerConfig(settings({ idempotent: true, requiredAcks: 'all' }).producer);
        assert.strictEqual(p.idempotent, true);
        assert.strictEqual(p.maxInFlightRequests, 1);
    });
    const acks = [['none', 0], ['leader', 1], ['all', -1]];
    for (const [name, value] of acks) {
        it(`acks ${name} -> ${value}`, function () { assert.strictEqual(acksValue(name), value); });
    }
    const codecs = [['none', 0], ['gzip', 1], ['snappy', 2], ['lz4', 3], ['zstd', 4]];
    for (const [name, value] of codecs) {
        it(`compression ${name} -> ${value}`, function () { assert.strictEqual(compressionCode(name), value); });
    }
});

describe('kafkajs-options: log levels', function () {
    const cases = [[1, 'warn'], [2, 'warn'], [4, 'debug'], [5, 'trace']];
    for (const [level, expected] of cases) {
        it(`kafkajs level ${level} -> ${expected}`, function () { assert.strictEqual(nodeLogLevel(level), expected); });
    }
    // What kafkajs logs through an outage it retries itself goes to debug: the nodes
    // log the outage once, with its cause, and once when it ends.
    const chatter = [
        [1, '[kafkajs Connection] Connection error: connect ECONNREFUSED 127.0.0.1:9092 {"broker":"127.0.0.1:9092"}'],
        [1, '[kafkajs BrokerPool] Failed to connect to seed broker, trying another broker from the list: Connection error: connect ECONNREFUSED 127.0.0.1:9092'],
        [1, '[kafkajs Consumer] Crash: KafkaJSNumberOfRetriesExceeded: Connection error: connect ECONNREFUSED 127.0.0.1:9092'],
        [1, '[kafkajs Consumer] Crash: KafkaJSNonRetriableError: Connection error: connect ECONNREFUSED 127.0.0.1:9092'],
        [1, '[kafkajs Connection] Connection timeout {"broker":"10.0.0.1:9092"}'],
        [2, '[kafkajs Connection] Kafka server has closed connection'],
        [1, '[kafkajs Connection] Response Metadata(key: 3, version: 6) {"error":"This server does not host this topic-partition","type":"UNKNOWN_TOPIC_OR_PARTITION"}'],
        [1, '[kafkajs Connection] Response GroupCoordinator(key: 10, version: 2) {"error":"The group coordinator is not available","type":"GROUP_COORDINATOR_NOT_AVAILABLE"}'],
        [1, '[kafkajs Connection] Request Fetch(key: 1, version: 11) timed out'],
        [1, '[kafkajs Producer] Failed to send messages: There is no leader for this topic-partition as we are in the middle of a leadership election {"retryCount":1}'],
        [2, '[kafkajs Runner] The group is rebalancing, re-joining'],
        [1, '[kafkajs Connection] Connection error: read ECONNRESET'],
        [2, '[kafkajs Connection] Response Produce(key: 0, version: 7) {"error":"Messages are rejected since there are fewer in-sync replicas than required","correlationId":520}'],
        [2, '[kafkajs Producer] Failed to send messages: Messages are rejected since there are fewer in-sync replicas than required {"retryCount":0,"retryTime":338}'],
    ];
    for (const [level, line] of chatter) {
        it(`outage chatter goes to debug: ${line.slice(0, 70)}`, function () { assert.strictEqual(nodeLogLevel(level, line), 'debug'); });
    }
    // What a person has to act on stays a warning.
    const actionable = [
        [1, '[kafkajs Connection] Response SaslAuthenticate(key: 36, version: 1) {"error":"Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"}'],
        [1, '[kafkajs Connection] Response Produce(key: 0, version: 7) {"error":"The request included a message larger than the max message size the server will accept","type":"MESSAGE_TOO_LARGE"}'],
        [1, '[kafkajs Connection] Response Metadata(key: 3, version: 6) {"error":"Not authorized to access topics: [Topic authorization failed.]","type":"TOPIC_AUTHORIZATION_FAILED"}'],
        [2, '[kafkajs Producer] KafkaJS v2.0.0 switched default partitioner.'],
        [2, '[kafkajs Consumer] Your Kafka version does not support consumer groups'],
    ];
    for (const [level, line] of actionable) {
        it(`actionable stays a warning: ${line.slice(0, 70)}`, function () { assert.strictEqual(nodeLogLevel(level, line), 'warn'); });
    }
});
