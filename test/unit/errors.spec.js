'use strict';
const assert = require('assert');
const { toMsgError, describeError, rootCause, ParamError, ADVICE, adviceFor, refineAdvice } = require('../../nodes/lib/errors');

const catalog = (lang) => require(`../../nodes/locales/${lang}/kafka-config.json`)['kafka-config'].runtime;
// The English sentences, as the config node's advice() gives them in an en-US editor.
const advice = (a) => catalog('en-US')[a];

function kafkaError(name, message, extra = {}) {
    const e = new Error(message);
    e.name = name;
    return Object.assign(e, extra);
}

describe('errors: msg.error', function () {
    it('ParamError is CORE:PARAM with its own sentence', function () {
        assert.deepStrictEqual(toMsgError(new ParamError('No topic: set one.'), advice), { Code: 'CORE:PARAM', Description: 'No topic: set one.' });
    });
    const cases = [
        ['SASL', kafkaError('KafkaJSSASLAuthenticationError', 'SASL SCRAM SHA512 authentication failed'), /refused the credentials/],
        ['connection', kafkaError('KafkaJSConnectionError', 'Connection error: connect ECONNREFUSED 127.0.0.1:1'), /Is your cluster reachable\?/],
        ['TLS', kafkaError('KafkaJSConnectionError', 'self-signed certificate in certificate chain'), /TLS handshake/],
        ['timeout', kafkaError('KafkaJSRequestTimeoutError', 'Request Produce(key: 0, version: 7) timed out'), /did not answer in time/],
        ['unknown topic', kafkaError('KafkaJSProtocolError', 'This server does not host this topic-partition', { type: 'UNKNOWN_TOPIC_OR_PARTITION' }), /does not exist/],
        ['too large', kafkaError('KafkaJSProtocolError', 'The request included a message larger than the max message size', { type: 'MESSAGE_TOO_LARGE' }), /too large/],
        ['other', new Error('boom'), /Kafka reported an error\. \(boom\)/],
    ];
    for (const [name, err, pattern] of cases) {
        it(`${name} is CORE:RUNTIME with advice and the client's message`, function () {
            const m = toMsgError(err, advice);
            assert.strictEqual(m.Code, 'CORE:RUNTIME');
            assert.match(m.Description, pattern);
            assert.ok(m.Description.includes(err.message), m.Description);
        });
    }
    it('looks through kafkajs retry wrappers to the cause', function () {
        const cause = kafkaError('KafkaJSSASLAuthenticationError', 'authentication failed');
        const wrapped = kafkaError('KafkaJSNumberOfRetriesExceeded', 'retries exceeded', { originalError: cause });
        assert.strictEqual(rootCause(wrapped), cause);
        assert.match(describeError(wrapped, advice), /refused the credentials.*authentication failed/);
    });
    it('copes with non-errors', function () {
        assert.strictEqual(toMsgError('text', advice).Code, 'CORE:RUNTIME');
        assert.strictEqual(toMsgError(undefined, advice).Code, 'CORE:RUNTIME');
    });
    it('every advice has a sentence in en-US and zh-CN, and nothing else is in the catalogs', function () {
        for (const lang of ['en-US', 'zh-CN']) {
            assert.deepStrictEqual(Object.keys(catalog(lang)).sort(), [...ADVICE].sort(), lang);
            for (const a of ADVICE) assert.ok(catalog(lang)[a].length > 5, `${lang} ${a}`);
        }
    });
    it('the sentence is the one of the advice that fits, in the language given', function () {
        const err = kafkaError('KafkaJSSASLAuthenticationError', 'SASL PLAIN authentication failed');
        assert.strictEqual(adviceFor(err), 'auth');
        const zh = catalog('zh-CN');
        assert.strictEqual(describeError(err, (a) => zh[a]), `${zh.auth} (SASL PLAIN authentication failed)`);
    });
});

describe('errors: a partly reachable cluster', function () {
    const refused = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9093'), { name: 'KafkaJSConnectionError' });
    const cases = [
        ['no knowledge of the brokers', undefined, 'unreachable'],
        ['every broker refuses', { up: [], down: ['a:1', 'b:2'] }, 'unreachable'],
        ['nothing known to be down', { up: ['a:1'], down: [] }, 'unreachable'],
        ['one of three refuses, two answer', { up: ['a:1', 'b:2'], down: ['c:3'] }, 'partial'],
    ];
    for (const [name, reach, expected] of cases) {
        it(`a refused connection when ${name}: ${expected}`, function () {
            assert.strictEqual(adviceFor(refused, reach), expected);
        });
    }
    it('only "unreachable" becomes "partial"', function () {
        const reach = { up: ['a:1'], down: ['b:2'] };
        for (const a of ADVICE) assert.strictEqual(refineAdvice(a, reach), a === 'unreachable' ? 'partial' : a);
    });
    it('the partial sentence names the brokers that are down, in both languages', function () {
        for (const lang of ['en-US', 'zh-CN']) {
            const text = catalog(lang).partial;
            assert.ok(text.includes('__down__'), lang);
            assert.ok(!/could not be reached|无法连接/.test(text), `${lang}: not the unreachable sentence`);
        }
    });
});
