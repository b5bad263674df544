'use strict';
/*
 * node scripts/kafka/cli.js start [version]   run a broker in the foreground (Ctrl-C stops it);
 *                                             prints its info and writes it to .kafka/current.json
 * node scripts/kafka/cli.js stop              stop the broker started by `start` (via .kafka/current.json)
 * node scripts/kafka/cli.js fetch [version]   only download the jars (CI pre-warm)
 * Version: argument, else KAFKA_VERSION, else 3.9.1.
 */
const fs = require('fs');
const path = require('path');
const { Broker, ensureJars, CACHE, DEFAULT_VERSION } = require('./broker');

const CURRENT = path.join(CACHE, 'current.json');

async function start(version) {
    const broker = new Broker({ version });
    let stopping = false;
    const stop = async (code) => {
        if (stopping) return;
        stopping = true;
        try {
            await broker.close();
            await broker.removeData(); // a throwaway dev broker: keep only its log
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
    await broker.start();
    const info = { ...broker.info(), pid: process.pid };
    fs.writeFileSync(CURRENT, `${JSON.stringify(info, null, 4)}\n`);
    console.log(JSON.stringify(info, null, 4));
    console.error(`kafka ${info.version} ready in ${(info.startMs / 1000).toFixed(1)} s on ${info.plaintext}; Ctrl-C to stop`);
    // If the broker dies on its own, say so and exit.
    broker.child.once('exit', (code, signal) => {
        if (!stopping) {
            console.error(`kafka exited by itself (${signal || code}); see ${info.logFile}`);
            stop(1);
        }
    });
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
    process.kill(info.pid, 'SIGTERM'); // the cli stops its broker and exits
    console.error(`sent SIGTERM to ${info.pid}`);
}

async function main() {
    const [cmd, arg] = process.argv.slice(2);
    const version = arg || process.env.KAFKA_VERSION || DEFAULT_VERSION;
    if (cmd === 'start') return start(version);
    if (cmd === 'stop') return stopCurrent();
    if (cmd === 'fetch') {
        console.log(await ensureJars(version));
        return;
    }
    console.error('usage: node scripts/kafka/cli.js start|stop|fetch [version]');
    process.exitCode = 2;
}

main().catch((err) => {
    console.error(err.message || err);
    process.exit(1);
});
