'use strict';
/*
 * node scripts/kafka/cli.js start [version] [--nodes N]
 *                                     run a broker (or, with N > 1, a replicated cluster of N nodes) in the
 *                                     foreground (Ctrl-C stops it); prints its info and writes it to .kafka/current.json
 * node scripts/kafka/cli.js stop      stop what `start` runs (via .kafka/current.json)
 * node scripts/kafka/cli.js fetch [version]   only download the jars (CI pre-warm)
 * Version: argument, else KAFKA_VERSION, else 3.9.1. Nodes: --nodes, else KAFKA_NODES, else 1.
 */
const fs = require('fs');
const path = require('path');
const { Broker, ensureJars, CACHE, DEFAULT_VERSION } = require('./broker');
const { Cluster } = require('./cluster');

const CURRENT = path.join(CACHE, 'current.json');

async function start(version, nodes) {
    const kafka = nodes > 1 ? new Cluster({ version, nodes }) : new Broker({ version });
    let stopping = false;
    const stop = async (code) => {
        if (stopping) return;
        stopping = true;
        try {
            await kafka.close();
            await kafka.removeData(); // throwaway dev data: keep only the logs
        } finally {
            // remove current.json only if it is still ours
            try {
                if (JSON.parse(fs.readFileSync(CURRENT, 'utf8')).pid === process.pid) fs.rmSync(CURRENT);
            } catch {
                // none
            }
            process.exit(code);
        }
    };
    process.on('SIGINT', () => stop(130));
    process.on('SIGTERM', () => stop(143));
    await kafka.start();
    const info = { ...kafka.info(), pid: process.pid };
    fs.writeFileSync(CURRENT, `${JSON.stringify(info, null, 4)}\n`);
    console.log(JSON.stringify(info, null, 4));
    // If a broker dies on its own, say so and exit.
    if (kafka instanceof Cluster) {
        console.error(`kafka ${info.version}, ${nodes} nodes, ready in ${(info.startMs / 1000).toFixed(1)} s; bootstrap ${info.bootstrap}; Ctrl-C to stop`);
        kafka.on('nodeExit', ({ id, code, signal }) => {
            if (!stopping) {
                console.error(`kafka node ${id} exited by itself (${signal || code}); see ${info.logFiles[id]}`);
                stop(1);
            }
        });
    } else {
        console.error(`kafka ${info.version} ready in ${(info.startMs / 1000).toFixed(1)} s on ${info.plaintext}; Ctrl-C to stop`);
        kafka.child.once('exit', (code, signal) => {
            if (!stopping) {
                console.error(`kafka exited by itself (${signal || code}); see ${info.logFile}`);
                stop(1);
            }
        });
    }
}

function stopCurrent() {
    let info;
    try {
        info = JSON.parse(fs.readFileSync(CURRENT, 'utf8'));
    } catch {
        console.error(`no broker recorded in ${CURRENT}`);
        return;
    }
    let cmdline = '';
    try {
        cmdline = fs.readFileSync(`/proc/${info.pid}/cmdline`, 'utf8');
    } catch {
        // not Linux, or not running
    }
    if (!cmdline.includes('cli.js')) {
        console.error(`process ${info.pid} from ${CURRENT} is not our cli; removing the stale file`);
        fs.rmSync(CURRENT, { force: true });
        return;
    }
    process.kill(info.pid, 'SIGTERM'); // the cli stops its brokers and exits
    console.error(`sent SIGTERM to ${info.pid}`);
}

function parseArgs(argv) {
    const positional = [];
    let nodes = process.env.KAFKA_NODES;
    for (let i = 0; i < argv.length; i++) {
        const m = /^--nodes(?:=(.*))?$/.exec(argv[i]);
        if (m) nodes = m[1] !== undefined ? m[1] : argv[++i];
        else positional.push(argv[i]);
    }
    const count = nodes === undefined || nodes === '' ? 1 : Number(nodes);
    if (!Number.isInteger(count) || count < 1) throw new Error(`--nodes / KAFKA_NODES must be a whole number >= 1, not "${nodes}"`);
    return { cmd: positional[0], version: positional[1] || process.env.KAFKA_VERSION || DEFAULT_VERSION, nodes: count };
}

async function main() {
    const { cmd, version, nodes } = parseArgs(process.argv.slice(2));
    if (cmd === 'start') return start(version, nodes);
    if (cmd === 'stop') return stopCurrent();
    if (cmd === 'fetch') {
        console.log(await ensureJars(version));
        return;
    }
    console.error('usage: node scripts/kafka/cli.js start|stop|fetch [version] [--nodes N]');
    process.exitCode = 2;
}

main().catch((err) => {
    console.error(err.message || err);
    process.exit(1);
});
