'use strict';
/* global RED */ // used only inside page.evaluate(), in the browser
/*
 * What a user sees, in a real headless Chromium (Debian's, driven by playwright-core):
 * a real Kafka broker and Node-RED with this package (scripts/demo.js start()), then the
 * palette, the config dialog and its validation, an example imported, deployed and
 * consuming, the schema registry's subjects offered in kafka-publish (a real registry
 * beside the broker), and the editor in Chinese. Screenshots go to test-results/screenshots/.
 *
 *   npm run test:browser        (needs: apt-get install -y chromium)
 */
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const should = require('should');
const { Kafka, logLevel } = require('kafkajs');
const { start, createTopic } = require('../../scripts/demo');
const { launch } = require('./chromium');

const SHOTS = path.join(__dirname, '..', '..', 'test-results', 'screenshots');
const TYPES = ['kafka-config', 'kafka-consumer', 'kafka-publish'];

/** A POST of JSON to the schema registry; resolves to the status. */
function registryPost(url, body) {
    return new Promise((resolve, reject) => {
        const data = JSON.stringify(body);
        const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/vnd.schemaregistry.v1+json', 'content-length': Buffer.byteLength(data) } }, (res) => {
            res.resume();
            resolve(res.statusCode);
        });
        req.on('error', reject);
        req.end(data);
    });
}

describe('the editor in Chromium', function () {
    this.timeout(180000);
    let demo = null;
    let browser = null;
    let page = null;
    let userDir = null;
    const pageErrors = [];

    before(async function () {
        fs.mkdirSync(SHOTS, { recursive: true });
        userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafka-editor-user-'));
        demo = await start({ port: 0, userDir, flows: 'none', logLevel: 'warn', schemaRegistry: true });
        await createTopic(demo.brokers, 'orders');
        browser = await launch({ locale: 'en-US' });
        page = await browser.context.newPage();
        page.on('pageerror', (err) => pageErrors.push(err.message));
        await page.goto(demo.url);
        await page.waitForSelector('.red-ui-palette-node[data-palette-type="inject"]', { timeout: 60000 });
    });

    after(async function () {
        if (browser) await browser.close();
        if (demo) await demo.stop();
        if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
    });

    /** Opens a tab of the config dialog and waits until its content shows. */
    async function openTab(id) {
        const link = page.locator(`#node-config-kafka-config-tabs a[href="#${id}"]`);
        for (let i = 0; i < 5 && !(await page.isVisible(`#${id}`)); i++) {
            await link.scrollIntoViewIfNeeded();
            await link.click();
            await page.waitForTimeout(300);
        }
        await page.waitForSelector(`#${id}`, { state: 'visible' });
    }

    /** Enters text as typing would: the value, then the keyup Node-RED validates on. */
    async function typeInto(selector, text, on = page) {
        await on.fill(selector, text);
        await on.locator(selector).dispatchEvent('keyup');
    }

    async function shot(name) {
        await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
    }

    it('shows the consumer and publish nodes in the palette, and registers all three types', async function () {
        for (const type of ['kafka-consumer', 'kafka-publish']) {
            await page.waitForSelector(`.red-ui-palette-node[data-palette-type="${type}"]`, { state: 'attached' });
        }
        const registered = await page.evaluate((types) => types.filter((t) => RED.nodes.getType(t)), TYPES);
        registered.should.deepEqual(TYPES);
        const labels = await page.$$eval('.red-ui-palette-node[data-palette-type^="kafka-"] .red-ui-palette-label', (els) => els.map((e) => e.textContent.trim()));
        labels.length.should.equal(2);
        await page.fill('#red-ui-palette-search input', 'kafka');
        await page.waitForTimeout(500);
        await shot('01-palette');
        await page.fill('#red-ui-palette-search input', '');
    });

    it('imports an example from Import > Examples', async function () {
        await page.evaluate(() => RED.actions.invoke('core:show-examples-import-dialog'));
        const dialog = page.locator('#red-ui-clipboard-dialog');
        await dialog.getByText('node-red-contrib-kafka-connector', { exact: true }).click();
        await dialog.getByText('01 Consume a topic', { exact: true }).click();
        await shot('02-import-example');
        await page.click('#red-ui-clipboard-dialog-ok');
        await page.waitForFunction(() => RED.nodes.filterNodes({ type: 'kafka-consumer' }).length === 1);
        // the imported nodes stay selected and follow the mouse until dropped: drop them
        await page.mouse.move(500, 300);
        await page.mouse.click(500, 300);
    });

    it('validates the config node as the user types, with the message in the dialog', async function () {
        const consumer = await page.evaluate(() => RED.nodes.filterNodes({ type: 'kafka-consumer' })[0].id);
        await page.evaluate((id) => RED.editor.edit(RED.nodes.node(id)), consumer);
        await page.click('#node-input-btn-config-edit');
        await page.waitForSelector('#node-config-input-brokers', { state: 'visible' });
        await typeInto('#node-config-input-brokers', 'nonsense');
        await page.waitForSelector('#kafka-config-problems:has-text("is not a host:port address")');
        (await page.getAttribute('#node-config-input-brokers', 'class')).should.match(/input-error/);
        await shot('03-config-invalid-brokers');

        await typeInto('#node-config-input-brokers', demo.brokers);
        await openTab('kafka-config-tab-consumer');
        await typeInto('#node-config-input-heartbeatInterval', '12000');
        await page.waitForSelector('#kafka-config-problems:has-text("must be below the session timeout")');
        (await page.getAttribute('#node-config-input-heartbeatInterval', 'class')).should.match(/input-error/);
        await shot('04-config-heartbeat-session');
        // raising the session timeout clears the heartbeat's error too
        await typeInto('#node-config-input-sessionTimeout', '30000');
        await page.waitForSelector('#kafka-config-problems', { state: 'hidden' });
        (await page.getAttribute('#node-config-input-heartbeatInterval', 'class') || '').should.not.match(/input-error/);

        await openTab('kafka-config-tab-security');
        await page.selectOption('#node-config-input-saslMode', 'scram');
        (await page.isVisible('#node-config-input-scramMechanism')).should.be.true();
        (await page.isVisible('#node-config-input-username')).should.be.true();
        await page.selectOption('#node-config-input-saslMode', 'none');
        (await page.isVisible('#node-config-input-username')).should.be.false();
        (await page.isVisible('#node-config-input-tls')).should.be.false();
        await shot('05-config-security');

        await page.click('#node-config-dialog-ok');
        await page.click('#node-dialog-ok');
        const cfg = await page.evaluate(() => {
            const c = RED.nodes.node(RED.nodes.filterNodes({ type: 'kafka-consumer' })[0].config);
            return { brokers: c.brokers, heartbeatInterval: c.heartbeatInterval, sessionTimeout: c.sessionTimeout, valid: c.valid };
        });
        cfg.brokers.should.equal(demo.brokers);
        String(cfg.sessionTimeout).should.equal('30000');
        cfg.valid.should.be.true();
    });

    it('deploys the example: the consumer connects and a record shows in the debug sidebar', async function () {
        await page.click('#red-ui-header-button-deploy');
        await page.waitForFunction(() => {
            const c = RED.nodes.filterNodes({ type: 'kafka-consumer' })[0];
            return c && c.status && c.status.fill === 'green';
        }, null, { timeout: 60000 });
        await page.evaluate(() => RED.sidebar.show('debug'));

        const kafka = new Kafka({ clientId: 'browser-spec', brokers: [demo.brokers], logLevel: logLevel.NOTHING });
        const producer = kafka.producer();
        await producer.connect();
        const text = `hello ${Date.now().toString(36)}`; // short: the sidebar cuts long strings
        try {
            // The group may still be settling: send until the record is shown.
            const end = Date.now() + 60000;
            for (;;) {
                await producer.send({ topic: 'orders', messages: [{ value: text }] });
                const shown = await page.waitForSelector(`.red-ui-debug-msg:has-text("${text}")`, { timeout: 3000 }).then(() => true, () => false);
                if (shown) break;
                if (Date.now() > end) {
                    await shot('06-deployed-debug-FAILED');
                    const state = await page.evaluate(() => RED.nodes.filterNodes({ type: 'kafka-consumer' })[0].status);
                    throw new Error(`no record in the debug sidebar (consumer status ${JSON.stringify(state)})`);
                }
            }
        } finally {
            await producer.disconnect();
        }
        const status = await page.evaluate(() => RED.nodes.filterNodes({ type: 'kafka-consumer' })[0].status);
        status.fill.should.equal('green');
        await page.mouse.click(300, 750); // deselect
        await page.waitForSelector('.red-ui-notification', { state: 'hidden', timeout: 15000 }).catch(() => undefined);
        await shot('06-deployed-debug');
        pageErrors.should.deepEqual([]);
    });

    it('lists the schema registry\'s subjects where the user picks one in kafka-publish', async function () {
        const subject = `picked-${Date.now().toString(36)}-value`;
        const schema = JSON.stringify({ type: 'record', name: 'Picked', fields: [{ name: 'id', type: 'int' }] });
        (await registryPost(`${demo.registryUrl}/subjects/${subject}/versions`, { schema })).should.equal(200);
        await page.evaluate((url) => RED.view.importNodes([
            { id: 'picker-reg', type: 'kafka-schema-registry', name: 'picker registry', url },
            { id: 'picker-pub', type: 'kafka-publish', name: 'encoded', topic: 'orders', registry: 'picker-reg', encode: 'value', x: 300, y: 420, z: RED.workspaces.active(), wires: [] },
        ]), demo.registryUrl);
        await page.mouse.move(500, 420);
        await page.mouse.click(500, 420);
        await page.evaluate(() => RED.editor.edit(RED.nodes.filterNodes({ type: 'kafka-publish' }).find((n) => n.name === 'encoded')));
        await page.waitForSelector('#node-input-valueSubject', { state: 'visible' });
        // the registry node is not deployed: the editor asks with its URL
        await page.locator('.kafka-publish-registry .kafka-publish-subjects').first().click();
        await page.waitForSelector(`#kafka-publish-subject-list option[value="${subject}"]`, { state: 'attached', timeout: 15000 });
        (await page.inputValue('#node-input-schemaType')).should.equal('AVRO', 'imported without a schema type: the default shows');
        await typeInto('#node-input-valueSubject', subject);
        await shot('07-publish-subjects');
        await page.click('#node-dialog-ok');
        const picked = await page.evaluate(() => RED.nodes.filterNodes({ type: 'kafka-publish' }).find((n) => n.name === 'encoded').valueSubject);
        picked.should.equal(subject);
        pageErrors.should.deepEqual([]);
    });

    it('speaks Chinese when the browser does', async function () {
        const zh = await launch({ locale: 'zh-CN' });
        try {
            const p = await zh.context.newPage();
            await p.goto(demo.url);
            await p.waitForSelector('.red-ui-palette-node[data-palette-type="kafka-consumer"]', { timeout: 60000 });
            const lang = await p.evaluate(() => RED.i18n.lang());
            lang.should.equal('zh-CN');
            await p.evaluate(() => RED.editor.editConfig('', 'kafka-config', RED.nodes.filterNodes({ type: 'kafka-consumer' })[0].config));
            await p.waitForSelector('#node-config-input-brokers', { state: 'visible' });
            const label = await p.textContent('label[for="node-config-input-brokers"]');
            label.trim().should.equal('集群地址');
            const tabs = await p.$$eval('#node-config-kafka-config-tabs .red-ui-tab-label', (els) => els.map((e) => e.textContent.trim()));
            tabs.should.deepEqual(['连接配置', '安全认证', '消费者组配置', '生产者配置']);
            await typeInto('#node-config-input-brokers', 'nonsense', p);
            await p.waitForSelector('#kafka-config-problems:has-text("不是 host:port 格式的地址")');
            await p.screenshot({ path: path.join(SHOTS, '08-config-zh-CN.png') });
            // the help (info sidebar, palette tooltips) is the Chinese one too
            const help = await p.evaluate(() => RED.nodes.getNodeHelp('kafka-config'));
            should(help).match(/与 Apache Kafka 集群的连接/);
        } finally {
            await zh.close();
        }
    });
});
