'use strict';
/*
 * The schema registry of the current integration run (set by test/integration/global.js).
 *
 *   const registry = require('./registry-env');
 *   registry.url()                // base URL of the Confluent-compatible API
 *   await registry.instance().stop();   // only when !registry.external()
 *   await registry.instance().start();  // same port; schemas are gone (kept in memory)
 */
let current = null; // { registry: Registry | null, url: string }

function set(registry, url) {
    current = { registry, url };
}

function clear() {
    current = null;
}

function url() {
    if (!current) throw new Error('The schema registry is not started: test/integration/global.js must be loaded');
    return current.url;
}

/** The Registry instance (scripts/registry/registry.js), or null when SCHEMA_REGISTRY_URL names one. */
function instance() {
    if (!current) throw new Error('The schema registry is not started: test/integration/global.js must be loaded');
    return current.registry;
}

function external() {
    return instance() === null;
}

module.exports = { set, clear, url, instance, external };
