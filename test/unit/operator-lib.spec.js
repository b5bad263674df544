'use strict';
// The operator's pure logic: reading a seek control message, the live figures
// (rate, lag), the member client id, the sidebar's group rows, and the offset
// tracker's reset (a seek).
const assert = require('assert');
const { readSeek, resolveSeek } = require('../../nodes/lib/seek');
const { RateMeter, EndOffsets, sumLag, shortCount } = require('../../nodes/lib/live-figures');
const { memberClientId, parseMemberClientId } = require('../../nodes/lib/member-id');
const { groupRows, sidebarConfig } = require('../../nodes/lib/cluster-overview');
const { OffsetTracker } = require('../../nodes/lib/offset-tracker');

describe('seek control messages', function () {
    const SUB = ['a', 'b'];
    const CASES = [
        [{ topic: 'a', partition: 1, offset: 5 }, { requests: [{ topic: 'a', partition: 1, to: { offset: '5' } }] }],
        [{ topic: 'a', partition: '1', offset: '5' }, { requests: [{ topic: 'a', partition: 1, to: { offset: '5' } }] }],
        [{ topic: 'a', offset: 'earliest' }, { requests: [{ topic: 'a', partition: null, to: 'earliest' }] }],
        [{ offset: 'latest' }, { requests: [{ topic: 'a', partition: null, to: 'latest' }, { topic: 'b', partition: null, to: 'latest' }] }],
        [{ topic: 'b', timestamp: 1700000000000 }, { requests: [{ topic: 'b', partition: null, to: { timestamp: 1700000000000 } }] }],
        [{ topic: 'b', timestamp: '2023-11-14T22:13:20.000Z' }, { requests: [{ topic: 'b', partition: null, to: { timestamp: 1700000000000 } }] }],
        [{ seek: { topic: 'a', partition: 0, offset: 0 } }, { requests: [{ topic: 'a', partition: 0, to: { offset: '0' } }] }],
        [{ topic: 'zzz', offset: 'latest' }, { problem: { key: 'seek-topic' } }],
        [{ partition: 1, offset: 'latest' }, { problem: { key: 'seek-topic' } }],
        [{ topic: 'a', partition: -1, offset: 'latest' }, { problem: { key: 'seek-partition' } }],
        [{ topic: 'a', partition: 1.5, offset: 'latest' }, { problem: { key: 'seek-partition' } }],
        [{ topic: 'a', offset: 5 }, { problem: { key: 'seek-offset-needs-partition' } }],
        [{ topic: 'a', partition: 0, offset: -3 }, { problem: { key: 'seek-target' } }],
        [{ topic: 'a' }, { problem: { key: 'seek-target' } }],
        [{ topic: 'a', timestamp: 'not a date' }, { problem: { key: 'seek-target' } }],
    ];
    for (const [msg, expected] of CASES) {
        it(`reads ${JSON.stringify(msg)}`, function () {
            assert.deepStrictEqual(readSeek({ action: 'seek', ...msg }, SUB), expected);
        });
    }

    it('resolves ends and times through the lookup, a named partition only', async function () {
        const asked = [];
        const lookup = async (topic, at) => {
            asked.push([topic, at]);
            return [{ partition: 0, offset: '10' }, { partition: 1, offset: '20' }];
        };
        const out = await resolveSeek([
            { topic: 'a', partition: null, to: 'latest' },
            { topic: 'b', partition: 1, to: { timestamp: 5 } },
            { topic: 'c', partition: 2, to: { offset: '7' } },
        ], lookup);
        assert.deepStrictEqual(out, [
            { topic: 'a', partition: 0, offset: '10' }, { topic: 'a', partition: 1, offset: '20' },
            { topic: 'b', partition: 1, offset: '20' }, { topic: 'c', partition: 2, offset: '7' },
        ]);
        assert.deepStrictEqual(asked, [['a', 'latest'], ['b', { timestamp: 5 }]]);
    });
});

describe('live figures', function () {
    it('rate: records per second between readings', function () {
        let now = 1000;
        const r = new RateMeter(() => now);
        r.add(30);
        now = 4000;
        assert.strictEqual(r.read(), 10);
        now = 5000;
        assert.strictEqual(r.read(), 0);
        r.add();
        assert.strictEqual(r.read(), 0); // no time passed
    });

    it('lag: end minus position, summed over owned partitions; null before any fetch', function () {
        const ends = new EndOffsets();
        const owned = [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }, { topic: 'u', partition: 0 }];
        assert.strictEqual(sumLag(owned, ends, () => null), null);
        ends.note('t', 0, '5', '100');
        ends.note('t', 1, '0', '7');
        ends.note('x', 0, '0', '1000'); // not owned
        ends.note('u', 0, '0', undefined); // the client told no end
        const position = (topic, partition) => (partition === 0 ? '40' : null);
        assert.strictEqual(sumLag(owned, ends, position), 60 + 7);
        assert.strictEqual(sumLag(owned, ends, () => '200'), 0); // never negative
    });

    for (const [n, s] of [[0, '0'], [999, '999'], [1000, '1.0k'], [12345, '12k'], [1500000, '1.5M'], [25000000, '25M']]) {
        it(`shows ${n} as ${s}`, function () {
            assert.strictEqual(shortCount(n), s);
        });
    }
});

describe('member client id', function () {
    it('names the node, the member and the instance, and reads back', function () {
        const id = memberClientId({ base: 'node-red-kafka', nodeId: 'a1b2.c3', index: 2, host: 'box-1.local', pid: 4242 });
        assert.strictEqual(id, 'node-red-kafka|a1b2.c3#2|box-1.local:4242');
        assert.deepStrictEqual(parseMemberClientId(id), { base: 'node-red-kafka', nodeId: 'a1b2.c3', index: 2, host: 'box-1.local', pid: 4242 });
    });

    it('keeps odd characters out, and reads other clients as null', function () {
        assert.strictEqual(memberClientId({ base: 'my app', nodeId: 'n|1', index: 0, host: 'h:x', pid: 1 }), 'my_app|n_1#0|h_x:1');
        assert.strictEqual(parseMemberClientId('kafkajs'), null);
        assert.strictEqual(parseMemberClientId('console-consumer-123'), null);
    });
});

describe('sidebar group rows', function () {
    const ov = {
        clusterId: 'c1', controller: 1, brokers: [{ nodeId: 1, host: 'h', port: 9092, version: '3.9' }], moreTopics: 0,
        topics: [
            { name: 't', partitions: [0, 1, 2].map((p) => ({ partition: p, leader: 1, replicas: [1], isr: [1], low: '0', high: String(10 * (p + 1)) })) },
            { name: 'other', partitions: [{ partition: 0, leader: 1, replicas: [1], isr: [1], low: '0', high: '5' }] },
        ],
        groups: [{
            groupId: 'g', state: 'Stable',
            members: [{ memberId: 'm1', clientId: 'nr|node1#0|host:12', clientHost: '/127.0.0.1', assignment: [{ topic: 't', partitions: [0, 1] }] },
                { memberId: 'm2', clientId: 'console', clientHost: '/10.0.0.2', assignment: [{ topic: 't', partitions: [2] }] }],
            offsets: [{ topic: 't', partition: 0, offset: '10' }, { topic: 't', partition: 1, offset: '-1' }, { topic: 't', partition: 2, offset: '25' }],
        }],
    };

    it('per partition: committed, end, lag (end - committed) and owner, as kafka-consumer-groups shows them', function () {
        const g = groupRows(ov, 'g', [{ nodeId: 'node1', group: 'g', topics: ['t'] }]);
        assert.deepStrictEqual(g.partitions.map((r) => [r.partition, r.committed, r.end, r.lag]), [[0, 10, 10, 0], [1, null, 20, null], [2, 25, 30, 5]]);
        assert.deepStrictEqual(g.partitions[0].owner.node, { id: 'node1', index: 0, host: 'host', pid: 12 });
        assert.strictEqual(g.partitions[2].owner.node, null);
        assert.strictEqual(g.partitions[2].owner.clientId, 'console');
        assert.strictEqual(g.lag, 5);
        assert.deepStrictEqual(g.nodes, ['node1']);
    });

    it('a group not described yet shows its subscribed partitions, nothing committed', function () {
        const g = groupRows(ov, 'new', [{ nodeId: 'n2', group: 'new', topics: ['other'] }]);
        assert.deepStrictEqual(g.partitions.map((r) => [r.topic, r.partition, r.committed, r.lag, r.owner]), [['other', 0, null, null, null]]);
        assert.strictEqual(g.lag, null);
        assert.strictEqual(g.state, 'Unknown');
    });

    it('a config node: only its name, brokers and state besides the cluster', function () {
        const c = sidebarConfig({ id: 'cfg', name: 'n', brokers: 'h:9092', state: 'connected' }, ov, [{ nodeId: 'node1', group: 'g', topics: ['t'] }], null);
        assert.deepStrictEqual(Object.keys(c).sort(), ['brokerList', 'brokers', 'clusterId', 'controller', 'error', 'groups', 'id', 'moreTopics', 'name', 'state', 'topics']);
        assert.strictEqual(c.groups.length, 1);
        const down = sidebarConfig({ id: 'cfg', name: '', brokers: 'h:9092', state: 'retrying' }, null, [], 'refused');
        assert.deepStrictEqual([down.clusterId, down.groups, down.error], [null, [], 'refused']);
    });
});

describe('offset tracker: reset (a seek)', function () {
    it('back: drops what is in flight, and the sought offset becomes the commit point below the committed one', function () {
        const t = new OffsetTracker();
        for (let o = 0; o < 10; o++) t.deliver('t', 0, String(o), o);
        for (let o = 0; o < 8; o++) t.ack('t', 0, String(o));
        t.markCommitted(t.pendingCommits());
        assert.deepStrictEqual(t.reset('t', 0, '3'), [8, 9]);
        assert.strictEqual(t.inFlight, 0);
        assert.strictEqual(t.ack('t', 0, '9'), undefined); // an old acknowledgement is ignored
        assert.deepStrictEqual(t.pendingCommits(), [{ topic: 't', partition: 0, offset: '3', metadata: null }]);
        assert.strictEqual(t.deliver('t', 0, '3', 'again'), 'new'); // replayed
    });

    it('to 0 with nothing delivered: 0 is committed', function () {
        const t = new OffsetTracker();
        t.seed('t', 0, '50', null);
        t.reset('t', 0, '0');
        assert.deepStrictEqual(t.pendingCommits(), [{ topic: 't', partition: 0, offset: '0', metadata: null }]);
        t.seed('t', 0, '50', null); // a takeover read answering late changes nothing
        assert.deepStrictEqual(t.pendingCommits(), [{ topic: 't', partition: 0, offset: '0', metadata: null }]);
    });

    it('a commit asked for before the reset, confirmed after it, does not hide the sought offset', function () {
        const t = new OffsetTracker();
        for (let o = 0; o < 5; o++) { t.deliver('t', 0, String(o), o); t.ack('t', 0, String(o)); }
        const before = t.pendingCommits(); // offset 5, on its way
        t.reset('t', 0, '2');
        t.markCommitted(before); // the broker confirms it now
        assert.deepStrictEqual(t.pendingCommits(), [{ topic: 't', partition: 0, offset: '2', metadata: null }]);
    });

    it('forward: the skipped records are not delivered', function () {
        const t = new OffsetTracker();
        t.deliver('t', 0, '0', 0);
        t.reset('t', 0, '100');
        assert.strictEqual(t.deliver('t', 0, '50', 'x'), 'done');
        assert.strictEqual(t.deliver('t', 0, '100', 'y'), 'new');
    });
});

describe('live figures: ends read without a fetch', function () {
    it('raise moves a known end forward only, and leaves unknown partitions unknown', function () {
        const ends = new EndOffsets();
        ends.note('t', 0, '0', '10');
        ends.raise('t', 0, '25');
        ends.raise('t', 0, '20');
        ends.raise('t', 1, '99');
        assert.strictEqual(ends.get('t', 0).end, 25n);
        assert.strictEqual(ends.get('t', 1), undefined);
    });
});
