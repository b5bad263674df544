'use strict';
const assert = require('assert');
const { rangeAssign, roundRobinAssign } = require('../../nodes/lib/assigners');

const m = (memberId, ...topics) => ({ memberId, topics });

const RANGE = [
    { name: 'even split', members: [m('a', 't'), m('b', 't')], parts: { t: [0, 1, 2, 3] },
        want: { a: { t: [0, 1] }, b: { t: [2, 3] } } },
    { name: 'first members get the extra partition', members: [m('b', 't'), m('a', 't'), m('c', 't')], parts: { t: [4, 3, 2, 1, 0] },
        want: { a: { t: [0, 1] }, b: { t: [2, 3] }, c: { t: [4] } } },
    { name: 'per topic, independently', members: [m('a', 'x', 'y'), m('b', 'x', 'y')], parts: { x: [0, 1, 2], y: [0, 1, 2] },
        want: { a: { x: [0, 1], y: [0, 1] }, b: { x: [2], y: [2] } } },
    { name: 'more members than partitions leaves members idle', members: [m('a', 't'), m('b', 't'), m('c', 't')], parts: { t: [0] },
        want: { a: { t: [0] }, b: {}, c: {} } },
    { name: 'only subscribers of a topic share it', members: [m('a', 'x'), m('b', 'x', 'y')], parts: { x: [0, 1], y: [0, 1] },
        want: { a: { x: [0] }, b: { x: [1], y: [0, 1] } } },
];

const ROUND_ROBIN = [
    { name: 'deals all topic-partitions in order', members: [m('a', 'x', 'y'), m('b', 'x', 'y')], parts: { x: [0, 1, 2], y: [0, 1] },
        want: { a: { x: [0, 2], y: [1] }, b: { x: [1], y: [0] } } },
    { name: 'members sorted by id', members: [m('z', 't'), m('a', 't')], parts: { t: [0, 1, 2] },
        want: { a: { t: [0, 2] }, z: { t: [1] } } },
    { name: 'passes over members not subscribed', members: [m('a', 'x'), m('b', 'x', 'y'), m('c', 'y')], parts: { x: [0, 1, 2], y: [0, 1] },
        want: { a: { x: [0, 2] }, b: { x: [1], y: [0] }, c: { y: [1] } } },
    { name: 'a topic nobody subscribes to is left alone', members: [m('a', 'x')], parts: { x: [0], q: [0] },
        want: { a: { x: [0] } } },
    { name: 'idle members when partitions run out', members: [m('a', 't'), m('b', 't'), m('c', 't')], parts: { t: [0, 1] },
        want: { a: { t: [0] }, b: { t: [1] }, c: {} } },
];

describe('assigners', function () {
    for (const c of RANGE) it(`range: ${c.name}`, () => assert.deepStrictEqual(rangeAssign(c.members, c.parts), c.want));
    for (const c of ROUND_ROBIN) it(`roundrobin: ${c.name}`, () => assert.deepStrictEqual(roundRobinAssign(c.members, c.parts), c.want));
});
