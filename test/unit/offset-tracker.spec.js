'use strict';
const assert = require('assert');
const { encodeDone, decodeDone } = require('../../nodes/lib/commit-metadata');
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
        assert.deepStrictEqual(t.pendingCommits(), [{ topic: 't', partition: 0, offset: '8', metadata: null }]);
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
            { topic: 'a', partition: 0, offset: '0', metadata: null },
            { topic: 'a', partition: 1, offset: '1', metadata: null },
            { topic: 'b', partition: 0, offset: '7', metadata: null },
        ]);
        t.markCommitted(pending);
        assert.deepStrictEqual(t.pendingCommits(), []);
        t.ack('b', 0, '7');
        assert.deepStrictEqual(t.pendingCommits(), [{ topic: 'b', partition: 0, offset: '8', metadata: null }]);
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

    describe('what is done above the commit point travels with the commit', function () {
        it('names the acknowledged records above an older one still in flight', function () {
            const t = new OffsetTracker();
            for (let o = 10; o <= 20; o++) t.deliver('t', 0, String(o), o);
            for (const o of [11, 12, 13, 15, 16, 17, 18, 19, 20]) t.ack('t', 0, String(o));
            // 10 and 14 still in flight
            const [c] = t.pendingCommits();
            assert.strictEqual(c.offset, '10');
            assert.deepStrictEqual(decodeDone(10n, c.metadata), [{ first: 11n, last: 13n }, { first: 15n, last: 20n }]);
        });

        it('a new commit is pending when only the metadata moved', function () {
            const t = new OffsetTracker();
            t.deliver('t', 0, '0', 0);
            t.deliver('t', 0, '1', 1);
            t.markCommitted(t.pendingCommits());
            assert.deepStrictEqual(t.pendingCommits(), []);
            t.ack('t', 0, '1');
            const [c] = t.pendingCommits();
            assert.strictEqual(c.offset, '0');
            assert.deepStrictEqual(decodeDone(0n, c.metadata), [{ first: 1n, last: 1n }]);
        });

        it('the next owner skips what the previous owner had done, and delivers the rest', function () {
            const before = new OffsetTracker();
            for (let o = 0; o < 8; o++) before.deliver('t', 3, String(o), o);
            for (const o of [1, 2, 4, 5, 6, 7]) before.ack('t', 3, String(o));
            const [c] = before.pendingCommits();

            const next = new OffsetTracker();
            next.seed('t', 3, c.offset, c.metadata);
            const fresh = [];
            for (let o = 0; o < 10; o++) if (next.deliver('t', 3, String(o), o) === 'new') fresh.push(o);
            assert.deepStrictEqual(fresh, [0, 3, 8, 9]);
            assert.strictEqual(next.inFlight, 4);
            for (const o of fresh) next.ack('t', 3, String(o));
            assert.strictEqual(next.commitPoint('t', 3), '10');
        });

        it('carries the previous owner\'s skips on in its own commits until it passes them', function () {
            const next = new OffsetTracker();
            next.seed('t', 0, '100', encodeDone(100n, [{ first: 103n, last: 109n }]));
            assert.strictEqual(next.deliver('t', 0, '100', 'a'), 'new');
            assert.deepStrictEqual(next.pendingCommits(), [], 'the same offset and metadata as committed: nothing to commit');
            next.ack('t', 0, '100');
            const [d] = next.pendingCommits();
            assert.strictEqual(d.offset, '101');
            assert.deepStrictEqual(decodeDone(101n, d.metadata), [{ first: 103n, last: 109n }]);
        });

        it('immediate mode: passed records are skipped the same way', function () {
            const t = new OffsetTracker();
            t.seed('t', 0, '5', encodeDone(5n, [{ first: 6n, last: 7n }]));
            assert.deepStrictEqual(['5', '6', '7', '8'].filter((o) => t.pass('t', 0, o)), ['5', '8']);
        });

        it('metadata written by another client is ignored', function () {
            const t = new OffsetTracker();
            t.seed('t', 0, '5', 'some other tool');
            assert.strictEqual(t.deliver('t', 0, '6', 1), 'new');
        });

        it('a partition already delivered from is not seeded again', function () {
            const t = new OffsetTracker();
            t.deliver('t', 0, '5', 1);
            t.seed('t', 0, '5', encodeDone(5n, [{ first: 6n, last: 9n }]));
            assert.strictEqual(t.deliver('t', 0, '6', 2), 'new');
        });
    });
});

