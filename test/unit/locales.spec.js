'use strict';
/*
 * The message catalogs: en-US and zh-CN have the same keys for every node, every key the
 * editor (nodes/*.html) and the runtime (src/*.ts) use exists in both, and each node has
 * its help in both languages.
 *
 * How keys are written (the conventions these checks rely on):
 *  - nodes/<node>.html: data-i18n="<node>.x" and this._('<node>.x') are the node's own
 *    catalog; RED._('<module>/<set>:<set>.x') names it; 'node-red:x' is Node-RED's; a
 *    helper t('x') means '<node>.x'.
 *  - src/<node>.ts: t('x') and RED._('<node>.x') are the node's own catalog;
 *    config.t('x') is kafka-config's; keys starting 'node-red:' are Node-RED's.
 *  - src/lib: problem keys (`key: '...'`) of settings/tls-check are kafka-config.errors.*,
 *    of topics kafka-consumer.errors.*, of publish-input kafka-publish.errors.*.
 */
const fs = require('fs');
const path = require('path');
const should = require('should');

const ROOT = path.join(__dirname, '..', '..');
const NODES = path.join(ROOT, 'nodes');
const SRC = path.join(ROOT, 'src');
const LANGS = ['en-US', 'zh-CN'];
const MODULE = require('../../package.json').name;
const NODE_TYPES = Object.keys(require('../../package.json')['node-red'].nodes);
const CORE = {
    'en-US': require('@node-red/nodes/locales/en-US/messages.json'),
    'zh-CN': require('@node-red/nodes/locales/zh-CN/messages.json'),
};

function readCatalog(lang, node) {
    const file = path.join(NODES, 'locales', lang, `${node}.json`);
    return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Every leaf key of a catalog, dotted. */
function leaves(tree, prefix = '') {
    return Object.entries(tree).flatMap(([k, v]) => (v && typeof v === 'object'
        ? leaves(v, `${prefix}${k}.`)
        : [`${prefix}${k}`]));
}

function lookup(tree, key) {
    return key.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), tree);
}

/** Where `{ns, key}` points: a string in `lang`, or undefined. */
function resolve(lang, ns, key) {
    if (ns === 'node-red') return lookup(CORE[lang], key);
    if (!NODE_TYPES.includes(ns)) return undefined;
    const file = path.join(NODES, 'locales', lang, `${ns}.json`);
    return fs.existsSync(file) ? lookup(readCatalog(lang, ns), key) : undefined;
}

/** Splits 'ns:key'; a key without namespace belongs to `own`. */
function ref(key, own, where) {
    const m = /^([^:]+):(.+)$/.exec(key);
    if (!m) return { ns: own, key, where };
    const ns = m[1] === 'node-red' ? 'node-red' : m[1].startsWith(`${MODULE}/`) ? m[1].slice(MODULE.length + 1) : m[1];
    return { ns, key: m[2], where };
}

function literals(text, re) {
    return [...text.matchAll(re)].map((m) => m[1]);
}

/** The keys nodes/<node>.html uses, with the catalog each belongs to. */
function editorKeys(node) {
    const html = fs.readFileSync(path.join(NODES, `${node}.html`), 'utf8');
    const keys = [];
    for (const attr of literals(html, /data-i18n="([^"]+)"/g)) {
        for (const part of attr.split(';')) keys.push(ref(part.replace(/^\[[^\]]+\]/, ''), node, `data-i18n="${attr}"`));
    }
    for (const k of literals(html, /this\._\(\s*'([^']+)'\s*[,)]/g)) keys.push(ref(k, node, `this._('${k}')`));
    for (const k of literals(html, /(?<![\w.])t\(\s*'([^']+)'\s*[,)]/g)) keys.push({ ns: node, key: `${node}.${k}`, where: `t('${k}')` });
    for (const k of literals(html, /RED\._\(\s*'([^']+)'\s*[,)]/g)) {
        // the editor has no default namespace for a node's keys: RED._ needs one
        keys.push(k.includes(':') ? ref(k, node, `RED._('${k}')`) : { ns: '(no namespace)', key: k, where: `RED._('${k}')` });
    }
    return keys;
}

/** The keys src/<node>.ts uses, with the catalog each belongs to. */
function runtimeKeys(node) {
    const file = path.join(SRC, `${node}.ts`);
    if (!fs.existsSync(file)) return [];
    const ts = fs.readFileSync(file, 'utf8');
    const keys = [];
    for (const k of literals(ts, /(?<![\w.!?])t\(\s*'([^']+)'\s*[,)]/g)) {
        keys.push(k.startsWith('node-red:') ? ref(k, node, `t('${k}')`) : { ns: node, key: `${node}.${k}`, where: `t('${k}')` });
    }
    for (const k of literals(ts, /config!?\??\.t\(\s*'([^']+)'\s*[,)]/g)) keys.push({ ns: 'kafka-config', key: `kafka-config.${k}`, where: `config.t('${k}')` });
    for (const k of literals(ts, /RED\._\(\s*'([^']+)'\s*[,)]/g)) keys.push(ref(k, node, `RED._('${k}')`));
    return keys;
}

/** Problem keys made in src/lib, and the catalog section that translates them. */
function libraryKeys() {
    const owners = {
        'settings.ts': 'kafka-config', 'tls-check.ts': 'kafka-config',
        'topics.ts': 'kafka-consumer', 'publish-input.ts': 'kafka-publish',
    };
    const keys = [];
    for (const [file, node] of Object.entries(owners)) {
        const full = path.join(SRC, 'lib', file);
        if (!fs.existsSync(full)) continue;
        for (const k of literals(fs.readFileSync(full, 'utf8'), /\bkey: '([^']+)'\s*[,)]/g)) {
            keys.push({ ns: node, key: `${node}.errors.${k}`, where: `lib/${file} key '${k}'` });
        }
    }
    const states = fs.readFileSync(path.join(SRC, 'lib', 'connection-state.ts'), 'utf8');
    for (const k of literals(states, /\bkey: '([^']+)'\s*[,)]/g)) {
        keys.push(k.startsWith('node-red:') ? ref(k, 'kafka-config', `connection-state '${k}'`) : { ns: 'kafka-config', key: `kafka-config.${k}`, where: `connection-state '${k}'` });
    }
    return keys;
}

function missingIn(keys) {
    const missing = [];
    for (const lang of LANGS) {
        for (const k of keys) {
            if (typeof resolve(lang, k.ns, k.key) !== 'string') missing.push(`${lang} ${k.ns}:${k.key} (${k.where})`);
        }
    }
    return [...new Set(missing)];
}

describe('locales', function () {
    for (const node of NODE_TYPES) {
        describe(node, function () {
            const present = fs.existsSync(path.join(NODES, `${node}.html`)) || fs.existsSync(path.join(SRC, `${node}.ts`));

            it('has a catalog and help in en-US and zh-CN', function () {
                should(present).be.true(`${node} is declared in package.json but has neither nodes/${node}.html nor src/${node}.ts`);
                for (const lang of LANGS) {
                    fs.existsSync(path.join(NODES, 'locales', lang, `${node}.json`)).should.be.true(`${lang}/${node}.json`);
                    const help = path.join(NODES, 'locales', lang, `${node}.html`);
                    fs.existsSync(help).should.be.true(`${lang}/${node}.html`);
                    fs.readFileSync(help, 'utf8').should.match(new RegExp(`data-help-name="${node}"`));
                }
            });

            it('has the same keys in en-US and zh-CN, all under its own name, none empty', function () {
                const en = readCatalog('en-US', node);
                const zh = readCatalog('zh-CN', node);
                Object.keys(en).should.deepEqual([node]);
                leaves(zh).sort().should.deepEqual(leaves(en).sort());
                for (const [lang, cat] of [['en-US', en], ['zh-CN', zh]]) {
                    const empty = leaves(cat).filter((k) => !String(lookup(cat, k)).trim());
                    empty.should.deepEqual([], `${lang} empty messages`);
                }
            });

            it('uses the same __placeholders__ in both languages', function () {
                const en = readCatalog('en-US', node);
                const zh = readCatalog('zh-CN', node);
                const params = (s) => [...String(s).matchAll(/__(\w+)__/g)].map((m) => m[1]).sort();
                const differ = leaves(en).filter((k) => JSON.stringify(params(lookup(en, k))) !== JSON.stringify(params(lookup(zh, k))));
                differ.should.deepEqual([]);
            });

            it('has every key its editor uses, in both languages', function () {
                const file = path.join(NODES, `${node}.html`);
                should(fs.existsSync(file)).be.true(`nodes/${node}.html`);
                const keys = editorKeys(node);
                keys.should.not.be.empty();
                missingIn(keys).should.deepEqual([]);
            });

            it('has every key its runtime uses, in both languages', function () {
                const file = path.join(SRC, `${node}.ts`);
                should(fs.existsSync(file)).be.true(`src/${node}.ts`);
                const keys = runtimeKeys(node);
                keys.should.not.be.empty();
                missingIn(keys).should.deepEqual([]);
            });
        });
    }

    it('has every problem and status key of src/lib, in both languages', function () {
        const keys = libraryKeys();
        keys.length.should.be.above(10);
        missingIn(keys).should.deepEqual([]);
    });

    it('finds a missing key (the checker itself)', function () {
        missingIn([{ ns: 'kafka-config', key: 'kafka-config.no.such.key', where: 'probe' }]).should.have.length(2);
        missingIn([{ ns: 'kafka-config', key: 'kafka-config.status.connected', where: 'probe' }]).should.deepEqual([]);
        missingIn([{ ns: 'node-red', key: 'common.label.name', where: 'probe' }]).should.deepEqual([]);
    });
    // zh-CN entries without Chinese, kept English on purpose: protocol and product names
    // (PLAIN, SCRAM-SHA-256, Range, RoundRobin, Kafka), example values the user types over
    // (host:port, my-group, orders.dlq, node-red-kafka) and a message property (msg.headers).
    // Everything else in zh-CN is translated; this list is the whole exception.
    const KEPT_ENGLISH = {
        'kafka-config': ['placeholder.brokers', 'placeholder.clientId', 'options.saslMode.plain', 'options.saslMode.scram',
            'options.scramMechanism.sha-256', 'options.scramMechanism.sha-512', 'options.rebalanceStrategy.range',
            'options.rebalanceStrategy.roundrobin', 'sidebar.tab'],
        'kafka-consumer': ['label.config', 'placeholder.group', 'placeholder.deadLetterTopic'],
        'kafka-publish': ['label.config', 'source.msg'],
        'kafka-schema-registry': ['placeholder.url'],
    };

    it('has no zh-CN entry left in English but those kept on purpose', function () {
        const english = [];
        for (const node of NODE_TYPES) {
            const zh = readCatalog('zh-CN', node)[node];
            for (const key of leaves(zh)) {
                if (!/[\u4e00-\u9fff]/.test(lookup(zh, key)) && !(KEPT_ENGLISH[node] || []).includes(key)) english.push(`${node}.${key}`);
            }
        }
        english.should.deepEqual([]);
    });
});
