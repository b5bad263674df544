'use strict';
/* A kafka-publish flow for the publish specs: output, Catch and Complete each into a helper node. */
const { helper, nodeModules, configFor } = require('./support');

const NODES = nodeModules('kafka-config', 'kafka-publish', 'complete', 'catch');

/**
 * Loads config + publish flow. `cfg` are kafka-config fields (requiredAcks, flush...), `pub` kafka-publish fields.
 * Returns { pub, out, caught, completed, send(msg) -> Promise<output msg>, outputs, caughtMsgs, completedMsgs }.
 */
async function loadPublish(cfg = {}, pub = {}) {
    const { nodes, credentials } = configFor('plaintext', 'cfg', cfg);
    const flow = [
        { id: 'f1', type: 'tab' },
        ...nodes,
        { id: 'pub', z: 'f1', type: 'kafka-publish', config: 'cfg', topic: '', partition: '', key: '', headers: '', ...pub, wires: [['out']] },
        { id: 'out', z: 'f1', type: 'helper' },
        { id: 'c', z: 'f1', type: 'catch', scope: ['pub'], uncaught: false, wires: [['caught']] },
        { id: 'caught', z: 'f1', type: 'helper' },
        { id: 'cp', z: 'f1', type: 'complete', scope: ['pub'], wires: [['completed']] },
        { id: 'completed', z: 'f1', type: 'helper' },
    ];
    await helper.load(NODES, flow, credentials);
    const h = {
        pub: helper.getNode('pub'),
        outputs: [],
        caughtMsgs: [],
        completedMsgs: [],
        waiting: new Map(),
    };
    helper.getNode('out').on('input', (msg) => {
        h.outputs.push(msg);
        const w = h.waiting.get(msg._msgid);
        if (w) { h.waiting.delete(msg._msgid); w(msg); }
    });
    helper.getNode('caught').on('input', (msg) => h.caughtMsgs.push(msg));
    helper.getNode('completed').on('input', (msg) => h.completedMsgs.push(msg));
    let n = 0;
    /** Sends a message into the publish node; resolves with what comes out of it. */
    h.send = (msg) => new Promise((resolve) => {
        const _msgid = msg._msgid || `m${Date.now()}-${n++}`;
        h.waiting.set(_msgid, resolve);
        h.pub.receive({ ...msg, _msgid });
    });
    return h;
}

module.exports = { loadPublish, NODES };
