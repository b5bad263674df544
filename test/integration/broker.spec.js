'use strict';
/* Proves the broker harness: every listener answers, credentials and certificates are checked. */
const assert = require('assert');
const fs = require('fs');
const { Kafka, logLevel } = require('kafkajs');
const env = require('./kafka-env');

function kafka(broker, options = {}) {
    return new Kafka({
        clientId: 'harness-spec',
        brokers: [broker],
        logLevel: logLevel.NOTHING,
        connectionTimeout: 10000,
        retry: { retries: 2, initialRetryTime: 200 },
        ...options,
    });
}

async function listTopics(broker, options) {
    const admin = kafka(broker, options).admin();
    await admin.connect();
    try {
        const topics = await admin.listTopics();
        assert.ok(Array.isArray(topics));
        return topics;
    } finally {
        await admin.disconnect();
    }
}

async function assertRejected(broker, options, pattern) {
    await assert.rejects(listTopics(broker, { ...options, retry: { retries: 0 } }), pattern);
}

function sasl(user) {
    return { mechanism: user.mechanism, username: user.username, password: user.password };
}

describe('kafka broker harness', function () {
    it('answers on the PLAINTEXT listener', async function () {
        await listTopics(env.info().plaintext);
    });

    describe('secured listeners', function () {
        before(function () {
            // An external cluster (KAFKA_BROKERS) is only known to have a plaintext listener.
            if (env.info().external) this.skip();
        });

        const tls = () => env.info().tls;
        const ca = () => [fs.readFileSync(tls().ca)];

        it('SASL_PLAINTEXT with PLAIN', async function () {
            const i = env.info();
            await listTopics(i.saslPlaintext, { sasl: sasl(i.users.plain) });
        });

        it('SASL_PLAINTEXT with SCRAM-SHA-256', async function () {
            const i = env.info();
            await listTopics(i.saslPlaintext, { sasl: sasl(i.users.scram256) });
        });

        it('SASL_PLAINTEXT with SCRAM-SHA-512', async function () {
            const i = env.info();
            await listTopics(i.saslPlaintext, { sasl: sasl(i.users.scram512) });
        });

        it('SSL, verifying the broker against the CA', async function () {
            await listTopics(env.info().ssl, { ssl: { ca: ca() } });
        });

        it('MTLS with a client certificate', async function () {
            const t = tls();
            await listTopics(env.info().mtls, {
                ssl: { ca: ca(), cert: fs.readFileSync(t.clientCert), key: fs.readFileSync(t.clientKey) },
            });
        });

        it('SASL_SSL with SCRAM-SHA-512', async function () {
            const i = env.info();
            await listTopics(i.saslSsl, { ssl: { ca: ca() }, sasl: sasl(i.users.scram512) });
        });

        it('rejects a wrong password (PLAIN and SCRAM)', async function () {
            const i = env.info();
            await assertRejected(i.saslPlaintext, { sasl: { ...sasl(i.users.plain), password: 'wrong' } }, /authentication failed/i);
            await assertRejected(i.saslPlaintext, { sasl: { ...sasl(i.users.scram256), password: 'wrong' } }, /authentication failed/i);
        });

        it('rejects a broker certificate from another CA', async function () {
            await assertRejected(env.info().ssl, { ssl: { ca: [fs.readFileSync(tls().wrongCa)] } }, /certificate/i);
        });

        it('rejects an MTLS client without a certificate', async function () {
            // TLS 1.3: the handshake completes, then the broker sends a "bad certificate" alert and closes.
            await assertRejected(env.info().mtls, { ssl: { ca: ca() } }, /certificate|alert|closed/i);
        });
    });

    describe('restart', function () {
        before(function () {
            // Only a broker started by this harness can be stopped and started again.
            if (env.info().external) this.skip();
        });

        it('comes back on the same address with its data', async function () {
            this.timeout(150000);
            const before = env.info();
            const topic = `harness-restart-${Date.now()}`;
            const admin = kafka(before.plaintext).admin();
            await admin.connect();
            await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
            await admin.disconnect();

            await env.broker().stop();
            await assert.rejects(listTopics(before.plaintext, { retry: { retries: 0 }, connectionTimeout: 1000 }));
            await env.broker().start();

            const after = env.info();
            assert.strictEqual(after.plaintext, before.plaintext);
            assert.strictEqual(after.saslSsl, before.saslSsl);
            assert.ok((await listTopics(after.plaintext)).includes(topic));
        });
    });
});
