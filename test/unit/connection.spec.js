'use strict';
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const os = require('os');
const { makeCerts } = require('../../scripts/kafka/broker');
const { statusView, retryDelay } = require('../../nodes/lib/connection-state');
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
    const delays = [
        [0, 2000, 2000], [1, 2000, 4000], [2, 2000, 8000], [10, 2000, 60000], [0, 0, 100], [3, 0, 800], [0, 90000, 90000], [5, 90000, 90000],
    ];
    for (const [attempt, backoff, expected] of delays) {
        it(`retry ${attempt} with backoff ${backoff} waits ${expected} ms`, function () {
            assert.strictEqual(retryDelay(attempt, backoff), expected);
        });
    }
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
