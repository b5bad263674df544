'use strict';
// Batch output's grouping (nodes/lib/batch-grouper) with a clock the spec drives.
const assert = require('assert');
const { Grouper } = require('../../nodes/lib/batch-grouper');

function fakeClock() {
    const c = {
        now: 0, timers: [],
        setTimeout(fn, ms) { const t = { at: c.now + ms, fn, live: true }; c.timers.push(t); return t; },
        clearTimeout(t) { t.live = false; },
        advance(ms) {
            c.now += ms;
            for (const t of c.timers.filter((x) => x.live && x.at <= c.now)) { t.live = false; t.fn(); }
        },
        get live() { return c.timers.filter((t) => t.live).length; },
    };
    return c;
}

function grouper(size, waitMs) {
    const clock = fakeClock();
    const out = [];
    const g = new Grouper(size, waitMs, (key, items) => out.push([key, items]), clock);
    return { g, out, clock };
}

describe('batch grouper', function () {
    it('sends a group once it is full, per key, in order', function () {
        const { g, out, clock } = grouper(3, 100);
        for (let i = 0; i < 7; i++) g.add(i % 2 ? 'b' : 'a', i);
        assert.deepStrictEqual(out, [['a', [0, 2, 4]], ['b', [1, 3, 5]]]);
        assert.strictEqual(g.pending, 1);
        assert.strictEqual(clock.live, 1, 'only the partial group has a timer');
    });

    it('sends a partial group once the wait has passed since its first item', function () {
        const { g, out, clock } = grouper(10, 100);
        g.add('a', 1);
        clock.advance(60);
        g.add('a', 2);
        assert.deepStrictEqual(out, []);
        clock.advance(40);
        assert.deepStrictEqual(out, [['a', [1, 2]]]);
        g.add('a', 3);
        clock.advance(99);
        assert.strictEqual(out.length, 1, 'a new group has its own wait');
        clock.advance(1);
        assert.deepStrictEqual(out[1], ['a', [3]]);
        assert.strictEqual(clock.live, 0);
    });

    it('a new tag closes the group before it (records of another transaction)', function () {
        const { g, out } = grouper(10, 100);
        g.add('a', 1, 'txn1');
        g.add('a', 2, 'txn1');
        g.add('a', 3, 'txn2');
        assert.deepStrictEqual(out, [['a', [1, 2]]]);
        assert.strictEqual(g.pending, 1);
    });

    it('flush sends one key now; flushAll every key; clear drops them unsent and stops their timers', function () {
        const { g, out, clock } = grouper(10, 100);
        g.add('a', 1);
        g.add('b', 2);
        g.add('c', 3);
        g.flush('a');
        g.flush('zzz');
        assert.deepStrictEqual(out, [['a', [1]]]);
        g.flushAll();
        assert.deepStrictEqual(out.slice(1), [['b', [2]], ['c', [3]]]);
        g.add('d', 4);
        g.clear();
        clock.advance(1000);
        assert.strictEqual(out.length, 3);
        assert.strictEqual(g.pending, 0);
        assert.strictEqual(clock.live, 0);
    });

    it('size 1 sends every item at once', function () {
        const { g, out, clock } = grouper(1, 100);
        g.add('a', 1);
        g.add('a', 2);
        assert.deepStrictEqual(out, [['a', [1]], ['a', [2]]]);
        assert.strictEqual(clock.live, 0);
    });
});
