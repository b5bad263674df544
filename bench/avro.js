'use strict';
/* The Avro variant of the benchmarks: a record of ten fields, about 1 KiB encoded, and a registry for the run. */
const path = require('path');
const crypto = require('crypto');

const { ROOT } = require('./common');

const SCHEMA = JSON.stringify({
    type: 'record', name: 'BenchOrder', namespace: 'bench',
    fields: [
        { name: 'id', type: 'long' },
        { name: 'customer', type: 'string' },
        { name: 'email', type: 'string' },
        { name: 'street', type: 'string' },
        { name: 'city', type: 'string' },
        { name: 'note', type: 'string' },
        { name: 'amount', type: 'double' },
        { name: 'quantity', type: 'int' },
        { name: 'paid', type: 'boolean' },
        { name: 'createdAt', type: 'long' },
    ],
});

const text = (n) => crypto.randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
const FIXED = { customer: text(120), email: text(60), street: text(180), city: text(80), note: text(540) };

/** The i-th record: about 1 KiB once encoded (the strings are most of it). */
function record(i) {
    return { id: i, ...FIXED, amount: i * 1.5, quantity: i % 100, paid: i % 2 === 0, createdAt: 1700000000000 + i };
}

/** Calls fn(url) with SCHEMA_REGISTRY_URL, or with a registry started (and stopped) for the run. */
async function withRegistry(fn) {
    if (process.env.SCHEMA_REGISTRY_URL) return fn(process.env.SCHEMA_REGISTRY_URL);
    const { Registry } = require(path.join(ROOT, 'scripts/registry/registry.js'));
    const registry = new Registry();
    await registry.start();
    try {
        return await fn(registry.url);
    } finally {
        await registry.stop();
    }
}

module.exports = { SCHEMA, record, withRegistry };
