'use strict';
/*
 * Installs the package the way the palette manager does (`npm pack`, then
 * `npm install --prefix <user dir> <tarball>`) into a fresh Node-RED user dir, starts
 * Node-RED on it, and asks its admin API what a user would see: the three node types
 * registered, their editor files and catalogs served, and the examples listed under
 * Import > Examples.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const { execFileSync } = require('child_process');
const should = require('should');
const { start } = require('../../scripts/demo');
const env = require('./kafka-env');

const REPO = path.join(__dirname, '..', '..');
const PKG = require('../../package.json');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function get(url, accept = 'application/json', lang) {
    return new Promise((resolve, reject) => {
        const headers = { Accept: accept };
        if (lang) headers['Accept-Language'] = lang;
        http.get(url, { headers }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d) => { body += d; });
            res.on('end', () => resolve({ status: res.statusCode, body }));
        }).on('error', reject);
    });
}

describe('palette install (npm pack + npm install into a user dir)', function () {
    this.timeout(300000);
    let dir = null;
    let tarball = null;
    let red = null;

    before(async function () {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafka-palette-'));
        const packed = JSON.parse(execFileSync(NPM, ['pack', '--json', '--pack-destination', dir], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
        tarball = path.join(dir, packed[0].filename);
        const userDir = path.join(dir, 'user');
        fs.mkdirSync(userDir);
        fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', version: '0.0.1', private: true }));
        execFileSync(NPM, ['install', '--prefix', userDir, '--no-audit', '--no-fund', '--omit=dev', tarball], { stdio: ['ignore', 'ignore', 'pipe'] });
        red = await start({ port: 0, userDir, flows: 'none', linkPackage: false, logLevel: 'warn', brokers: env.info().plaintext });
    });

    after(async function () {
        if (red) await red.stop();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('packs only what a user needs', function () {
        const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
        for (const f of ['package.json', 'nodes/kafka-config.js', 'nodes/kafka-config.html', 'nodes/kafka-consumer.js', 'nodes/kafka-publish.js', 'nodes/kafka-schema-registry.js',
            'nodes/icons/kafka.svg', 'nodes/locales/en-US/kafka-config.json', 'nodes/locales/zh-CN/kafka-config.html']) {
            files.should.containEql(f);
        }
        files.filter((f) => f.startsWith('examples/')).length.should.equal(7);
        // the icon once, beside the node .js files where Node-RED looks for it
        files.filter((f) => f.endsWith('kafka.svg')).should.deepEqual(['nodes/icons/kafka.svg']);
        files.filter((f) => /^(src|test|scripts|\.kafka|bench)\//.test(f)).should.deepEqual([]);
    });

    it('registers the four node types from the installed module', async function () {
        const res = await get(`${red.url}nodes`);
        res.status.should.equal(200);
        const sets = JSON.parse(res.body).filter((s) => s.module === PKG.name);
        const types = sets.flatMap((s) => s.types).sort();
        types.should.deepEqual(['kafka-config', 'kafka-consumer', 'kafka-publish', 'kafka-schema-registry']);
        for (const s of sets) {
            s.should.match({ enabled: true, local: true, version: PKG.version });
            should.not.exist(s.err);
        }
        const module = JSON.parse((await get(`${red.url}nodes/${PKG.name}`)).body);
        module.should.match({ name: PKG.name, version: PKG.version });
        // installed under the user dir, not linked to the repository
        fs.realpathSync(path.join(red.userDir, 'node_modules', PKG.name)).should.not.equal(fs.realpathSync(REPO));
    });

    it('serves the editor files, with the icon', async function () {
        const html = (await get(`${red.url}nodes`, 'text/html')).body;
        for (const type of ['kafka-config', 'kafka-consumer', 'kafka-publish', 'kafka-schema-registry']) {
            html.should.match(new RegExp(`RED\\.nodes\\.registerType\\(\\s*'${type}'`));
            html.should.match(new RegExp(`data-help-name="${type}"`));
        }
        const icon = await get(`${red.url}icons/${PKG.name}/kafka.svg`, 'image/svg+xml');
        icon.status.should.equal(200);
        icon.body.should.match(/<svg/);
    });

    it('serves the message catalogs in English and Chinese', async function () {
        const en = JSON.parse((await get(`${red.url}nodes/messages?lng=en-US`)).body);
        en[`${PKG.name}/kafka-config`]['kafka-config'].label.brokers.should.equal('Brokers');
        const zh = JSON.parse((await get(`${red.url}nodes/messages?lng=zh-CN`)).body);
        zh[`${PKG.name}/kafka-config`]['kafka-config'].label.brokers.should.equal('集群地址');
    });

    it('lists the examples under Import > Examples, and serves them', async function () {
        const modules = JSON.parse((await get(`${red.url}library/examples/flows/`)).body);
        modules.should.containEql(PKG.name);
        const entries = JSON.parse((await get(`${red.url}library/examples/flows/${PKG.name}`)).body);
        const names = entries.map((e) => (typeof e === 'string' ? e : e.fn)).sort();
        names.should.deepEqual(['01 Consume a topic', '02 Publish from an HTTP request', '03 Consume transform publish', '04 SCRAM over TLS', '05 Exactly once', '06 Schema registry Avro', '07 Batch consumption']);
        const flow = JSON.parse((await get(`${red.url}library/examples/flows/${PKG.name}/${encodeURIComponent('01 Consume a topic')}`)).body);
        flow.map((n) => n.type).should.containEql('kafka-consumer');
    });
});
