'use strict';
const assert = require('assert');
const {
    readSettings, parseBrokers, compareVersions, CONSUMER_DEFAULTS, PRODUCER_DEFAULTS, CONNECTION_DEFAULTS,
    supportsHeaders, offsetRetentionHonoured,
} = require('../../nodes/lib/settings');

const valid = { brokers: '127.0.0.1:9092' };
const keys = (problems) => problems.map((p) => p.key);

describe('settings: parseBrokers', function () {
    const cases = [
        ['a:1', ['a:1'], undefined],
        ['kafka-1.example.com:9092, 10.0.0.2:9093', ['kafka-1.example.com:9092', '10.0.0.2:9093'], undefined],
        ['[::1]:9092', ['[::1]:9092'], undefined],
        ['', [], 'brokers-empty'],
        [' , ', [], 'brokers-empty'],
        [undefined, [], 'brokers-empty'],
        ['localhost', ['localhost'], 'broker-malformed'],
        ['host:0', ['host:0'], 'broker-malformed'],
        ['host:70000', ['host:70000'], 'broker-malformed'],
        ['a:1,b', ['a:1', 'b'], 'broker-malformed'],
        ['http://a:1', ['http://a:1'], 'broker-malformed'],
    ];
    for (const [input, brokers, problem] of cases) {
        it(`${JSON.stringify(input)} -> ${problem || 'ok'}`, function () {
            const r = parseBrokers(input);
            assert.deepStrictEqual(r.brokers, brokers);
            assert.strictEqual(r.problem && r.problem.key, problem);
        });
    }
});

describe('settings: readSettings defaults', function () {
    it('applies the manual\'s defaults to an otherwise empty node', function () {
        const { settings, problems } = readSettings(valid);
        assert.deepStrictEqual(problems, []);
        assert.deepStrictEqual(settings.consumer, { ...CONSUMER_DEFAULTS });
        assert.deepStrictEqual(settings.producer, { ...PRODUCER_DEFAULTS });
        assert.strictEqual(settings.connection.kafkaVersion, '1.1');
        assert.strictEqual(settings.connection.saslMode, 'none');
        assert.strictEqual(settings.connection.useTls, false);
        assert.strictEqual(settings.connection.clientId, CONNECTION_DEFAULTS.clientId);
        assert.strictEqual(settings.connection.connectionTimeout, 10000);
    });

    it('has the manual\'s default values', function () {
        assert.deepStrictEqual(
            [CONSUMER_DEFAULTS.ackMode, CONSUMER_DEFAULTS.isolationLevel, CONSUMER_DEFAULTS.retryBackoff,
                CONSUMER_DEFAULTS.requestTimeout, CONSUMER_DEFAULTS.sessionTimeout, CONSUMER_DEFAULTS.heartbeatInterval,
                CONSUMER_DEFAULTS.rebalanceTimeout, CONSUMER_DEFAULTS.rebalanceStrategy, CONSUMER_DEFAULTS.rebalanceMaxRetries,
                CONSUMER_DEFAULTS.rebalanceRetryBackoff, CONSUMER_DEFAULTS.fetchMinBytes, CONSUMER_DEFAULTS.fetchDefaultBytes,
                CONSUMER_DEFAULTS.fetchMaxMB, CONSUMER_DEFAULTS.fetchMaxWait, CONSUMER_DEFAULTS.commitInterval,
                CONSUMER_DEFAULTS.initialOffset, CONSUMER_DEFAULTS.offsetRetention],
            ['flow', 'uncommitted', 2000, 30000, 10000, 3000, 60000, 'range', 4, 2000, 1, 1048576, 0, 250, 1000, 'newest', 0]);
        assert.deepStrictEqual(
            [PRODUCER_DEFAULTS.maxMessageBytes, PRODUCER_DEFAULTS.requiredAcks, PRODUCER_DEFAULTS.requestTimeout,
                PRODUCER_DEFAULTS.idempotent, PRODUCER_DEFAULTS.flushBytes, PRODUCER_DEFAULTS.flushMessages,
                PRODUCER_DEFAULTS.flushFrequency, PRODUCER_DEFAULTS.flushMaxMessages],
            [1000000, 'leader', 10000, false, 0, 0, 0, 0]);
    });
});

describe('settings: readSettings reads every field', function () {
    // field as stored by the editor, value, where it lands, expected typed value
    const cases = [
        ['kafkaVersion', '3.9', (s) => s.connection.kafkaVersion, '3.9'],
        ['clientId', 'my-app', (s) => s.connection.clientId, 'my-app'],
        ['saslMode', 'plain', (s) => s.connection.saslMode, 'plain'],
        ['scramMechanism', 'sha-512', (s) => s.connection.scramMechanism, 'sha-512'],
        ['useTls', true, (s) => s.connection.useTls, true],
        ['useTls', 'true', (s) => s.connection.useTls, true],
        ['connectionTimeout', '2500', (s) => s.connection.connectionTimeout, 2500],
        ['ackMode', 'immediate', (s) => s.consumer.ackMode, 'immediate'],
        ['isolationLevel', 'committed', (s) => s.consumer.isolationLevel, 'committed'],
        ['retryBackoff', '500', (s) => s.consumer.retryBackoff, 500],
        ['requestTimeout', 15000, (s) => s.consumer.requestTimeout, 15000],
        ['sessionTimeout', '20000', (s) => s.consumer.sessionTimeout, 20000],
        ['heartbeatInterval', '1000', (s) => s.consumer.heartbeatInterval, 1000],
        ['rebalanceTimeout', '30000', (s) => s.consumer.rebalanceTimeout, 30000],
        ['rebalanceStrategy', 'roundrobin', (s) => s.consumer.rebalanceStrategy, 'roundrobin'],
        ['rebalanceMaxRetries', '7', (s) => s.consumer.rebalanceMaxRetries, 7],
        ['rebalanceRetryBackoff', '100', (s) => s.consumer.rebalanceRetryBackoff, 100],
        ['fetchMinBytes', '10', (s) => s.consumer.fetchMinBytes, 10],
        ['fetchDefaultBytes', '2048', (s) => s.consumer.fetchDefaultBytes, 2048],
        ['fetchMaxMB', '5', (s) => s.consumer.fetchMaxMB, 5],
        ['fetchMaxWait', '100', (s) => s.consumer.fetchMaxWait, 100],
        ['commitInterval', '5000', (s) => s.consumer.commitInterval, 5000],
        ['initialOffset', 'oldest', (s) => s.consumer.initialOffset, 'oldest'],
        ['offsetRetention', '3600', (s) => s.consumer.offsetRetention, 3600],
        ['maxMessageBytes', '2000', (s) => s.producer.maxMessageBytes, 2000],
        ['requiredAcks', 'none', (s) => s.producer.requiredAcks, 'none'],
        ['producerRequestTimeout', '5000', (s) => s.producer.requestTimeout, 5000],
        ['flushBytes', '65536', (s) => s.producer.flushBytes, 65536],
        ['flushMessages', '100', (s) => s.producer.flushMessages, 100],
        ['flushFrequency', '50', (s) => s.producer.flushFrequency, 50],
        ['flushMaxMessages', '500', (s) => s.producer.flushMaxMessages, 500],
        ['compression', 'gzip', (s) => s.producer.compression, 'gzip'],
    ];
    for (const [field, value, get, expected] of cases) {
        it(`${field}=${JSON.stringify(value)}`, function () {
            const raw = { ...valid, [field]: value };
            const creds = field === 'saslMode' ? { username: 'u', password: 'p' } : {};
            const { settings, problems } = readSettings(raw, creds);
            assert.deepStrictEqual(problems, []);
            assert.deepStrictEqual(get(settings), expected);
        });
    }
    it('idempotent with acks all', function () {
        const { settings, problems } = readSettings({ ...valid, idempotent: true, requiredAcks: 'all' });
        assert.deepStrictEqual(problems, []);
        assert.strictEqual(settings.producer.idempotent, true);
    });
    it('credentials', function () {
        const { settings } = readSettings({ ...valid, saslMode: 'scram' }, { username: 'u', password: 'p' });
        assert.strictEqual(settings.connection.username, 'u');
        assert.strictEqual(settings.connection.password, 'p');
    });
});

describe('settings: readSettings problems', function () {
    const cases = [
        ['no brokers', {}, {}, ['brokers-empty']],
        ['malformed broker', { brokers: 'kafka' }, {}, ['broker-malformed']],
        ['SASL without credentials', { ...valid, saslMode: 'plain' }, {}, ['sasl-credentials']],
        ['SASL without password', { ...valid, saslMode: 'scram' }, { username: 'u' }, ['sasl-credentials']],
        ['heartbeat equal to session', { ...valid, heartbeatInterval: 10000 }, {}, ['heartbeat-session']],
        ['heartbeat above session', { ...valid, sessionTimeout: 3000, heartbeatInterval: 5000 }, {}, ['heartbeat-session']],
        ['idempotent with acks leader', { ...valid, idempotent: true }, {}, ['idempotent-acks']],
        ['idempotent with acks none', { ...valid, idempotent: 'true', requiredAcks: 'none' }, {}, ['idempotent-acks']],
        ['max fetch below default', { ...valid, fetchMaxMB: 1, fetchDefaultBytes: 2 * 1048576 }, {}, ['fetch-max-below-default']],
        ['negative number', { ...valid, retryBackoff: '-1' }, {}, ['bad-number']],
        ['fraction', { ...valid, commitInterval: '1.5' }, {}, ['bad-number']],
        ['text for a number', { ...valid, maxMessageBytes: 'big' }, {}, ['bad-number']],
        ['zero session timeout', { ...valid, sessionTimeout: 0, heartbeatInterval: 0 }, {}, ['bad-number', 'bad-number']],
        ['unknown choice', { ...valid, requiredAcks: 'some' }, {}, ['bad-choice']],
        ['unknown SASL mode', { ...valid, saslMode: 'kerberos' }, {}, ['bad-choice']],
        ['malformed version', { ...valid, kafkaVersion: 'latest' }, {}, ['version-malformed']],
        ['version too old', { ...valid, kafkaVersion: '0.9.0' }, {}, ['version-unsupported']],
        ['idempotence before 0.11', { ...valid, kafkaVersion: '0.10.2', idempotent: true, requiredAcks: 'all' }, {}, ['version-feature']],
        ['read committed before 0.11', { ...valid, kafkaVersion: '0.10.2', isolationLevel: 'committed' }, {}, ['version-feature']],
    ];
    for (const [name, raw, creds, expected] of cases) {
        it(name, function () {
            assert.deepStrictEqual(keys(readSettings(raw, creds).problems), expected);
        });
    }
});

describe('settings: versions', function () {
    const cases = [
        ['1.1', '1.1', 0], ['0.11', '0.10.2', 1], ['2.8', '3.0', -1], ['3.9', '3.9.0', 0], ['4.0', '3.9', 1], ['0.10.2', '0.11', -1],
    ];
    for (const [a, b, sign] of cases) {
        it(`compareVersions(${a}, ${b}) has sign ${sign}`, function () {
            assert.strictEqual(Math.sign(compareVersions(a, b)), sign);
        });
    }
    it('headers need 0.11; retention is sent before 2.1', function () {
        assert.deepStrictEqual(['0.10.2', '0.11', '2.0', '2.1', '3.9'].map(supportsHeaders), [false, true, true, true, true]);
        assert.deepStrictEqual(['0.10.2', '1.1', '2.0', '2.1', '3.9'].map(offsetRetentionHonoured), [true, true, true, false, false]);
    });
});
