'use strict';
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const os = require('os');
const { makeCerts } = require('../../scripts/kafka/broker');
const { statusView, retryDelay, Reachability, RETRY_CAP_MS } = require('../../nodes/lib/connection-state');
const { checkTls } = require('../../nodes/lib/tls-check');
const { within } = require('../../nodes/lib/within');

describe('connection state', function () {
    const core = (k) => `node-red:common.status.${k}`;
    const cases = [
        ['connected', 'green', 'dot', core('connected')], ['connecting', 'yellow', 'ring', core('connecting')],
        ['retrying', 'red', 'ring', core('disconnected')], ['invalid', 'red', 'dot', 'status.invalid'],
        ['idle', 'grey', 'ring', core('not-connected')], ['closed', 'grey', 'ring', core('not-connected')],
    ];
    for (const [state, fill, shape, key] of cases) {
        it(`${state} shows ${fill} ${shape} ${key}`, function () {
            const v = statusView(state);
            assert.deepStrictEqual([v.fill, v.shape, v.key], [fill, shape, key]);
        });
    }
    // The retry backoff is the first wait; doubling stops at RETRY_CAP_MS (3 s), so a
    // cluster that is back is tried again within 3 s however long it was away. A
    // backoff set above the cap is the user's own pause and is kept.
    const delays = [
        [0, 2000, 2000], [1, 2000, 3000], [2, 2000, 3000], [10, 2000, 3000], [1000, 2000, 3000],
        [0, 0, 100], [3, 0, 800], [5, 0, 3000], [0, 500, 500], [2, 500, 2000], [3, 500, 3000],
        [0, 90000, 90000], [5, 90000, 90000], [-1, 2000, 2000],
    ];
    for (const [attempt, backoff, expected] of delays) {
        it(`retry ${attempt} with backoff ${backoff} waits ${expected} ms`, function () {
            assert.strictEqual(retryDelay(attempt, backoff), expected);
        });
    }
});

describe('retry schedule', function () {
    it('never waits longer than the cap, nor less than 100 ms, for the default backoff and any attempt', function () {
        assert.strictEqual(RETRY_CAP_MS, 3000);
        for (let attempt = 0; attempt < 200; attempt++) {
            const d = retryDelay(attempt, 2000);
            assert.ok(d >= 2000 && d <= RETRY_CAP_MS, `attempt ${attempt}: ${d}`);
        }
    });
    it('an outage of any length is retried at least every 3 s after the first minute', function () {
        let t = 0;
        let attempt = 0;
        const tries = [];
        while (t < 600000) { t += retryDelay(attempt++, 2000); tries.push(t); }
        const gaps = tries.slice(1).map((x, i) => x - tries[i]);
        assert.ok(Math.max(...gaps) <= 3000);
        assert.ok(tries.length < 600000 / 2000, 'no more than one try every 2 s');
    });
});

describe('reachability', function () {
    const cases = [
        ['nothing known', [], [], [], false],
        ['all up', [['a:1', true], ['b:2', true]], ['a:1', 'b:2'], [], false],
        ['all down', [['a:1', false], ['b:2', false]], [], ['a:1', 'b:2'], false],
        ['one of three down', [['a:1', true], ['c:3', false], ['b:2', true]], ['a:1', 'b:2'], ['c:3'], true],
        ['down, then back', [['a:1', true], ['b:2', false], ['b:2', true]], ['a:1', 'b:2'], [], false],
        ['up, then down', [['a:1', true], ['b:2', true], ['b:2', false]], ['a:1'], ['b:2'], true],
    ];
    for (const [name, events, up, down, partial] of cases) {
        it(name, function () {
            const r = new Reachability();
            for (const [address, ok] of events) r.record(address, ok);
            assert.deepStrictEqual([r.up(), r.down(), r.partial], [up, down, partial]);
        });
    }
    it('record() says whether the address changed sides; clear() forgets', function () {
        const r = new Reachability();
        assert.deepStrictEqual([r.record('a:1', false), r.record('a:1', false), r.record('a:1', true), r.record('a:1', true)], [true, false, true, false]);
        r.clear();
        assert.deepStrictEqual([r.up(), r.down()], [[], []]);
    });
});

describe('tls check', function () {
    it('reports a certificate without a key', function () {
        assert.strictEqual(checkTls({ cert: 'x' }).key, 'tls-cert-key');
        assert.strictEqual(checkTls({ key: 'x' }).key, 'tls-cert-key');
    });
    it('reports material that is not PEM', function () {
        assert.strictEqual(checkTls({ ca: 'not a certificate' }).key, 'tls-unusable');
        assert.strictEqual(checkTls({ cert: 'nope', key: 'nope' }).key, 'tls-unusable');
    });
    it('accepts nothing at all (system CAs)', function () {
        assert.strictEqual(checkTls({}), undefined);
    });
    it('accepts a real CA, certificate and key', async function () {
        this.timeout(30000);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-check-'));
        const files = await makeCerts(dir);
        assert.strictEqual(checkTls({
            ca: fs.readFileSync(files.ca), cert: fs.readFileSync(files.clientCert), key: fs.readFileSync(files.clientKey),
        }), undefined);
        assert.strictEqual(checkTls({ cert: fs.readFileSync(files.clientKey), key: fs.readFileSync(files.clientCert) }).key, 'tls-unusable');
        fs.rmSync(dir, { recursive: true, force: true });
    });
});

describe('within', function () {
    it('resolves with the value when in time', async function () {
        assert.strictEqual(await within(Promise.resolve(5), 100), 5);
    });
    it('gives up after the budget', async function () {
        const start = Date.now();
        assert.strictEqual(await within(new Promise(() => undefined), 50), undefined);
        assert.ok(Date.now() - start < 1000);
    });
    it('swallows a rejection', async function () {
        assert.strictEqual(await within(Promise.reject(new Error('x')), 50), undefined);
    });
});
