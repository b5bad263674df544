'use strict';
// The connect mend (src/client/kafkajs-connect.ts), against kafkajs's own Connection and a
// real local TCP listener: requests that find a connection down share one connect.
const assert = require('assert');
const net = require('net');
const { mendConcurrentConnects } = require('../../nodes/client/kafkajs-connect');
const Connection = require('kafkajs/src/network/connection');
const socketFactory = require('kafkajs/src/network/socketFactory')();

const logger = { namespace: () => logger, info() {}, warn() {}, debug() {}, error() {} };

describe('kafkajs seam: one connect at a time per connection', function () {
    let server;
    let accepted;
    beforeEach(async function () {
        accepted = [];
        server = net.createServer((s) => accepted.push(s));
        await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    afterEach(async function () {
        for (const s of accepted) s.destroy();
        await new Promise((resolve) => server.close(resolve));
    });

    it('is applied once', function () {
        const first = mendConcurrentConnects();
        assert.strictEqual(first.applied, true, first.reason);
        assert.deepStrictEqual(mendConcurrentConnects(), { applied: true, reason: 'already' });
    });

    it('eleven requests finding the connection down open one socket, with no listener piling up on it', async function () {
        const warnings = [];
        const onWarning = (w) => warnings.push(w.name);
        process.on('warning', onWarning);
        const c = new Connection({
            host: '127.0.0.1', port: server.address().port, logger, socketFactory, requestTimeout: 2000, connectionTimeout: 2000,
        });
        try {
            // what kafkajs's connection pool does for each request while the connection is down
            await Promise.all(Array.from({ length: 11 }, () => c.connect()));
            await new Promise((resolve) => setTimeout(resolve, 100));
            assert.strictEqual(accepted.length, 1, `${accepted.length} sockets opened`);
            assert.strictEqual(c.isConnected(), true);
            assert.ok(c.socket.listenerCount('connect') <= 1);
            assert.deepStrictEqual(warnings, []);
            // connected: a later connect() is answered at once, still on the one socket
            await c.connect();
            assert.strictEqual(accepted.length, 1);
        } finally {
            process.off('warning', onWarning);
            await c.disconnect();
        }
    });

    it('a refused connect fails every caller that shared it, and the next connect tries again', async function () {
        const port = server.address().port;
        await new Promise((resolve) => server.close(resolve));
        const c = new Connection({ host: '127.0.0.1', port, logger, socketFactory, requestTimeout: 1000, connectionTimeout: 1000 });
        const results = await Promise.allSettled([c.connect(), c.connect(), c.connect()]);
        assert.deepStrictEqual(results.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
        assert.match(results[0].reason.message, /ECONNREFUSED/);
        server = net.createServer((s) => accepted.push(s));
        await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
        await c.connect();
        assert.strictEqual(accepted.length, 1);
        await c.disconnect();
    });
});

describe('kafkajs seam: a refused socket takes any number of disconnects quietly', function () {
    const { SocketWatch } = require('../../nodes/client/connection-watch');

    it('unref() on a socket whose connect was refused queues nothing (kafkajs calls it at every disconnect)', async function () {
        const closed = net.createServer();
        await new Promise((resolve) => closed.listen(0, '127.0.0.1', resolve));
        const port = closed.address().port;
        await new Promise((resolve) => closed.close(resolve));
        const warnings = [];
        const onWarning = (w) => warnings.push(w.name);
        process.on('warning', onWarning);
        try {
            const socket = new SocketWatch().socketFactory({ host: '127.0.0.1', port, ssl: null, onConnect() {} });
            socket.on('error', () => {});
            await new Promise((resolve) => socket.once('close', resolve));
            const before = socket.listenerCount('connect');
            for (let n = 0; n < 11; n++) {
                socket.end();
                socket.unref();
            }
            await new Promise((resolve) => setImmediate(resolve));
            assert.strictEqual(socket.listenerCount('connect'), before);
            assert.deepStrictEqual(warnings, []);
        } finally {
            process.off('warning', onWarning);
        }
    });
});
