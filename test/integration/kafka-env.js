'use strict';
/*
 * The Kafka broker of the current integration run (set by test/integration/global.js).
 *
 *   const env = require('./kafka-env');
 *   env.info().plaintext          // '127.0.0.1:PORT'
 *   await env.broker().stop();    // only when !env.info().external
 *   await env.broker().start();   // same address, same data
 */
let current = null; // { broker: Broker | null, info: object | null }

function set(broker, externalInfo = null) {
    current = { broker, info: externalInfo };
}

function clear() {
    current = null;
}

function started() {
    return current !== null;
}

/** Plain data about the cluster: listener addresses, users, TLS files (see scripts/kafka/broker.js). */
function info() {
    if (!current) throw new Error('Kafka is not started: test/integration/global.js must be loaded (see .mocharc.integration.json)');
    return current.broker ? current.broker.info() : current.info;
}

/** The Broker instance, or null when the run uses an external cluster (KAFKA_BROKERS). */
function broker() {
    if (!current) throw new Error('Kafka is not started: test/integration/global.js must be loaded (see .mocharc.integration.json)');
    return current.broker;
}

module.exports = { info, broker, set, clear, started };
