'use strict';
/*
 * Kafka's own command-line tools, for specs that compare with what Kafka itself says:
 * the kafka-tools jar of the broker's version (from Maven Central, cached in
 * .kafka/tools/<version>/) run on the broker's jars, java itself, no shell.
 *
 *   const { consumerGroupsDescribe } = require('./scripts/kafka/tools');
 *   const rows = await consumerGroupsDescribe(bootstrap, group);   // kafka-consumer-groups --describe
 */
const fs = require('fs');
const path = require('path');
const { execFile } = require('child_process');
const { ensureJars } = require('./broker');

const REPO = path.resolve(__dirname, '..', '..');

function exec(cmd, args, opts = {}) {
    return new Promise((resolve, reject) => {
        execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024, timeout: 180000, ...opts }, (err, stdout, stderr) => {
            if (err) reject(new Error(`${cmd} ${args.slice(-6).join(' ')}: ${err.message}\n${stderr}`));
            else resolve(stdout);
        });
    });
}

/** The folder holding kafka-tools-<version>.jar, fetched once. */
async function ensureTools(version) {
    const dir = path.join(REPO, '.kafka', 'tools', version);
    const jar = path.join(dir, `kafka-tools-${version}.jar`);
    if (fs.existsSync(jar)) return dir;
    fs.mkdirSync(dir, { recursive: true });
    await exec('mvn', ['-B', '-q', 'dependency:copy', `-Dartifact=org.apache.kafka:kafka-tools:${version}`, `-DoutputDirectory=${dir}`]);
    return dir;
}

/**
 * `kafka-consumer-groups --bootstrap-server <bootstrap> --describe --group <group>`, parsed:
 * one row per partition { topic, partition, current (null for "-"), end, lag (null for "-"), consumerId, host, clientId }.
 */
async function consumerGroupsDescribe(bootstrap, group, version = process.env.KAFKA_VERSION || '3.9.1') {
    const jars = await ensureJars(version);
    const tools = await ensureTools(version);
    const out = await exec('java', [
        '-XX:TieredStopAtLevel=1', '-Xmx256m', '-cp', `${jars}${path.sep}*${path.delimiter}${tools}${path.sep}*`,
        'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', '--bootstrap-server', bootstrap, '--describe', '--group', group,
    ]);
    const lines = out.split('\n').map((l) => l.trim()).filter(Boolean);
    const head = lines.findIndex((l) => /^GROUP\s+TOPIC\s+PARTITION/.test(l));
    if (head < 0) throw new Error(`kafka-consumer-groups said:\n${out}`);
    const num = (s) => (s === '-' ? null : Number(s));
    return lines.slice(head + 1).map((l) => l.split(/\s+/)).map((c) => ({
        topic: c[1], partition: Number(c[2]), current: num(c[3]), end: num(c[4]), lag: num(c[5]),
        consumerId: c[6], host: c[7], clientId: c[8],
    }));
}

module.exports = { ensureTools, consumerGroupsDescribe };
