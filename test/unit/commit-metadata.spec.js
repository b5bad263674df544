'use strict';
const assert = require('assert');
const { encodeDone, decodeDone, MAX_METADATA_CHARS } = require('../../nodes/lib/commit-metadata');

describe('commit metadata: records done above the committed offset', function () {
    const table = [
        { name: 'nothing done above', base: 10n, done: [], meta: null },
        { name: 'one range', base: 10n, done: [{ first: 11n, last: 13n }], meta: 'kc1:1-3' },
        { name: 'ranges in base 36', base: 0n, done: [{ first: 1n, last: 35n }, { first: 40n, last: 1000n }], meta: 'kc1:1-z,14-rs' },
        { name: 'a range reaching below the base is clipped', base: 10n, done: [{ first: 5n, last: 12n }], meta: 'kc1:1-2' },
        { name: 'a range wholly below the base is dropped', base: 10n, done: [{ first: 5n, last: 10n }], meta: null },
        { name: 'offsets past 2^53 keep their precision', base: 9007199254740993n, done: [{ first: 9007199254740995n, last: 9007199254740995n }], meta: 'kc1:2-2' },
    ];
    for (const row of table) {
        it(`encodes: ${row.name}`, function () {
            assert.strictEqual(encodeDone(row.base, row.done), row.meta);
        });
    }

    it('decodes what it encodes', function () {
        const done = [{ first: 101n, last: 104n }, { first: 110n, last: 110n }, { first: 200n, last: 5000n }];
        assert.deepStrictEqual(decodeDone(100n, encodeDone(100n, done)), done);
    });

    it('a long list is cut at whole ranges, within the limit', function () {
        const done = [];
        for (let i = 0n; i < 2000n; i++) done.push({ first: 1n + i * 3n, last: 2n + i * 3n });
        const meta = encodeDone(0n, done);
        assert.ok(meta.length <= MAX_METADATA_CHARS, `${meta.length} chars`);
        const back = decodeDone(0n, meta);
        assert.ok(back.length > 50 && back.length < done.length);
        assert.deepStrictEqual(back, done.slice(0, back.length), 'a prefix of the ranges: the rest are delivered again, never lost');
    });

    const foreign = [null, undefined, '', 'hello', 'kc1:', 'kc1:3-1', 'kc1:0-2', 'kc1:1-2,2-3', 'kc1:1-2,x', 'kc2:1-2'];
    for (const meta of foreign) {
        it(`ignores metadata that is not ours or not well formed: ${JSON.stringify(meta)}`, function () {
            assert.deepStrictEqual(decodeDone(10n, meta), []);
        });
    }
});
