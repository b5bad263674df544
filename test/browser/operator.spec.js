'use strict';
/* global RED, document */ // used only inside page.evaluate() / waitForFunction(), in the browser
/*
 * What an operator sees in the editor, in a real headless Chromium: the `npm start`
 * demo flow loads with every node valid (its consumer has none of the newer optional
 * fields), a flow saved by an earlier version imports valid, and the Kafka sidebar
 * shows the demo's group with a lag that rises while the consumer is paused and falls
 * to 0 as the flow catches up. The sidebar screenshot goes to docs/screenshots/.
 *
 *   npm run test:browser        (needs: apt-get install -y chromium)
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const should = require('should');
const { Kafka, logLevel } = require('kafkajs');
const { start, DEMO_TOPIC } = require('../../scripts/demo');
const { launch } = require('./chromium');

const SHOTS = path.join(__dirname, '..', '..', 'test-results', 'screenshots');
const DOCS = path.join(__dirname, '..', '..', 'docs', 'screenshots');

function post(url) {
    return new Promise((resolve, reject) => {
        const req = http.request(url, { method: 'POST' }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
        req.on('error', reject);
        req.end();
    });
}

describe('the operator in Chromium: demo validity and the Kafka sidebar', function () {
    this.timeout(240000);
    let demo = null;
    let browser = null;
    let page = null;
    let userDir = null;
    const pageErrors = [];

    before(async function () {
        fs.mkdirSync(SHOTS, { recursive: true });
        userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafka-operator-user-'));
        demo = await start({ port: 0, userDir, flows: 'demo', logLevel: 'warn' });
        browser = await launch({ locale: 'en-US', viewport: { width: 1500, height: 900 } });
        page = await browser.context.newPage();
        page.on('pageerror', (err) => pageErrors.push(err.message));
        await page.goto(demo.url);
        await page.waitForSelector('.red-ui-palette-node[data-palette-type="kafka-consumer"]', { timeout: 60000 });
        await page.waitForFunction(() => RED.nodes.filterNodes({ type: 'kafka-consumer' }).length === 1, null, { timeout: 30000 });
    });

    after(async function () {
        if (browser) await browser.close();
        if (demo) await demo.stop();
        if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
    });

    /** Every node of the workspace that the editor marks invalid (a red triangle), with its type. */
    const invalidNodes = () => page.evaluate(() => {
        const bad = [];
        RED.nodes.eachNode((n) => { if (n.valid === false) bad.push(`${n.type} ${n.id}`); });
        RED.nodes.eachConfig((n) => { if (n.valid === false) bad.push(`${n.type} ${n.id}`); });
        return bad;
    });

    it('loads the npm start demo flow with every node valid', async function () {
        const consumer = await page.evaluate(() => {
            const c = RED.nodes.node('demo-consumer');
            return { maxInFlight: c.maxInFlight, maxAttempts: c.maxAttempts, ackTimeout: c.ackTimeout };
        });
        // the demo's consumer lacks the newer optional fields, as a flow from an earlier version does
        should(consumer.maxInFlight === undefined || consumer.maxInFlight === '' || consumer.maxInFlight === 100).be.true();
        (await invalidNodes()).should.deepEqual([]);
        (await page.locator('.red-ui-flow-node-error:visible').count()).should.equal(0);
    });

    it('imports a flow saved without the newer optional properties, every node valid', async function () {
        const legacy = [
            { id: 'legacy-cfg', type: 'kafka-config', name: 'old', brokers: demo.brokers },
            { id: 'legacy-c', type: 'kafka-consumer', z: 'demo-tab', name: 'old consumer', config: 'legacy-cfg', group: 'old-group', topics: 'orders', x: 200, y: 500, wires: [[]] },
            { id: 'legacy-p', type: 'kafka-publish', z: 'demo-tab', name: 'old publish', config: 'legacy-cfg', topic: 'orders', x: 400, y: 500, wires: [[]] },
        ];
        await page.evaluate((flow) => {
            const tab = RED.workspaces.active();
            RED.view.importNodes(flow.map((n) => (n.z ? { ...n, z: tab } : n)), { generateIds: false, addFlow: false });
        }, legacy);
        await page.mouse.click(700, 600);
        await page.waitForFunction(() => RED.nodes.node('legacy-c') && RED.nodes.node('legacy-p'));
        (await invalidNodes()).should.deepEqual([]);
        await page.screenshot({ path: path.join(SHOTS, '11-legacy-flow-valid.png') });
        // take them out again: not deployed
        await page.evaluate(() => {
            RED.view.select({ nodes: [RED.nodes.node('legacy-c'), RED.nodes.node('legacy-p')] });
            RED.actions.invoke('core:delete-selection');
        });
    });

    it('shows the demo group in the Kafka sidebar, its lag rising while paused and falling to 0 as the flow catches up', async function () {
        await page.evaluate(() => RED.sidebar.show('kafka-connector'));
        // widen the sidebar as a user would, by dragging its edge
        const edge = await page.locator('#red-ui-sidebar-separator').boundingBox();
        if (edge) {
            await page.mouse.move(edge.x + edge.width / 2, edge.y + edge.height / 2);
            await page.mouse.down();
            await page.mouse.move(edge.x - 260, edge.y + edge.height / 2, { steps: 10 });
            await page.mouse.up();
        }
        const group = '.kafka-sidebar-group[data-group="node-red-demo"]';
        await page.waitForSelector(`${group} .kafka-sidebar-lag`, { timeout: 60000 });
        const lag = async () => Number((await page.textContent(`${group} .kafka-sidebar-lag`)).trim());
        // the demo's own records are consumed: the lag settles at 0
        await page.waitForFunction((sel) => {
            const el = document.querySelector(sel);
            return el && el.textContent.trim() === '0';
        }, `${group} .kafka-sidebar-lag`, { timeout: 60000 });

        (await post(`${demo.url}inject/demo-pause`)).should.equal(200);
        const kafka = new Kafka({ clientId: 'browser-spec', brokers: [demo.brokers], logLevel: logLevel.NOTHING });
        const producer = kafka.producer();
        await producer.connect();
        try {
            await producer.send({ topic: DEMO_TOPIC, messages: Array.from({ length: 250 }, (_, i) => ({ value: `backlog ${i}` })) });
        } finally {
            await producer.disconnect();
        }
        await page.waitForFunction((sel) => {
            const el = document.querySelector(sel);
            return el && Number(el.textContent.trim()) >= 250;
        }, `${group} .kafka-sidebar-lag`, { timeout: 30000 });
        (await lag()).should.be.aboveOrEqual(250);
        // the owning node and the Node-RED instance (host:pid)
        const instance = await page.textContent(`${group} tr[data-tp="${DEMO_TOPIC}/0"] .kafka-sidebar-instance`);
        instance.should.equal(`${os.hostname()}:${process.pid}`.replace(/[^A-Za-z0-9._:-]/g, '_'));
        await page.mouse.click(700, 600);
        await page.waitForSelector('.red-ui-notification', { state: 'hidden', timeout: 15000 }).catch(() => undefined);
        await page.waitForTimeout(3500); // one more refresh of the status figures
        await page.screenshot({ path: path.join(SHOTS, '12-sidebar-lag.png') });
        fs.mkdirSync(DOCS, { recursive: true });
        await page.screenshot({ path: path.join(DOCS, 'kafka-sidebar.png') });

        (await post(`${demo.url}inject/demo-resume`)).should.equal(200);
        await page.waitForFunction((sel) => {
            const el = document.querySelector(sel);
            return el && el.textContent.trim() === '0';
        }, `${group} .kafka-sidebar-lag`, { timeout: 90000 });
        await page.screenshot({ path: path.join(SHOTS, '13-sidebar-caught-up.png') });
        // the consumer's own status shows its figures too
        const status = await page.evaluate(() => RED.nodes.node('demo-consumer').status);
        status.text.should.match(/lag \d+ · \d+ rec\/s/);
        pageErrors.should.deepEqual([]);
    });
});

