'use strict';
/*
 * kafka-consumer's life in the group, against the real broker: more consumers
 * than partitions, credentials the cluster refuses, a modified node redeployed
 * alone, and a removed node leaving the group.
 */
const assert = require('assert');
const { AssignerProtocol } = require('kafkajs');
const { helper, nodeModules, unique, withProducer, sleep, createTopic, configFor, waitFor, statusHistory, lastStatus, describeGroup } = require('./support');

const NODES = nodeModules('kafka-config', 'kafka-consumer', 'function', 'complete', 'catch');

/** consumer -> collector (acks through Complete); runtime errors (second output) are collected apart. */
function flowFor({ topic, group, consumer = {}, listener = 'plaintext', cfg = {} }) {
    const { nodes, credentials } = configFor(listener, 'cfg', { initialOffset: 'oldest', commitInterval: 200, retryBackoff: 500, ...cfg });
    const flow = [
        ...nodes,
        { id: 'c1', type: 'kafka-consumer', config: 'cfg', group, topics: topic, format: 'string', wires: [['w1'], ['e1']], ...consumer },
        {
            id: 'w1', type: 'function', wires: [[]],
            func: `if (msg.error) { const b = global.get('bad') || []; b.push(msg); global.set('bad', b); return null; }
const got = global.get('got') || []; got.push(msg.payload); global.set('got', got); node.send(msg); node.done(); return null;`,
        },
        { id: 'e1', type: 'function', wires: [[]], func: "const e = global.get('errs') || []; e.push(msg.error); global.set('errs', e); return null;" },
        { id: 'done', type: 'complete', scope: ['w1'], uncaught: false, wires: [['c1']] },
    ];
    return { flow, credentials };
}

describe('kafka-consumer in the group: membership, credentials, redeploy and removal', function () {
    this.timeout(120000);
    afterEach(async function () {
        await helper.unload();
    });

    it('runs more consumers than partitions with a warning status, the extra members idle', async function () {
        const topic = await createTopic(unique('life-idle'), 1);
        const group = unique('g');
        const { flow, credentials } = flowFor({ topic, group, consumer: { consumerCount: 3 } });
        await helper.load(NODES, flow, credentials);
        const c1 = helper.getNode('c1');
        // Settled: all three in a stable group, one of them owning the one partition
        // (a rebalance still under way lists members without assignments) ...
        const owners = (d) => d.members.filter((m) => m.memberAssignment.length > 0 &&
            (AssignerProtocol.MemberAssignment.decode(m.memberAssignment).assignment[topic] || []).length > 0).length;
        await waitFor(async () => {
            const d = await describeGroup(group);
            return d.state === 'Stable' && d.members.length === 3 && owners(d) === 1;
        }, 'three members in a stable group, one owning the partition', 60000, 200);
        // ... and the node says two of its three consumers are idle.
        await waitFor(() => /2 of 3 consumers idle/.test((lastStatus(c1) || {}).text), 'the idle-members status', 10000, 100);
        assert.strictEqual(lastStatus(c1).fill, 'yellow');
        await withProducer((p) => p.send({ topic, messages: [{ value: 'one' }, { value: 'two' }] }));
        const global = helper.getNode('w1').context().global;
        await waitFor(() => (global.get('got') || []).length === 2, 'both records, from the one busy member', 30000);
        assert.deepStrictEqual(Array.from(global.get('got')), ['one', 'two']);
    });

    it('reports refused credentials with CORE:RUNTIME, a red status and an error, without a tight loop, and consumes once they are fixed', async function () {
        const topic = await createTopic(unique('life-auth'), 1);
        const group = unique('g');
        await withProducer((p) => p.send({ topic, messages: [{ value: 'kept' }] }));
        const { flow, credentials } = flowFor({ topic, group, listener: 'scram512' });
        const good = credentials.cfg.password;
        credentials.cfg.password = 'not-the-password';
        await helper.load(NODES, flow, credentials);
        const c1 = helper.getNode('c1');
        const global = helper.getNode('w1').context().global;
        await waitFor(() => (global.get('errs') || []).length > 0, 'an error message', 60000, 200);
        const [error] = global.get('errs');
        assert.strictEqual(error.Code, 'CORE:RUNTIME');
        assert.match(error.Description, /refused the credentials/);
        await waitFor(() => statusHistory(c1).some((s) => s.fill === 'red'), 'a red status', 10000);
        assert.ok(c1.error.getCalls().some((c) => /refused the credentials/.test(String(c.args[0]))), 'a Node-RED error');
        // Retries follow the retry backoff (500 ms, growing): a handful of attempts in 6 s, not hundreds.
        const auth = () => helper.getNode('cfg').error.getCalls().length + c1.error.getCalls().length + c1.debug.getCalls().length;
        const before = auth();
        await sleep(6000);
        assert.ok(auth() - before < 30, `log calls in 6 s: ${auth() - before}`);
        assert.strictEqual(global.get('errs').length, 1, 'one error message per episode');
        assert.deepStrictEqual(global.get('bad') || [], [], 'no error message on the records output');
        assert.deepStrictEqual(global.get('got') || [], []);

        credentials.cfg.password = good;
        await helper.setFlows(flow, 'full', credentials);
        await waitFor(() => (helper.getNode('w1').context().global.get('got') || []).includes('kept'), 'the record, once the password is right', 60000, 200);
    });

    it('a modified consumer redeployed alone rejoins without a duplicate member; a removed one leaves the group', async function () {
        const topic = await createTopic(unique('life-redeploy'), 2);
        const group = unique('g');
        const { flow, credentials } = flowFor({ topic, group, consumer: { consumerCount: 2 }, cfg: { sessionTimeout: 30000 } });
        await helper.load(NODES, flow, credentials);
        const stable = (n) => async () => {
            const d = await describeGroup(group);
            return d.state === 'Stable' && d.members.length === n;
        };
        await waitFor(stable(2), 'two members', 60000, 200);

        // Only c1 changes: "modified nodes" redeploy stops and restarts it alone.
        const modified = flow.map((n) => (n.id === 'c1' ? { ...n, maxInFlight: 50 } : n));
        await helper.setFlows(modified, 'nodes', credentials);
        await waitFor(stable(2), 'two members again', 60000, 200);
        // The old members left at once: with a 30 s session timeout, a member left
        // behind would still be listed.
        await sleep(1000);
        assert.strictEqual((await describeGroup(group)).members.length, 2);
        await withProducer((p) => p.send({ topic, messages: [{ partition: 0, value: 'p0' }, { partition: 1, value: 'p1' }] }));
        const global = helper.getNode('w1').context().global;
        await waitFor(() => (global.get('got') || []).length === 2, 'a record from each partition', 30000);

        // Removed: its members leave the group within the close, not after the session timeout.
        const t0 = Date.now();
        await helper.setFlows(modified.filter((n) => n.id !== 'c1'), 'nodes', credentials);
        const closeMs = Date.now() - t0;
        const d = await describeGroup(group);
        assert.strictEqual(d.state, 'Empty', `group state ${d.state} with ${d.members.length} members`);
        assert.ok(closeMs < 15000, `removal took ${closeMs} ms`);
    });

    it('refuses invalid fields at deploy with a red status and one error naming each problem; the runtime runs on', async function () {
        const topic = await createTopic(unique('life-invalid'), 1);
        const { flow, credentials } = flowFor({ topic, group: ' ', consumer: { maxInFlight: '0' } });
        await helper.load(NODES, flow, credentials);
        const c1 = helper.getNode('c1');
        assert.deepStrictEqual(lastStatus(c1), { fill: 'red', shape: 'dot', text: 'invalid configuration' });
        const errors = c1.error.getCalls().map((c) => String(c.args[0]));
        assert.deepStrictEqual(errors, ['Invalid kafka-consumer configuration: The consumer group is required. Max in flight must be a whole number of at least 1.']);
        // The rest of the flow still works.
        const w1 = helper.getNode('w1');
        w1.receive({ payload: 'still here', attribute: {} });
        await waitFor(() => (w1.context().global.get('got') || []).includes('still here'), 'the function node runs', 5000);
    });
});
