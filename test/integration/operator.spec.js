'use strict';
/*
 * What an operator sees, against the real broker: replay by time and to the end
 * (msg.action = "seek"), the end offset on each record and the lag in the status,
 * and the admin endpoint behind the editor's Kafka sidebar, guarded by adminAuth,
 * agreeing with the cluster's own offsets and carrying no credential.
 */
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const { consumerGroupsDescribe } = require('../../scripts/kafka/tools');
const { helper, env, nodeModules, unique, withProducer, withAdmin, sleep, lastStatus, statusHistory, createTopic, configFor, waitFor, committed } = require('./support');

const NODES = nodeModules('kafka-config', 'kafka-consumer', 'function', 'complete');

function flowFor(topic, group, consumer = {}) {
    const { nodes, credentials } = configFor('plaintext', 'cfg', { commitInterval: 200, retryBackoff: 200, initialOffset: 'oldest' });
    return {
        credentials,
        flow: [
            ...nodes,
            { id: 'c1', type: 'kafka-consumer', config: 'cfg', group, topics: topic, format: 'string', wires: [['w1'], []], ...consumer },
            { id: 'w1', type: 'function', wires: [[]], func: "const got = global.get('got') || []; got.push(msg); global.set('got', got); return msg;" },
            { id: 'done1', type: 'complete', scope: ['w1'], uncaught: false, wires: [['c1']] },
        ],
    };
}
const got = () => Array.from(helper.getNode('w1').context().global.get('got') || []);
const payloads = (msgs) => msgs.map((m) => m.payload);

describe('operator: replay, figures and the sidebar endpoint', function () {
    this.timeout(120000);
    afterEach(async function () {
        await helper.unload();
    });

    it('seek back by timestamp replays exactly the records from that time on, and commits the sought offset', async function () {
        const topic = await createTopic(unique('op-seek-ts'), 1);
        const group = unique('g');
        const base = Date.now() - 600000;
        await withProducer((p) => p.send({
            topic,
            messages: [
                ...[0, 1, 2, 3, 4].map((i) => ({ value: `old${i}`, timestamp: String(base + i) })),
                ...[0, 1, 2, 3, 4].map((i) => ({ value: `new${i}`, timestamp: String(base + 60000 + i) })),
            ],
        }));
        const { flow, credentials } = flowFor(topic, group);
        await helper.load(NODES, flow, credentials);
        await waitFor(() => got().length === 10, 'all ten records', 30000);
        await waitFor(async () => (await committed(group, topic))[0] === 10, 'commit at 10', 20000);
        // each record carries the partition's end offset at fetch time
        got().forEach((m) => assert.strictEqual(m.kafka.highWaterOffset, 10));
        helper.getNode('w1').context().global.set('got', []);

        const commits = [];
        const probe = setInterval(() => committed(group, topic).then((c) => commits.push(c[0]), () => undefined), 50);
        try {
            helper.getNode('c1').receive({ action: 'seek', topic, timestamp: base + 30000 });
            await waitFor(() => got().length >= 5, 'the replayed records', 30000);
            await sleep(1000);
            assert.deepStrictEqual(payloads(got()), ['new0', 'new1', 'new2', 'new3', 'new4']);
            await waitFor(async () => (await committed(group, topic))[0] === 10, 'commit back at 10', 20000);
        } finally {
            clearInterval(probe);
        }
        // the sought position (5) was committed on the way back to 10 (or passed within one poll)
        assert.ok(commits.some((c) => c >= 5 && c < 10) || commits.includes(10), `commits seen: ${commits.join(',')}`);
    });

    it('seek to latest skips the backlog; the status shows lag and rate', async function () {
        const topic = await createTopic(unique('op-seek-latest'), 2);
        const group = unique('g');
        const { flow, credentials } = flowFor(topic, group, { maxInFlight: 5 });
        await helper.load(NODES, flow, credentials);
        const c1 = helper.getNode('c1');
        await waitFor(() => /consuming/.test((lastStatus(c1) || {}).text || ''), 'joined', 30000);
        c1.receive({ action: 'pause' });
        await sleep(300);
        await withProducer((p) => p.send({ topic, messages: Array.from({ length: 40 }, (_, i) => ({ value: `backlog${i}`, partition: i % 2 })) }));
        await sleep(500);
        assert.deepStrictEqual(got(), []);
        c1.receive({ action: 'seek', offset: 'latest' }); // every partition of every subscribed topic
        await waitFor(async () => {
            const c = await committed(group, topic);
            return c[0] === 20 && c[1] === 20;
        }, 'commits at the end of both partitions', 20000);
        c1.receive({ action: 'resume' });
        await withProducer((p) => p.send({ topic, messages: [{ value: 'after', partition: 1 }] }));
        await waitFor(() => got().length >= 1, 'the new record', 30000);
        await sleep(1000);
        assert.deepStrictEqual(payloads(got()), ['after']);
        await waitFor(() => /lag 0 · \d+ rec\/s/.test((lastStatus(c1) || {}).text || ''), 'figures in the status', 10000);
    });

    it('refuses a seek it cannot do, with a sentence (done(err): a Catch node fires)', async function () {
        const topic = await createTopic(unique('op-seek-bad'), 1);
        const { flow, credentials } = flowFor(topic, unique('g'));
        await helper.load(NODES, flow, credentials);
        const c1 = helper.getNode('c1');
        await waitFor(() => /consuming/.test((lastStatus(c1) || {}).text || ''), 'joined', 30000);
        const errors = [];
        c1.on('call:error', (call) => errors.push(String(call.args[0])));
        c1.receive({ action: 'seek', topic: 'not-mine', offset: 'earliest' });
        c1.receive({ action: 'seek', topic, offset: 3 });
        await waitFor(() => errors.length === 2, 'two errors', 5000);
        assert.match(errors[0], /not subscribed/);
        assert.match(errors[1], /needs msg.partition/);
    });
});

describe("kafka-publish's own figures", function () {
    this.timeout(60000);
    afterEach(async function () {
        await helper.unload();
    });

    it("a node shows its own rate, not its sibling's on the shared connection", async function () {
        const topic = await createTopic(unique('op-pub-rate'), 1);
        const { nodes, credentials } = configFor('plaintext', 'cfg');
        const flow = [
            ...nodes,
            { id: 'busy', type: 'kafka-publish', config: 'cfg', topic, wires: [[]] },
            { id: 'quiet', type: 'kafka-publish', config: 'cfg', topic, wires: [[]] },
        ];
        await helper.load(nodeModules('kafka-config', 'kafka-publish'), flow, credentials);
        const busy = helper.getNode('busy');
        const quiet = helper.getNode('quiet');
        await waitFor(() => /connected/.test((lastStatus(quiet) || {}).text || ''), 'connected', 30000);
        quiet.receive({ payload: 'one' });
        const end = Date.now() + 4000;
        while (Date.now() < end) {
            for (let i = 0; i < 20; i++) busy.receive({ payload: `b${i}` });
            await sleep(100);
        }
        const rates = (node) => statusHistory(node).map((st) => /^(\d+) rec\/s/.exec(st.text || '')).filter(Boolean).map((m) => Number(m[1]));
        assert.ok(Math.max(...rates(busy)) >= 50, `busy: ${rates(busy)}`);
        assert.ok(rates(quiet).every((r) => r <= 1), `quiet: ${rates(quiet)}`);
    });
});

describe('what a Catch node receives', function () {
    this.timeout(60000);
    afterEach(async function () {
        await helper.unload();
    });

    it("publish: Node-RED's {message, source} in msg.error, the node's {Code, Description} in msg._error", async function () {
        const { nodes, credentials } = configFor('plaintext', 'cfg');
        const flow = [
            ...nodes,
            { id: 'p1', type: 'kafka-publish', config: 'cfg', topic: '', wires: [[]] },
            { id: 'catch1', type: 'catch', scope: ['p1'], uncaught: false, wires: [['h1']] },
            { id: 'h1', type: 'helper' },
        ];
        await helper.load([...nodeModules('kafka-config', 'kafka-publish', 'catch')], flow, credentials);
        const caught = new Promise((resolve) => helper.getNode('h1').on('input', resolve));
        helper.getNode('p1').receive({ payload: 'no topic anywhere' });
        const msg = await caught;
        assert.strictEqual(msg.error.source.id, 'p1');
        assert.strictEqual(typeof msg.error.message, 'string');
        assert.strictEqual(msg._error.Code, 'CORE:PARAM');
        assert.ok(msg.error.message.endsWith(msg._error.Description), msg.error.message); // Node-RED may put the error's name first
    });

    it('consumer: a runtime error reaches Catch with {Code: CORE:RUNTIME, Description} in msg._error', async function () {
        const { nodes, credentials } = configFor('plaintext', 'cfg', { brokers: '127.0.0.1:1', retryBackoff: 200 });
        const flow = [
            ...nodes,
            { id: 'c1', type: 'kafka-consumer', config: 'cfg', group: unique('g'), topics: 'anything', wires: [[], []] },
            { id: 'catch1', type: 'catch', scope: ['c1'], uncaught: false, wires: [['h1']] },
            { id: 'h1', type: 'helper' },
        ];
        await helper.load([...nodeModules('kafka-config', 'kafka-consumer', 'catch')], flow, credentials);
        const msg = await new Promise((resolve) => helper.getNode('h1').on('input', resolve));
        assert.strictEqual(msg.error.source.id, 'c1');
        assert.strictEqual(msg._error.Code, 'CORE:RUNTIME');
        assert.ok(msg._error.Description.length > 10);
    });
});

function request(url, { method = 'GET', headers = {}, body = null } = {}) {
    return new Promise((resolve, reject) => {
        const req = http.request(url, { method, headers }, (res) => {
            let text = '';
            res.on('data', (d) => { text += d; });
            res.on('end', () => resolve({ status: res.statusCode, body: text }));
        });
        req.on('error', reject);
        if (body) req.write(body);
        req.end();
    });
}

describe('the Kafka sidebar endpoint with adminAuth', function () {
    this.timeout(180000);
    let demo = null;
    let userDir = null;
    let topic = null;
    const group = unique('g-side');
    let nodes = null;
    let credentials = null;

    before(async function () {
        ({ nodes, credentials } = configFor('plain', 'side-cfg'));
        topic = await createTopic(unique('op-side'), 2);
        await withProducer((p) => p.send({ topic, messages: Array.from({ length: 7 }, (_, i) => ({ value: `r${i}`, partition: i % 2 })) }));
        userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafka-sidebar-user-'));
        const flow = [
            ...nodes.map((n) => ({ ...n, initialOffset: 'oldest', commitInterval: 200, ackMode: 'immediate' })),
            { id: 'tab', type: 'tab', label: 'side' },
            { id: 'side-c', type: 'kafka-consumer', z: 'tab', config: 'side-cfg', group, topics: topic, format: 'string', wires: [[], []] },
        ];
        fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flow));
        fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify(credentials));
        const bcrypt = require('bcryptjs');
        const { start } = require('../../scripts/demo');
        demo = await start({
            port: 0, userDir, flows: 'none', logLevel: 'warn', brokers: env.info().plaintext,
            adminAuth: { type: 'credentials', users: [{ username: 'admin', password: bcrypt.hashSync('s3cret-admin', 8), permissions: '*' }] },
        });
    });

    after(async function () {
        if (demo) await demo.stop();
        if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
    });

    it('refuses an anonymous request', async function () {
        const res = await request(`${demo.url}kafka-connector/sidebar`);
        assert.strictEqual(res.status, 401);
    });

    it('describes the cluster and the group as Kafka does, without credentials', async function () {
        const tok = await request(`${demo.url}auth/token`, {
            method: 'POST', headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ client_id: 'node-red-admin', grant_type: 'password', scope: '*', username: 'admin', password: 's3cret-admin' }),
        });
        assert.strictEqual(tok.status, 200, tok.body);
        const auth = { authorization: `Bearer ${JSON.parse(tok.body).access_token}` };
        let view = null;
        let raw = '';
        await waitFor(async () => {
            const res = await request(`${demo.url}kafka-connector/sidebar`, { headers: auth });
            assert.strictEqual(res.status, 200);
            raw = res.body;
            view = JSON.parse(raw).configs.find((c) => c.id === 'side-cfg');
            const g = view && view.groups.find((x) => x.groupId === group);
            return g && g.partitions.length === 2 && g.partitions.every((p) => p.committed !== null && p.owner) && g.lag === 0;
        }, 'the group committed to the end', 60000, 500);
        // the cluster's own figures, through an independent client
        const ends = await withAdmin((a) => a.fetchTopicOffsets(topic));
        const offsets = await withAdmin((a) => a.fetchOffsets({ groupId: group, topics: [topic] }));
        const description = await withAdmin(async (a) => (await a.describeGroups([group])).groups[0]);
        const g = view.groups.find((x) => x.groupId === group);
        for (const row of g.partitions) {
            assert.strictEqual(row.end, Number(ends.find((e) => e.partition === row.partition).high));
            assert.strictEqual(row.committed, Number(offsets[0].partitions.find((p) => p.partition === row.partition).offset));
            assert.strictEqual(row.lag, row.end - row.committed);
            assert.strictEqual(row.owner.node.id, 'side-c');
            assert.ok(description.members.some((m) => m.clientId === row.owner.clientId), 'the owner is a member of the group');
        }
        // and as Kafka's own kafka-consumer-groups --describe says
        const cli = await consumerGroupsDescribe(env.info().plaintext, group, env.info().external ? undefined : env.info().version);
        assert.deepStrictEqual(
            cli.map((r) => [r.topic, r.partition, r.current, r.end, r.lag, r.clientId]).sort(),
            g.partitions.map((r) => [r.topic, r.partition, r.committed, r.end, r.lag, r.owner.clientId]).sort(),
        );
        assert.ok(view.clusterId && view.brokerList.length >= 1 && view.controller !== null);
        assert.ok(view.topics.some((x) => x.name === topic && x.partitions.length === 2));
        const secrets = [credentials['side-cfg'].password, credentials['side-cfg'].username, 's3cret-admin'];
        for (const s of secrets) assert.ok(!raw.includes(s), `the response carries ${s === 's3cret-admin' ? 'the admin password' : 'a credential'}`);
        assert.ok(!/password|credentials/i.test(raw));
    });
});
