'use strict';
/*
 * kafka-config against the real broker: every listener connects; bad passwords,
 * unreachable brokers, wrong CAs and invalid settings give a clear error and a red
 * status without hurting the runtime; users share one connection and partial
 * redeploys leak none.
 */
const assert = require('assert');
const net = require('net');
const { helper, env, configFor, waitFor, nodeModules, unloadAndCheckRejections, lastStatus } = require('./support');

/** A minimal user of a kafka-config node: registers on start, deregisters on close. */
function probeNode(RED) {
    function KafkaProbe(n) {
        RED.nodes.createNode(this, n);
        this.config = RED.nodes.getNode(n.config);
        this.config.register(this);
        this.on('close', (removed, done) => {
            this.config.deregister(this, removed).then(() => done(), done);
        });
    }
    RED.nodes.registerType('kafka-probe', KafkaProbe);
}

const NODES = [...nodeModules('kafka-config', 'tls-config'), probeNode];

function flowWith(listener, extra = {}, probes = ['p1']) {
    const { nodes, credentials } = configFor(listener, 'cfg', extra);
    const flow = [{ id: 'f1', type: 'tab' }, ...nodes.map((n) => ({ ...n }))];
    for (const id of probes) flow.push({ id, z: 'f1', type: 'kafka-probe', config: 'cfg' });
    return { flow, credentials };
}

function errorsLogged() {
    return helper.log().args.filter((a) => a[0].level === helper.log().ERROR).map((a) => String(a[0].msg));
}

/** The config node's own lines at one level (kafkajs's lines, which start "[kafkajs", left out). */
function ownLines(level) {
    return helper.log().args.filter((a) => a[0].level === level && a[0].id === 'cfg' && !String(a[0].msg).startsWith('[kafkajs '))
        .map((a) => String(a[0].msg));
}

/** Open client sockets of this process to a port: the real connection count. */
function socketsTo(port) {
    return process._getActiveHandles()
        .filter((h) => h instanceof net.Socket && h.remotePort === port && !h.destroyed).length;
}

const portOf = (address) => Number(address.split(':').pop());

describe('kafka-config (real broker)', function () {
    this.timeout(60000);
    unloadAndCheckRejections();

    const listeners = ['plaintext', 'plain', 'scram256', 'scram512', 'ssl', 'mtls', 'scram-ssl'];
    for (const listener of listeners) {
        it(`connects through the ${listener} listener`, async function () {
            if (env.info().external && listener !== 'plaintext') this.skip(); // an external cluster offers plaintext only
            const { flow, credentials } = flowWith(listener);
            await helper.load(NODES, flow, credentials);
            const cfg = helper.getNode('cfg');
            const probe = helper.getNode('p1');
            await waitFor(() => cfg.state === 'connected', `${listener} to connect (state ${cfg.state})`);
            assert.ok(cfg.clusterInfo.brokers.length >= 1);
            assert.strictEqual(lastStatus(probe).fill, 'green');
        });
    }

    it('keeps the password out of the flow and in the credentials', async function () {
        const { flow, credentials } = flowWith('scram512');
        assert.ok(!JSON.stringify(flow).includes(env.info().users.scram512.password));
        await helper.load(NODES, flow, credentials);
        await waitFor(() => helper.getNode('cfg').state === 'connected', 'connected');
    });

    const failures = [
        ['a wrong password', () => ({ listener: 'scram512', credentials: { username: env.info().users.scram512.username, password: 'wrong' } }), /refused the credentials/],
        ['an unreachable broker', () => ({ listener: 'plaintext', extra: { brokers: `127.0.0.1:${unusedPort}` } }), /Is your cluster reachable/],
        ['a wrong CA', () => ({ listener: 'ssl', wrongCa: true }), /TLS handshake/],
    ];
    let unusedPort;
    before(async function () {
        unusedPort = await new Promise((resolve) => {
            const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
        });
    });
    for (const [name, make, pattern] of failures) {
        it(`reports ${name} with a clear error and a red status, and keeps retrying`, async function () {
            if (env.info().external && name !== 'an unreachable broker') this.skip(); // an external cluster offers plaintext only
            const c = make();
            const { flow, credentials } = flowWith(c.listener, { retryBackoff: 200, ...(c.extra || {}) });
            if (c.credentials) credentials.cfg = c.credentials;
            if (c.wrongCa) flow.find((n) => n.type === 'tls-config').ca = env.info().tls.wrongCa;
            await helper.load(NODES, flow, credentials);
            const cfg = helper.getNode('cfg');
            await waitFor(() => errorsLogged().some((m) => pattern.test(m)), `an error matching ${pattern}; got ${errorsLogged()}`);
            assert.strictEqual(cfg.state, 'retrying');
            const status = lastStatus(helper.getNode('p1'));
            assert.strictEqual(status.fill, 'red');
            assert.match(status.text, pattern);
            // It tries again by itself, with the backoff: more than one attempt, far fewer than a
            // tight loop. One error for the episode; each further attempt is a debug line.
            await waitFor(() => ownLines(helper.log().DEBUG).filter((m) => /Still cannot connect/.test(m) && pattern.test(m)).length >= 1, 'a second attempt', 20000);
            assert.ok(ownLines(helper.log().DEBUG).filter((m) => pattern.test(m)).length < 20);
            assert.strictEqual(errorsLogged().filter((m) => pattern.test(m)).length, 1, 'one error for the whole episode');
            // kafkajs's retry chatter is not a warning
            const kafkajsWarnings = helper.log().args.filter((a) => a[0].level === helper.log().WARN && String(a[0].msg).startsWith('[kafkajs '));
            assert.deepStrictEqual(kafkajsWarnings.map((a) => String(a[0].msg)).filter((m) => /ECONNREFUSED|Connection error|seed broker/.test(m)), []);
            // kafkajs's own log lines land in Node-RED's log, not on the console
            const logged = helper.log().args.map((a) => a[0]).filter((e) => String(e.msg).startsWith('[kafkajs '));
            assert.ok(logged.length > 0, 'kafkajs log lines in the Node-RED log');
            assert.ok(logged.every((e) => e.id === 'cfg'), 'logged by the config node');
        });
    }

    const invalid = [
        ['an empty broker list', { brokers: '' }, {}, /broker/],
        ['a malformed broker list', { brokers: 'kafka-without-port' }, {}, /host:port/],
        ['heartbeat not below session timeout', { heartbeatInterval: 10000, sessionTimeout: 10000 }, {}, /heartbeat/],
        ['idempotence without acks All', { idempotent: true, requiredAcks: 'leader' }, {}, /idempotent/],
        ['SASL without a password', { saslMode: 'plain' }, { cfg: { username: 'alice' } }, /sasl/],
    ];
    for (const [name, extra, creds, pattern] of invalid) {
        it(`refuses ${name} at deploy with a red status, and the runtime runs on`, async function () {
            const { flow } = flowWith('plaintext', extra);
            await helper.load(NODES, flow, creds);
            const cfg = helper.getNode('cfg');
            assert.strictEqual(cfg.state, 'invalid');
            assert.strictEqual(cfg.client, null);
            assert.ok(errorsLogged().some((m) => /invalid/i.test(m) && pattern.test(m.toLowerCase()) || pattern.test(m)), errorsLogged().join('\n'));
            const status = lastStatus(helper.getNode('p1'));
            assert.deepStrictEqual([status.fill, status.shape], ['red', 'dot']);
            await assert.rejects(cfg.whenConnected(), /invalid/i);
        });
    }

    it('refuses TLS switched on with an unusable certificate', async function () {
        const { flow, credentials } = flowWith('mtls');
        const tls = flow.find((n) => n.type === 'tls-config');
        tls.cert = env.info().tls.clientKey; // a key where the certificate belongs
        await helper.load(NODES, flow, credentials);
        const cfg = helper.getNode('cfg');
        assert.strictEqual(cfg.state, 'invalid');
        assert.deepStrictEqual(cfg.problems.map((p) => p.key), ['tls-unusable']);
        assert.strictEqual(lastStatus(helper.getNode('p1')).fill, 'red');
    });

    it('shares one connection between two users and fans the status out to both', async function () {
        const { flow, credentials } = flowWith('plaintext', {}, ['p1', 'p2']);
        const port = portOf(env.info().plaintext);
        const before = socketsTo(port);
        await helper.load(NODES, flow, credentials);
        const cfg = helper.getNode('cfg');
        await waitFor(() => cfg.state === 'connected', 'connected');
        assert.strictEqual(lastStatus(helper.getNode('p1')).fill, 'green');
        assert.strictEqual(lastStatus(helper.getNode('p2')).fill, 'green');
        assert.strictEqual(socketsTo(port) - before, 1, 'one socket to the broker');
    });

    it('leaks no connection over partial redeploys, and disconnects when the last user is removed', async function () {
        const { flow, credentials } = flowWith('plaintext', {}, ['p1', 'p2']);
        const port = portOf(env.info().plaintext);
        const before = socketsTo(port);
        await helper.load(NODES, flow, credentials);
        const cfg = helper.getNode('cfg');
        await waitFor(() => cfg.state === 'connected', 'connected');
        for (let i = 0; i < 5; i++) {
            // modify one user: Node-RED restarts only that node
            const changed = flow.map((n) => (n.id === 'p2' ? { ...n, name: `round ${i}` } : n));
            await helper.setFlows(changed, 'nodes', credentials);
            await waitFor(() => helper.getNode('cfg').state === 'connected', 'still connected');
        }
        assert.strictEqual(helper.getNode('cfg'), cfg, 'the config node was not restarted');
        assert.strictEqual(socketsTo(port) - before, 1, 'still one socket');
        // remove both users: the config node disconnects
        await helper.setFlows(flow.filter((n) => n.type !== 'kafka-probe'), 'nodes', credentials);
        await waitFor(() => socketsTo(port) - before === 0, 'the socket to close');
        assert.strictEqual(cfg.state, 'idle');
        // a new user connects it again
        await helper.setFlows(flow, 'nodes', credentials);
        await waitFor(() => cfg.state === 'connected' && socketsTo(port) - before === 1, 'reconnected with one socket');
    });

    it('closes within the budget when the flow stops, even while retrying', async function () {
        const { flow, credentials } = flowWith('plaintext', { brokers: `127.0.0.1:${unusedPort}` });
        await helper.load(NODES, flow, credentials);
        await waitFor(() => helper.getNode('cfg').state === 'retrying', 'retrying');
        const start = Date.now();
        await helper.unload();
        assert.ok(Date.now() - start < 6000, `closed in ${Date.now() - start} ms`);
    });
});
