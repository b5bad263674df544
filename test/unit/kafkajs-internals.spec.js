'use strict';
// mendMethods, the one way the seam's run-time mends change kafkajs: on a stand-in
// kafkajs copy (a package.json and two modules in a temporary folder), each method is
// wrapped once, nothing changes unless every method is there, and other versions are
// left alone.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { mendMethods, MENDED_KAFKAJS_VERSION } = require('../../nodes/client/kafkajs-internals');

function standIn(version = MENDED_KAFKAJS_VERSION) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafkajs-stand-in-'));
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ version }));
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'src', 'thing.js'), 'module.exports = class Thing { hello() { return "hello"; } bye() { return "bye"; } };');
    fs.writeFileSync(path.join(dir, 'src', 'codec.js'), 'module.exports = { decode: (x) => x + 1 };');
    return dir;
}

const shout = (original) => function (...args) {
    return `${original.apply(this, args)}!`;
};

describe('kafkajs mends: mendMethods', function () {
    let dir;
    let marker;
    beforeEach(function () {
        dir = standIn();
        marker = Symbol(`spec-mend-${Math.random()}`);
    });
    afterEach(function () {
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it('wraps prototype methods and module functions once, and says so', function () {
        const mends = () => [
            { file: ['src', 'thing.js'], prototype: true, method: 'hello', wrap: shout },
            { file: ['src', 'thing.js'], prototype: true, method: 'bye', wrap: shout },
            { file: ['src', 'codec.js'], method: 'decode', wrap: (decode) => (x) => decode(x) * 10 },
        ];
        assert.deepStrictEqual(mendMethods(marker, mends, { kafkajsDir: dir }), { applied: true, reason: 'applied' });
        assert.deepStrictEqual(mendMethods(marker, mends, { kafkajsDir: dir }), { applied: true, reason: 'already' });
        const Thing = require(path.join(dir, 'src', 'thing.js'));
        const codec = require(path.join(dir, 'src', 'codec.js'));
        assert.strictEqual(new Thing().hello(), 'hello!');
        assert.strictEqual(new Thing().bye(), 'bye!');
        assert.strictEqual(codec.decode(1), 20);
    });

    it('changes nothing when one of the methods is missing', function () {
        const r = mendMethods(marker, () => [
            { file: ['src', 'thing.js'], prototype: true, method: 'hello', wrap: shout },
            { file: ['src', 'thing.js'], prototype: true, method: 'wave', wrap: shout },
        ], { kafkajsDir: dir });
        assert.deepStrictEqual(r, { applied: false, reason: 'kafkajs lacks src/thing.js wave' });
        const Thing = require(path.join(dir, 'src', 'thing.js'));
        assert.strictEqual(new Thing().hello(), 'hello');
        assert.strictEqual(Thing.prototype[marker], undefined);
    });

    it('refuses a missing file, or what the mend itself refuses, without changing anything', function () {
        const missing = mendMethods(marker, () => [{ file: ['src', 'nope.js'], method: 'x', wrap: shout }], { kafkajsDir: dir });
        assert.strictEqual(missing.applied, false);
        assert.match(missing.reason, /kafkajs internals not found/);
        const refused = mendMethods(marker, () => {
            throw new Error('kafkajs lacks its retry');
        }, { kafkajsDir: dir });
        assert.deepStrictEqual(refused, { applied: false, reason: 'kafkajs lacks its retry' });
    });

    it('leaves another kafkajs version alone', function () {
        const other = standIn('2.2.5');
        try {
            const r = mendMethods(marker, () => [{ file: ['src', 'thing.js'], prototype: true, method: 'hello', wrap: shout }], { kafkajsDir: other });
            assert.deepStrictEqual(r, { applied: false, reason: `kafkajs 2.2.5 is not ${MENDED_KAFKAJS_VERSION}` });
            const Thing = require(path.join(other, 'src', 'thing.js'));
            assert.strictEqual(new Thing().hello(), 'hello');
        } finally {
            fs.rmSync(other, { recursive: true, force: true });
        }
    });

    it('is turned off by its environment variable', function () {
        process.env.SPEC_MEND_SWITCH = 'off';
        try {
            const r = mendMethods(marker, () => [{ file: ['src', 'thing.js'], prototype: true, method: 'hello', wrap: shout }],
                { kafkajsDir: dir, offVariable: 'SPEC_MEND_SWITCH' });
            assert.deepStrictEqual(r, { applied: false, reason: 'turned off by SPEC_MEND_SWITCH' });
            assert.strictEqual(new (require(path.join(dir, 'src', 'thing.js')))().hello(), 'hello');
        } finally {
            delete process.env.SPEC_MEND_SWITCH;
        }
    });
});
