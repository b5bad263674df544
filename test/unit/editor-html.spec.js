'use strict';
/*
 * Static checks of the editor files nodes/*.html: each registers its type with an inline
 * object literal (what node-red-dev validate reads), every field has an input, validators
 * return translated messages the way Node-RED 3.1+ shows them, and kafka-config's fields,
 * defaults and checks are the runtime's (nodes/lib/settings.js, after the build).
 *
 * The editor script runs in a sandbox with a stand-in RED: registerType records the
 * definition, RED._ translates with the package's en-US catalogs and records every key.
 */
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const should = require('should');
const settings = require('../../nodes/lib/settings');

const NODES = path.join(__dirname, '..', '..', 'nodes');
const MODULE = require('../../package.json').name;
const CORE_EN = require('@node-red/nodes/locales/en-US/messages.json');
const PLUGINS = Object.keys(require('../../package.json')['node-red'].plugins || {}).map((n) => `${n}.html`);
const allHtml = fs.readdirSync(NODES).filter((f) => f.endsWith('.html')).sort();
/** The node types' editor files; the plugins' (the Kafka sidebar) are checked on their own below. */
const htmlFiles = allHtml.filter((f) => !PLUGINS.includes(f));

function catalog(name) {
    const file = path.join(NODES, 'locales', 'en-US', `${name}.json`);
    return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
}

function lookup(tree, key) {
    return key.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), tree);
}

/** Translates `ns:key` like the editor: `node-red:` is the core catalog, `<module>/<set>:` a node's. */
function translate(key, params, missing) {
    const m = /^([^:]+):(.+)$/.exec(key);
    let text;
    if (m && m[1] === 'node-red') text = lookup(CORE_EN, m[2]);
    else if (m && m[1].startsWith(`${MODULE}/`)) text = lookup(catalog(m[1].slice(MODULE.length + 1)), m[2]);
    if (typeof text !== 'string') {
        missing.push(key);
        return key;
    }
    return text.replace(/__(\w+)__/g, (_, p) => (params && p in params ? String(params[p]) : `__${p}__`));
}

/** Runs a node's editor script; resolves its registrations and the keys it translated. */
function load(file) {
    const html = fs.readFileSync(path.join(NODES, file), 'utf8');
    const scripts = [...html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)].map((m) => m[1]);
    const registered = {};
    const used = [];
    const missing = [];
    const noInput = () => ({ length: 0, attr() {}, val() {}, prop() { return false; }, is() { return false; } });
    const validator = () => function (v, opt) { return opt === undefined || true; };
    const RED = {
        nodes: { registerType(type, def) { registered[type] = def; }, getType: (type) => registered[type] },
        _: (key, params) => {
            used.push(key);
            return translate(key, params, missing);
        },
        validators: { number: validator, regex: validator, typedInput: validator },
    };
    const sandbox = { RED, $: noInput, window: {}, console };
    for (const code of scripts) vm.runInNewContext(code, sandbox, { filename: file });
    return { html, registered, used, missing, sandbox };
}

/** Runs every validator of a definition on a node's values; returns the messages. */
function validate(def, node, credentials = {}) {
    const messages = [];
    const run = (defs, values) => {
        for (const [field, spec] of Object.entries(defs || {})) {
            if (typeof spec.validate !== 'function') continue;
            const r = spec.validate.call(node, values[field] === undefined ? spec.value : values[field], {});
            if (typeof r === 'string') messages.push(r);
            else should(r).equal(true, `${field}: a validator returns true or a message`);
        }
    };
    run(def.defaults, node);
    run(def.credentials, credentials);
    return messages;
}

describe('editor html (nodes/*.html)', function () {
    it('there is one for each node in package.json, and no other', function () {
        const declared = Object.keys(require('../../package.json')['node-red'].nodes).map((n) => `${n}.html`).sort();
        htmlFiles.should.deepEqual(declared);
        allHtml.filter((f) => PLUGINS.includes(f)).should.deepEqual(PLUGINS.slice().sort());
    });

    for (const file of PLUGINS) {
        it(`${file} registers its plugin and uses only message keys that exist in both languages`, function () {
            const html = fs.readFileSync(path.join(NODES, file), 'utf8');
            html.should.match(new RegExp(`RED\\.plugins\\.registerPlugin\\('${path.basename(file, '.html')}'`));
            const ns = /var NS = '([^']+)';/.exec(html)[1];
            const [, set, prefix] = /^[^/]+\/([^:]+):(.+)$/.exec(ns);
            const keys = [...html.matchAll(/\bt\('([\w.-]+)'/g)].map((m) => m[1]);
            keys.length.should.be.above(10);
            for (const lang of ['en-US', 'zh-CN']) {
                const tree = JSON.parse(fs.readFileSync(path.join(NODES, 'locales', lang, `${set}.json`), 'utf8'));
                const missing = keys.filter((k) => typeof `${prefix}${k}`.split('.').reduce((o, x) => (o ? o[x] : undefined), tree) !== 'string');
                missing.should.deepEqual([], `${lang}: ${missing.join(', ')}`);
            }
        });
    }

    for (const file of htmlFiles) {
        const type = path.basename(file, '.html');
        describe(file, function () {
            it(`registers '${type}' with an inline object literal`, function () {
                const { html, registered } = load(file);
                html.should.match(new RegExp(`RED\\.nodes\\.registerType\\(\\s*['"]${type}['"]\\s*,\\s*\\{`));
                Object.keys(registered).should.deepEqual([type]);
                should(registered[type].defaults).be.an.Object();
            });

            it('has an edit template with an input for every field', function () {
                const { html, registered } = load(file);
                html.should.match(new RegExp(`data-template-name="${type}"`));
                const def = registered[type];
                const prefix = def.category === 'config' ? 'node-config-input' : 'node-input';
                const fields = [...Object.keys(def.defaults), ...Object.keys(def.credentials || {})];
                const withoutInput = fields.filter((f) => !html.includes(`id="${prefix}-${f}"`));
                withoutInput.should.deepEqual([], `fields without an input ${prefix}-<field>`);
            });

            it('declares validators as (value, opt), so Node-RED shows the message they return', function () {
                const { registered } = load(file);
                const def = registered[type];
                const oneArg = Object.entries({ ...def.defaults, ...(def.credentials || {}) })
                    .filter(([, spec]) => typeof spec.validate === 'function' && spec.validate.length !== 2)
                    .map(([field]) => field);
                oneArg.should.deepEqual([], 'a validator with fewer than two parameters has its message taken as "valid"');
            });

            it('translates every message its validators return (namespaced keys that exist)', function () {
                const { registered, missing } = load(file);
                const def = registered[type];
                for (const bad of ['', 'nonsense', '-1', '99999999999']) {
                    const node = {};
                    for (const field of Object.keys(def.defaults)) node[field] = bad;
                    validate(def, node, { username: '', password: '' });
                }
                missing.should.deepEqual([], 'keys that the editor cannot translate');
            });
        });
    }
});

describe('kafka-config editor against the runtime (nodes/lib/settings.js)', function () {
    const { registered, html } = load('kafka-config.html');
    const def = registered['kafka-config'];

    /** The raw fields readSettings reads, found by letting it read a proxy. */
    function fieldsRead() {
        const read = new Set();
        const raw = new Proxy({}, { get(_, key) { if (typeof key === 'string') read.add(key); return undefined; } });
        settings.readSettings(raw, {});
        return [...read].sort();
    }

    it('has exactly the fields readSettings reads, plus name and the tls-config reference', function () {
        Object.keys(def.defaults).sort().should.deepEqual([...fieldsRead(), 'name', 'tls'].sort());
        should(def.defaults.tls.type).equal('tls-config');
        should(def.defaults.tls.required).equal(false);
        Object.keys(def.credentials).should.deepEqual(['username', 'password']);
        should(def.credentials.username.type).equal('text');
        should(def.credentials.password.type).equal('password');
    });

    it('uses the runtime defaults', function () {
        const expected = {
            ...settings.CONSUMER_DEFAULTS,
            ...Object.fromEntries(Object.entries(settings.PRODUCER_DEFAULTS).map(([k, v]) => [k === 'requestTimeout' ? 'producerRequestTimeout' : k, v])),
            ...settings.CONNECTION_DEFAULTS,
            useTls: false,
        };
        for (const [field, value] of Object.entries(expected)) {
            should(def.defaults[field]).have.property('value', value, `default of ${field}`);
        }
        const values = Object.fromEntries(Object.entries(def.defaults).map(([k, d]) => [k, d.value]));
        const fromEditor = settings.readSettings({ ...values, brokers: 'kafka:9092' });
        const fromNothing = settings.readSettings({ brokers: 'kafka:9092' });
        fromEditor.problems.should.deepEqual([]);
        fromEditor.settings.should.deepEqual(fromNothing.settings);
    });

    it('offers the runtime list of Kafka versions, and its blank-field defaults are the runtime ones', function () {
        const versions = [...vm.runInNewContext(/var KAFKA_VERSIONS = (\[[^\]]*\])/.exec(html)[1])];
        versions.should.deepEqual([...settings.KAFKA_VERSIONS]);
        const numberDefaults = vm.runInNewContext(`(${/var NUMBER_DEFAULTS = (\{[^}]*\})/.exec(html)[1]})`);
        for (const [field, value] of Object.entries(numberDefaults)) {
            should(def.defaults[field]).have.property('value', value, field);
        }
    });

    // The same configuration, checked by the editor and by the runtime: both accept it or
    // both refuse it, with the same catalog entry (kafka-config.errors.<key>).
    const base = { brokers: 'kafka1:9092,kafka2:9093' };
    const cases = [
        ['the defaults', {}, {}, []],
        ['two brokers with spaces', { brokers: 'a:1, b:2' }, {}, []],
        ['an IPv6 broker', { brokers: '[::1]:9092' }, {}, []],
        ['brokers that are no address', { brokers: 'nonsense' }, {}, ['broker-malformed']],
        ['a port out of range', { brokers: 'kafka:70000' }, {}, ['broker-malformed']],
        ['no brokers', { brokers: ' , ' }, {}, ['brokers-empty']],
        ['heartbeat equal to the session timeout', { heartbeatInterval: '10000', sessionTimeout: '10000' }, {}, ['heartbeat-session']],
        ['heartbeat above the default session timeout', { heartbeatInterval: 12000 }, {}, ['heartbeat-session']],
        ['a number that is not whole', { retryBackoff: '1.5' }, {}, ['bad-number']],
        ['a negative number', { commitInterval: -1 }, {}, ['bad-number']],
        ['text for a number', { fetchMaxWait: 'soon' }, {}, ['bad-number']],
        ['idempotence with acks leader', { idempotent: true, requiredAcks: 'leader' }, {}, ['idempotent-acks']],
        ['idempotence with acks all', { idempotent: true, requiredAcks: 'all' }, {}, []],
        ['max fetch MB below the default fetch bytes', { fetchMaxMB: 1, fetchDefaultBytes: 2 * 1048576 }, {}, ['fetch-max-below-default']],
        ['max fetch MB at the default fetch bytes', { fetchMaxMB: 2, fetchDefaultBytes: 2 * 1048576 }, {}, []],
        ['read committed on Kafka 0.10.2', { kafkaVersion: '0.10.2', isolationLevel: 'committed' }, {}, ['version-feature']],
        ['SCRAM without credentials', { saslMode: 'scram' }, {}, ['sasl-credentials']],
        ['SCRAM with credentials', { saslMode: 'scram', scramMechanism: 'sha-512' }, { username: 'u', password: 'p' }, []],
    ];
    for (const [what, fields, credentials, keys] of cases) {
        it(`editor and runtime agree on ${what}`, function () {
            const node = { ...Object.fromEntries(Object.entries(def.defaults).map(([k, d]) => [k, d.value])), ...base, ...fields };
            const runtime = settings.readSettings(node, credentials).problems.map((p) => p.key);
            const loaded = load('kafka-config.html');
            const editorMessages = validate(loaded.registered['kafka-config'], node, credentials);
            const editorKeys = loaded.used
                .filter((k) => /:kafka-config\.errors\./.test(k))
                .map((k) => k.replace(/^.*:kafka-config\.errors\./, ''));
            [...new Set(runtime)].sort().should.deepEqual(keys);
            [...new Set(editorKeys)].sort().should.deepEqual(keys);
            if (keys.length) editorMessages.should.not.be.empty();
            else editorMessages.should.deepEqual([]);
            loaded.missing.should.deepEqual([]);
        });
    }

    it('names the offending broker in its message', function () {
        const node = { ...base, brokers: 'kafka:9092,nonsense' };
        validate(def, node).should.containEql('"nonsense" is not a host:port address.');
    });
});
