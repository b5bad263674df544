'use strict';
const assert = require('assert');
const { OffsetTracker } = require('../../nodes/lib/offset-tracker');

// Each case: a list of steps on partition t/0, then the commit point expected.
const CASES = [
    { name: 'nothing delivered', steps: [], point: null },
    { name: 'one in flight', steps: ['d5'], point: '5' },
    { name: 'one acked', steps: ['d5', 'a5'], point: '6' },
    { name: 'out of order: later acked first', steps: ['d0', 'd1', 'd2', 'a2', 'a1'], point: '0' },
    { name: 'out of order, then the oldest', steps: ['d0', 'd1', 'd2', 'a2', 'a1', 'a0'], point: '3' },
    { name: 'gap in offsets (transaction marker)', steps: ['d0', 'd1', 'd3', 'a0', 'a1'], point: '3' },
    { name: 'gap, all acked', steps: ['d0', 'd1', 'd3', 'a3', 'a0', 'a1'], point: '4' },
    { name: 'middle unacked holds the point', steps: ['d10', 'd11', 'd12', 'a10', 'a12'], point: '11' },
    { name: 'ack of an unknown offset changes nothing', steps: ['d1', 'a7'], point: '1' },
    { name: 'big int64 offsets', steps: ['d9007199254740993', 'a9007199254740993'], point: '9007199254740994' },
];

describe('OffsetTracker', function () {
    for (const c of CASES) {
        it(c.name, function () {
            const t = new OffsetTracker();
            for (const s of c.steps) {
                if (s[0] === 'd') t.deliver('t', 0, s.slice(1), { o: s.slice(1) });
                else t.ack('t', 0, s.slice(1));
            }
            assert.strictEqual(t.commitPoint('t', 0), c.point);
        });
    }

    const DELIVER = [
        { name: 'new record', before: [], offset: '3', result: 'new' },
        { name: 'same record again while in flight', before: ['d3'], offset: '3', result: 'in-flight' },
        { name: 'redelivery of an acked record', before: ['d3', 'a3'], offset: '3', result: 'done' },
        { name: 'redelivery below the newest delivered', before: ['d3', 'd4', 'a3'], offset: '3', result: 'done' },
    ];
    for (const c of DELIVER) {
        it(`deliver: ${c.name}`, function () {
            const t = new OffsetTracker();
            for (const s of c.before) {
                if (s[0] === 'd') t.deliver('t', 0, s.slice(1), {});
                else t.ack('t', 0, s.slice(1));
            }
            assert.strictEqual(t.deliver('t', 0, c.offset, {}), c.result);
        });
    }

    it('get and ack find records by topic and partition, also after a partition was dropped', function () {
        const t = new OffsetTracker();
        assert.strictEqual(t.get('a', 0, '0'), undefined, 'nothing delivered');
        t.deliver('a', 0, '0', 'x');
        t.deliver('a', 1, '0', 'y');
        t.deliver('b', 0, '0', 'z');
        assert.deepStrictEqual([t.get('a', 0, '0'), t.get('a', 1, '0'), t.get('b', 0, '0'), t.get('b', 1, '0')], ['x', 'y', 'z', undefined]);
        t.retainOnly([{ topic: 'a', partition: 1 }]);
        assert.deepStrictEqual([t.get('a', 0, '0'), t.get('a', 1, '0'), t.get('b', 0, '0')], [undefined, 'y', undefined]);
        assert.strictEqual(t.ack('b', 0, '0'), undefined);
        assert.strictEqual(t.ack('a', 1, '0'), 'y');
        assert.strictEqual(t.inFlight, 0);
    });

    it('pass: a record consumed at once is new once, never in flight, and moves the commit point', function () {
        const t = new OffsetTracker();
        assert.strictEqual(t.pass('t', 0, '5'), true);
        assert.strictEqual(t.pass('t', 0, '7'), true);
        assert.strictEqual(t.pass('t', 0, '6'), false, 'below the newest passed: a redelivery');
        assert.strictEqual(t.pass('t', 0, '7'), false);
        assert.strictEqual(t.inFlight, 0);
        assert.strictEqual(t.commitPoint('t', 0), '8');
        assert.deepStrictEqual(t.pendingCommits(), [{ topic: 't', partition: 0, offset: '8' }]);
    });

    it('counts in-flight records over partitions and reports only moved commit points', function () {
        const t = new OffsetTracker();
        t.deliver('a', 0, '0', 1);
        t.deliver('a', 1, '0', 2);
        t.deliver('b', 0, '7', 3);
        assert.strictEqual(t.inFlight, 3);
        t.ack('a', 1, '0');
        assert.strictEqual(t.inFlight, 2);
        const pending = t.pendingCommits();
        assert.deepStrictEqual(pending, [
            { topic: 'a', partition: 0, offset: '0' },
            { topic: 'a', partition: 1, offset: '1' },
            { topic: 'b', partition: 0, offset: '7' },
        ]);
        t.markCommitted(pending);
        assert.deepStrictEqual(t.pendingCommits(), []);
        t.ack('b', 0, '7');
        assert.deepStrictEqual(t.pendingCommits(), [{ topic: 'b', partition: 0, offset: '8' }]);
    });

    it('forgets lost partitions: their acks are ignored and their data is returned', function () {
        const t = new OffsetTracker();
        t.deliver('a', 0, '0', 'x');
        t.deliver('a', 1, '0', 'y');
        assert.deepStrictEqual(t.retainOnly([{ topic: 'a', partition: 0 }]), ['y']);
        assert.strictEqual(t.inFlight, 1);
        assert.strictEqual(t.ack('a', 1, '0'), undefined);
        assert.strictEqual(t.commitPoint('a', 1), null);
        assert.strictEqual(t.ack('a', 0, '0'), 'x');
    });
});
