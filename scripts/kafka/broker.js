'use strict';
/*
 * Test harness for a real Apache Kafka broker (KRaft, one combined broker+controller node),
 * run straight from Maven Central jars: no Docker, no Kafka download site.
 *
 *   const { Broker } = require('./scripts/kafka/broker');
 *   const b = new Broker({ version: '3.9.1' });
 *   await b.start();          // fetches jars (cached in .kafka/jars/<version>), makes certs, formats, starts
 *   b.info();                 // addresses of every listener, users, TLS files
 *   await b.stop();           // SIGTERM, then SIGKILL after 30 s
 *   await b.start();          // same ports, same data
 *
 * Everything it writes lives under <repo>/.kafka/ (git-ignored).
 */
const fs = require('fs');
const fsp = fs.promises;
const path = require('path');
const net = require('net');
const crypto = require('crypto');
const { spawn } = require('child_process');

const REPO = path.resolve(__dirname, '..', '..');
const CACHE = path.join(REPO, '.kafka');
const DEFAULT_VERSION = '3.9.1';
const READY_LINE = 'Kafka Server started';
const START_TIMEOUT_MS = 90000;
const STOP_TIMEOUT_MS = 30000;
const JVM_HEAP = ['-Xms256m', '-Xmx512m'];
const JVM_OPTS = ['-XX:+UseG1GC', '-Djava.awt.headless=true'];
const MARKER = '.complete';
const PID_FILE = 'broker.pid';
const KEEP_STALE_RUNS = 5;

// Passwords must not contain ',' (StorageTool --add-scram syntax) nor '"' (JAAS config).
const USERS = {
    plain: { mechanism: 'plain', username: 'alice', password: 'alice-secret' },
    admin: { mechanism: 'plain', username: 'admin', password: 'admin-secret' },
    scram256: { mechanism: 'scram-sha-256', username: 'scram256', password: 'scram256-secret' },
    scram512: { mechanism: 'scram-sha-512', username: 'scram512', password: 'scram512-secret' },
};

// Every broker child still running, so that an interrupted run never leaves one behind.
const liveChildren = new Set();
process.on('exit', () => {
    for (const child of liveChildren) {
        try {
            child.kill('SIGKILL'); // also ends a SIGSTOPped one
        } catch {
            // already gone
        }
    }
});

/*
 * A process of ours dies without its 'exit' handler on SIGKILL, on a crash, and on a signal it has
 * no listener for. A small guardian process (own process group, so Ctrl-C does not reach it)
 * holds the read end of a pipe from us and is told every broker PID with its run folder; when the
 * pipe closes, whatever the reason, it SIGKILLs those still running whose command line names that folder.
 */
const GUARDIAN = `
const fs = require('fs');
const pids = new Map();
let buf = '';
process.stdin.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\\n')) >= 0) {
        const [op, pid, dir] = buf.slice(0, i).split('\\t');
        buf = buf.slice(i + 1);
        if (op === '+') pids.set(Number(pid), dir); else pids.delete(Number(pid));
    }
});
process.stdin.on('close', () => {
    for (const [pid, dir] of pids) {
        try {
            if (fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').includes(dir)) process.kill(pid, 'SIGKILL');
        } catch {}
    }
    process.exit(0);
});
`;
let guardian = null;

/*
 * On SIGINT/SIGTERM/SIGHUP with nobody else listening, Node would die without its 'exit' handler:
 * SIGKILL the brokers, then let the signal take its default course. When the program handles the
 * signal itself (a graceful stop), only wake SIGSTOPped brokers so that they can stop.
 */
let signalsHandled = false;
function handleSignals() {
    if (signalsHandled) return;
    signalsHandled = true;
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
        const onSignal = () => {
            const alone = process.listenerCount(signal) === 1;
            for (const child of liveChildren) {
                try {
                    child.kill(alone ? 'SIGKILL' : 'SIGCONT');
                } catch {
                    // gone
                }
            }
            if (alone) {
                process.removeListener(signal, onSignal);
                process.kill(process.pid, signal);
            }
        };
        process.on(signal, onSignal);
    }
}

function guard(op, child, dir) {
    if (process.platform !== 'linux') return; // the guardian checks /proc; elsewhere rely on the exit handler
    try {
        if (!guardian) {
            guardian = spawn(process.execPath, ['-e', GUARDIAN], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
            guardian.on('error', () => {
                guardian = null;
            });
            guardian.stdin.on('error', () => {});
            guardian.unref();
            guardian.stdin.unref();
        }
        guardian.stdin.write(`${op}\t${child.pid}\t${dir}\n`);
    } catch {
        // best effort: the exit handler and reapStale() remain
    }
}

function major(version) {
    const m = /^(\d+)\./.exec(version);
    if (!m) throw new Error(`Bad Kafka version "${version}"`);
    return Number(m[1]);
}

/** The log4j 2 release each Kafka 4.x line is built with (its gradle/dependencies.gradle). */
function log4j2Version(version) {
    const [, minor] = version.split('.').map(Number);
    if (major(version) === 4 && minor < 2) return '2.24.3';
    if (major(version) === 4 && minor === 2) return '2.25.3';
    return '2.25.5';
}

async function exists(p) {
    try {
        await fsp.access(p);
        return true;
    } catch {
        return false;
    }
}

/** Runs a command (no shell); resolves with its output, rejects with it on a non-zero exit. */
function run(cmd, args, opts = {}) {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
        liveChildren.add(child);
        let out = '';
        const collect = (d) => {
            out += d;
            if (out.length > 200000) out = out.slice(-100000);
        };
        child.stdout.on('data', collect);
        child.stderr.on('data', collect);
        child.on('error', (err) => {
            liveChildren.delete(child);
            reject(new Error(`${cmd} could not be started: ${err.message}`));
        });
        child.on('close', (code, signal) => {
            liveChildren.delete(child);
            if (code === 0) resolve(out);
            else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal || code}):\n${out.slice(-4000)}`));
        });
    });
}

/**
 * Makes sure the broker jars for `version` are in <repo>/.kafka/jars/<version>/ and returns that folder.
 * Downloads with Maven (into ~/.m2, then copied) into a temporary folder renamed into place when complete.
 */
async function ensureJars(version = process.env.KAFKA_VERSION || DEFAULT_VERSION) {
    const dir = path.join(CACHE, 'jars', version);
    if (await exists(path.join(dir, MARKER))) return dir;
    const flavour = major(version) >= 4 ? '4' : '3';
    const pom = path.join(__dirname, `pom-${flavour}.xml`);
    const tmp = `${dir}.tmp-${process.pid}`;
    await fsp.rm(tmp, { recursive: true, force: true });
    await fsp.mkdir(tmp, { recursive: true });
    const args = ['-B', '-q', '-f', pom, `-Dkafka.version=${version}`];
    if (flavour === '4') args.push(`-Dlog4j2.version=${log4j2Version(version)}`);
    args.push('dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${tmp}`);
    try {
        await run('mvn', args, { cwd: tmp });
        const jars = (await fsp.readdir(tmp)).filter((f) => f.endsWith('.jar'));
        if (!jars.some((f) => f.startsWith(`kafka_2.13-${version}`))) {
            throw new Error(`Maven did not deliver kafka_2.13-${version}.jar into ${tmp}`);
        }
        await fsp.writeFile(path.join(tmp, MARKER), `${new Date().toISOString()} ${jars.length} jars\n`);
        if (await exists(dir)) {
            if (await exists(path.join(dir, MARKER))) return dir; // someone else finished first
            await fsp.rm(dir, { recursive: true, force: true }); // leftover of an interrupted copy
        }
        await fsp.rename(tmp, dir);
    } catch (err) {
        if (await exists(path.join(dir, MARKER))) return dir; // lost a rename race: fine
        throw err;
    } finally {
        await fsp.rm(tmp, { recursive: true, force: true });
    }
    return dir;
}

function certFiles(dir) {
    return {
        ca: path.join(dir, 'ca.pem'),
        caKey: path.join(dir, 'ca.key'),
        keystore: path.join(dir, 'broker-keystore.pem'),
        brokerCert: path.join(dir, 'broker.pem'),
        brokerKey: path.join(dir, 'broker.key'),
        clientCert: path.join(dir, 'client.pem'),
        clientKey: path.join(dir, 'client.key'),
        wrongCa: path.join(dir, 'wrong-ca.pem'),
    };
}

/**
 * Throwaway PKI for the TLS listeners, made with the openssl CLI (reused when already there):
 * a CA, a broker certificate for 127.0.0.1/localhost (keystore = PKCS#8 key + chain, PEM),
 * a client certificate for the mTLS listener, and an unrelated "wrong" CA for negative tests.
 */
async function makeCerts(dir = path.join(CACHE, 'certs')) {
    const files = certFiles(dir);
    if (await exists(path.join(dir, MARKER))) return files;
    const tmp = `${dir}.tmp-${process.pid}`;
    await fsp.rm(tmp, { recursive: true, force: true });
    await fsp.mkdir(tmp, { recursive: true });
    const t = (f) => path.join(tmp, f);
    const ossl = (...args) => run('openssl', args, { cwd: tmp });
    const days = '3650';
    const serial = () => `0x${crypto.randomBytes(8).toString('hex')}`;
    const selfSignedCa = (name, cn) => ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', days,
        '-subj', `/CN=${cn}`, '-keyout', t(`${name}.key`), '-out', t(`${name}.pem`),
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    const leaf = async (name, cn, extensions) => {
        await ossl('req', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-subj', `/CN=${cn}`,
            '-keyout', t(`${name}.key`), '-out', t(`${name}.csr`));
        await fsp.writeFile(t(`${name}.ext`), `${extensions.join('\n')}\n`);
        await ossl('x509', '-req', '-sha256', '-days', days, '-in', t(`${name}.csr`),
            '-CA', t('ca.pem'), '-CAkey', t('ca.key'), '-set_serial', serial(),
            '-extfile', t(`${name}.ext`), '-out', t(`${name}.pem`));
        // Kafka's PEM keystore wants PKCS#8 ("BEGIN PRIVATE KEY"); openssl 3 writes that, older ones may not.
        if (!(await fsp.readFile(t(`${name}.key`), 'utf8')).includes('BEGIN PRIVATE KEY')) {
            await ossl('pkcs8', '-topk8', '-nocrypt', '-in', t(`${name}.key`), '-out', t(`${name}.p8`));
            await fsp.rename(t(`${name}.p8`), t(`${name}.key`));
        }
    };
    try {
        await selfSignedCa('ca', 'kafka-test-ca');
        await leaf('broker', 'localhost', [
            'basicConstraints=CA:FALSE',
            'keyUsage=critical,digitalSignature,keyEncipherment',
            'extendedKeyUsage=serverAuth,clientAuth',
            'subjectAltName=IP:127.0.0.1,DNS:localhost',
        ]);
        await leaf('client', 'kafka-test-client', [
            'basicConstraints=CA:FALSE',
            'keyUsage=critical,digitalSignature,keyEncipherment',
            'extendedKeyUsage=clientAuth',
        ]);
        await selfSignedCa('wrong-ca', 'kafka-test-wrong-ca');
        const keystore = [t('broker.key'), t('broker.pem'), t('ca.pem')];
        await fsp.writeFile(t('broker-keystore.pem'), (await Promise.all(keystore.map((f) => fsp.readFile(f, 'utf8')))).join(''));
        for (const f of await fsp.readdir(tmp)) {
            if (f.endsWith('.csr') || f.endsWith('.ext')) await fsp.rm(t(f));
        }
        await fsp.writeFile(t(MARKER), `${new Date().toISOString()}\n`);
        if (!(await exists(path.join(dir, MARKER)))) {
            await fsp.rm(dir, { recursive: true, force: true });
            await fsp.rename(tmp, dir);
        }
    } catch (err) {
        if (!(await exists(path.join(dir, MARKER)))) throw err;
    } finally {
        await fsp.rm(tmp, { recursive: true, force: true });
    }
    return files;
}

/** `count` distinct free TCP ports on 127.0.0.1 (all held open together, then released). */
async function freePorts(count) {
    const servers = [];
    try {
        for (let i = 0; i < count; i++) {
            const srv = net.createServer();
            servers.push(srv);
            await new Promise((resolve, reject) => {
                srv.once('error', reject);
                srv.listen(0, '127.0.0.1', resolve);
            });
        }
        return servers.map((s) => s.address().port);
    } finally {
        await Promise.all(servers.map((s) => new Promise((resolve) => s.close(() => resolve()))));
    }
}

/** 16 random bytes, base64url (22 chars); StorageTool rejects ids starting with '-'. */
function newClusterId() {
    for (;;) {
        const id = crypto.randomBytes(16).toString('base64url');
        if (!id.startsWith('-')) return id;
    }
}

function propValue(v) {
    // Java properties: backslash is an escape character. Values here are paths, numbers and plain words.
    return String(v).replace(/\\/g, '\\\\');
}

function jaas(user) {
    return `org.apache.kafka.common.security.plain.PlainLoginModule required username="${user.username}" password="${user.password}"`;
}

function alive(pid) {
    try {
        process.kill(pid, 0);
        return true;
    } catch (err) {
        return err.code === 'EPERM';
    }
}

/**
 * Clean up after runs whose Node process died without its exit handler (SIGKILL, crash):
 * SIGKILL a broker still running from a run folder whose owner is gone (checked by PID and by its
 * command line naming that folder), and delete all but the newest few dead run folders.
 * Folders of live processes (a concurrent run) are never touched.
 */
async function reapStale(ownDir) {
    let names;
    try {
        names = await fsp.readdir(CACHE);
    } catch {
        return;
    }
    const dead = [];
    for (const name of names) {
        const m = /^(?:run|cluster)-.+-(\d+)$/.exec(name);
        const dir = path.join(CACHE, name);
        if (!m || dir === ownDir || alive(Number(m[1]))) continue;
        // A single broker keeps its PID file in its run folder, each node of a cluster in node-<id>/.
        let nodeDirs = [];
        try {
            nodeDirs = (await fsp.readdir(dir)).filter((f) => /^node-\d+$/.test(f)).map((f) => path.join(dir, f));
        } catch {
            // removed meanwhile
        }
        for (const pidDir of [dir, ...nodeDirs]) {
            const pidFile = path.join(pidDir, PID_FILE);
            let java = null;
            try {
                java = JSON.parse(await fsp.readFile(pidFile, 'utf8')).java;
            } catch {
                // stopped cleanly
            }
            if (java && alive(java)) {
                let cmdline = '';
                try {
                    cmdline = await fsp.readFile(`/proc/${java}/cmdline`, 'utf8');
                } catch {
                    // not Linux: leave it
                }
                if (cmdline.includes(pidDir)) {
                    try {
                        process.kill(java, 'SIGKILL');
                    } catch {
                        // gone meanwhile
                    }
                }
            }
            await fsp.rm(pidFile, { force: true });
        }
        try {
            dead.push({ dir, mtime: (await fsp.stat(dir)).mtimeMs });
        } catch {
            // removed meanwhile
        }
    }
    dead.sort((a, b) => b.mtime - a.mtime);
    for (const { dir } of dead.slice(KEEP_STALE_RUNS)) await fsp.rm(dir, { recursive: true, force: true });
}

/*
 * Pieces shared by Broker (one node, many listeners) and Cluster (scripts/kafka/cluster.js).
 * A "proc" is { version, dir, jarsDir, logFile, heap }: one Kafka node's JVM settings and folder.
 */

function javaArgs(proc, mainClass, extra) {
    const logOption = major(proc.version) >= 4
        ? `-Dlog4j2.configurationFile=${path.join(proc.dir, 'log4j2.properties')}`
        : `-Dlog4j.configuration=file:${path.join(proc.dir, 'log4j.properties')}`;
    return [...(proc.heap || JVM_HEAP), ...JVM_OPTS, logOption, `-Dkafka.logs.dir=${proc.dir}`,
        '-cp', `${proc.jarsDir}${path.sep}*`, mainClass, ...extra];
}

/**
 * Writes <dir>/server.properties from `lines` with `overrides` replacing or adding entries,
 * and the logging configs of both Kafka lines; returns the server.properties path.
 */
async function writeConfigs(dir, lines, overrides = {}) {
    const out = [...lines];
    for (const [name, value] of Object.entries(overrides)) {
        const at = out.findIndex((l) => l.startsWith(`${name}=`));
        if (at >= 0) out.splice(at, 1);
        out.push(`${name}=${value}`);
    }
    const propsFile = path.join(dir, 'server.properties');
    await fsp.writeFile(propsFile, out.join('\n'));

    // Broker logs go to stdout; the harness copies them into the node's log file.
    await fsp.writeFile(path.join(dir, 'log4j.properties'), [
        'log4j.rootLogger=INFO, stdout',
        'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
        'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
        'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
        'log4j.logger.kafka.request.logger=WARN',
        'log4j.logger.org.apache.zookeeper=WARN',
        '',
    ].join('\n'));
    await fsp.writeFile(path.join(dir, 'log4j2.properties'), [
        'status=warn',
        'shutdownHook=disable',
        'appender.stdout.type=Console',
        'appender.stdout.name=STDOUT',
        'appender.stdout.layout.type=PatternLayout',
        'appender.stdout.layout.pattern=[%d] %p %m (%c)%n',
        'rootLogger.level=INFO',
        'rootLogger.appenderRef.stdout.ref=STDOUT',
        'logger.request.name=kafka.request.logger',
        'logger.request.level=WARN',
        '',
    ].join('\n'));
    return propsFile;
}

/** StorageTool format of one node's log dirs (`extra`: e.g. --add-scram arguments). */
async function formatStorage(proc, propsFile, clusterId, extra = []) {
    const args = javaArgs(proc, 'kafka.tools.StorageTool', [
        'format', '--config', propsFile, '--cluster-id', clusterId, '--ignore-formatted', ...extra,
    ]);
    const out = await run('java', args, { cwd: proc.dir });
    await fsp.appendFile(proc.logFile, `\n===== StorageTool format (${new Date().toISOString()})\n${out}`);
}

/**
 * Spawns `kafka.Kafka propsFile` (java itself, no shell, so the PID is the broker's), copies its
 * output into proc.logFile and keeps draining it. Returns { child, ready }: `ready` resolves on
 * the readiness line, and rejects (after a SIGKILL) on a timeout or an early exit.
 */
function spawnKafka(proc, propsFile, { timeoutMs = START_TIMEOUT_MS } = {}) {
    const log = fs.createWriteStream(proc.logFile, { flags: 'a' });
    log.write(`\n===== kafka ${proc.version} start (${new Date().toISOString()})\n`);
    const child = spawn('java', javaArgs(proc, 'kafka.Kafka', [propsFile]), {
        cwd: proc.dir,
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    liveChildren.add(child);
    handleSignals();
    const pidFile = path.join(proc.dir, PID_FILE);
    if (child.pid) {
        fs.writeFileSync(pidFile, JSON.stringify({ owner: process.pid, java: child.pid }));
        guard('+', child, proc.dir);
    }
    const ready = new Promise((resolve, reject) => {
        let tail = '';
        let settled = false;
        const finish = (err) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            if (err) reject(err);
            else resolve();
        };
        const onData = (chunk) => {
            log.write(chunk);
            if (settled) return;
            tail = (tail + chunk.toString('utf8')).slice(-20000);
            if (tail.includes(READY_LINE)) finish();
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        const timer = setTimeout(() => {
            if (settled) return;
            try {
                child.kill('SIGKILL');
            } catch {
                // gone
            }
            finish(new Error(`Kafka ${proc.version} not ready after ${timeoutMs / 1000} s (log ${proc.logFile}):\n${tail.slice(-4000)}`));
        }, timeoutMs);
        child.on('error', (err) => {
            liveChildren.delete(child);
            log.end();
            finish(new Error(`java could not be started: ${err.message}`));
        });
        child.on('close', (code, signal) => {
            liveChildren.delete(child);
            guard('-', child, proc.dir);
            fs.rmSync(pidFile, { force: true });
            log.end(`===== kafka exited (${signal || code})\n`);
            finish(new Error(`Kafka ${proc.version} exited (${signal || code}) before it was ready (log ${proc.logFile}):\n${tail.slice(-4000)}`));
        });
    });
    ready.catch(() => {}); // the caller awaits it; no unhandled rejection if it stops waiting
    return { child, ready };
}

/** Resolves once `child` has exited (or 2 s after 'exit' when a pipe stays stuck). */
function exited(child) {
    return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
            resolve();
            return;
        }
        child.once('close', resolve);
        child.once('exit', () => setTimeout(resolve, 2000));
    });
}

/** Graceful stop: SIGCONT (in case it was SIGSTOPped), SIGTERM, then SIGKILL after timeoutMs. */
async function stopChild(child, timeoutMs = STOP_TIMEOUT_MS) {
    const gone = exited(child);
    try {
        child.kill('SIGCONT');
        child.kill('SIGTERM');
    } catch {
        // already gone
    }
    let timer;
    const timedOut = new Promise((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
    });
    if (await Promise.race([gone.then(() => false), timedOut])) {
        try {
            child.kill('SIGKILL');
        } catch {
            // gone meanwhile
        }
        await gone;
    }
    clearTimeout(timer);
    liveChildren.delete(child);
}

/** SIGKILL; resolves once the process is gone. */
async function killChild(child) {
    const gone = exited(child);
    try {
        child.kill('SIGKILL');
    } catch {
        // already gone
    }
    await gone;
    liveChildren.delete(child);
}

const LISTENERS = [
    // [listener name, security protocol, info() key]
    ['PLAINTEXT', 'PLAINTEXT', 'plaintext'],
    ['SASL_PLAINTEXT', 'SASL_PLAINTEXT', 'saslPlaintext'],
    ['SSL', 'SSL', 'ssl'],
    ['MTLS', 'SSL', 'mtls'],
    ['SASL_SSL', 'SASL_SSL', 'saslSsl'],
    ['CONTROLLER', 'PLAINTEXT', 'controller'],
];

class Broker {
    /**
     * `properties`: server.properties entries that replace or add to the defaults
     * below (e.g. { 'auto.create.topics.enable': 'false' }).
     */
    constructor({ version = process.env.KAFKA_VERSION || DEFAULT_VERSION, dir, properties = {} } = {}) {
        this.version = version;
        this.properties = properties;
        this.dir = dir || path.join(CACHE, `run-${version}-${process.pid}`);
        this.logFile = path.join(this.dir, 'broker.log');
        this.ports = null; // picked on the first start, then kept
        this.certs = null;
        this.jarsDir = null;
        this.formatted = false;
        this.child = null;
        this.startMs = null;
        this.fetchMs = null;
        this._starting = null;
        this._stopping = null;
        this._closed = false;
    }

    get running() {
        return this.child !== null;
    }

    address(key) {
        return this.ports ? `127.0.0.1:${this.ports[key]}` : null;
    }

    info() {
        const users = {};
        for (const [key, u] of Object.entries(USERS)) {
            users[key] = { mechanism: u.mechanism, username: u.username, password: u.password };
        }
        return {
            version: this.version,
            external: false,
            plaintext: this.address('plaintext'),
            saslPlaintext: this.address('saslPlaintext'),
            ssl: this.address('ssl'),
            mtls: this.address('mtls'),
            saslSsl: this.address('saslSsl'),
            brokers: this.ports ? [this.address('plaintext')] : [],
            users,
            tls: this.certs
                ? { ca: this.certs.ca, clientCert: this.certs.clientCert, clientKey: this.certs.clientKey, wrongCa: this.certs.wrongCa }
                : null,
            logFile: this.logFile,
            startMs: this.startMs,
        };
    }

    async start() {
        if (this._stopping) await this._stopping;
        if (this._closed) throw new Error('Broker was closed');
        if (this.child) return this.info();
        if (!this._starting) {
            this._starting = this._start().finally(() => {
                this._starting = null;
            });
        }
        await this._starting;
        return this.info();
    }

    async _start() {
        const t0 = Date.now();
        this.jarsDir = await ensureJars(this.version);
        this.certs = await makeCerts();
        this.fetchMs = Date.now() - t0;
        const t1 = Date.now();
        if (!this.ports) await reapStale(this.dir);
        await fsp.mkdir(this.dir, { recursive: true });
        if (!this.ports) {
            const picked = await freePorts(LISTENERS.length);
            this.ports = Object.fromEntries(LISTENERS.map(([, , key], i) => [key, picked[i]]));
        }
        const propsFile = await this._writeConfig();
        if (!this.formatted) {
            await this._format(propsFile);
            this.formatted = true;
        }
        await this._launch(propsFile);
        this.startMs = Date.now() - t1;
    }

    async _writeConfig() {
        const p = this.ports;
        const c = this.certs;
        const client = LISTENERS.filter(([name]) => name !== 'CONTROLLER');
        const saslJaas = (listener) => {
            const l = listener.toLowerCase();
            const users = [USERS.admin, USERS.plain].map((u) => `user_${u.username}="${u.password}"`).join(' ');
            return [
                `listener.name.${l}.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512`,
                `listener.name.${l}.plain.sasl.jaas.config=${jaas(USERS.admin)} ${users};`,
                `listener.name.${l}.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
                `listener.name.${l}.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
            ];
        };
        const lines = [
            '# Written by scripts/kafka/broker.js on every start; edits are lost.',
            'process.roles=broker,controller',
            'node.id=1',
            `controller.quorum.voters=1@127.0.0.1:${p.controller}`,
            'controller.listener.names=CONTROLLER',
            `listeners=${LISTENERS.map(([name, , key]) => `${name}://127.0.0.1:${p[key]}`).join(',')}`,
            `advertised.listeners=${client.map(([name, , key]) => `${name}://127.0.0.1:${p[key]}`).join(',')}`,
            `listener.security.protocol.map=${LISTENERS.map(([name, proto]) => `${name}:${proto}`).join(',')}`,
            'inter.broker.listener.name=PLAINTEXT',
            `log.dirs=${propValue(path.join(this.dir, 'data'))}`,
            '',
            '# SASL (PLAIN users in the JAAS line; SCRAM users are written by StorageTool --add-scram)',
            ...saslJaas('SASL_PLAINTEXT'),
            ...saslJaas('SASL_SSL'),
            '',
            '# TLS from PEM files, no store passwords',
            'ssl.keystore.type=PEM',
            `ssl.keystore.location=${propValue(c.keystore)}`,
            'ssl.truststore.type=PEM',
            `ssl.truststore.location=${propValue(c.ca)}`,
            'listener.name.mtls.ssl.client.auth=required',
            '',
            '# Single node',
            'num.partitions=1',
            'default.replication.factor=1',
            'min.insync.replicas=1',
            'auto.create.topics.enable=true',
            'offsets.topic.replication.factor=1',
            'offsets.topic.num.partitions=1',
            'transaction.state.log.replication.factor=1',
            'transaction.state.log.min.isr=1',
            'transaction.state.log.num.partitions=1',
            'share.coordinator.state.topic.replication.factor=1',
            'share.coordinator.state.topic.min.isr=1',
            'group.initial.rebalance.delay.ms=0',
            'log.cleaner.dedupe.buffer.size=16777216',
            'num.io.threads=4',
            'num.network.threads=2',
            '',
        ];
        return writeConfigs(this.dir, lines, this.properties);
    }

    /** What the shared process functions need to know about this broker's JVM. */
    _proc() {
        return { version: this.version, dir: this.dir, jarsDir: this.jarsDir, logFile: this.logFile, heap: JVM_HEAP };
    }

    async _format(propsFile) {
        const scram = [USERS.scram256, USERS.scram512].flatMap((u) => [
            '--add-scram', `${u.mechanism.toUpperCase()}=[name=${u.username},password=${u.password}]`,
        ]);
        await formatStorage(this._proc(), propsFile, newClusterId(), scram);
    }

    async _launch(propsFile) {
        const { child, ready } = spawnKafka(this._proc(), propsFile);
        this.child = child;
        child.on('close', () => {
            if (this.child === child) this.child = null;
        });
        await ready;
    }

    async stop() {
        if (this._starting) {
            try {
                await this._starting;
            } catch {
                // a failed start leaves nothing running
            }
        }
        if (!this.child) return;
        if (!this._stopping) {
            const child = this.child;
            this._stopping = stopChild(child).finally(() => {
                if (this.child === child) this.child = null;
                this._stopping = null;
            });
        }
        await this._stopping;
    }

    /** Stops for good: a later start() fails (so a test cannot restart it after an interrupt). */
    async close() {
        this._closed = true;
        await this.stop();
    }

    /** Deletes the data folder (keeps the log and configs). Only when stopped; next start formats again. */
    async removeData() {
        if (this.child) throw new Error('Broker is running');
        await fsp.rm(path.join(this.dir, 'data'), { recursive: true, force: true });
        this.formatted = false;
    }
}

module.exports = {
    Broker, ensureJars, makeCerts, freePorts, DEFAULT_VERSION, USERS, CACHE,
    // for scripts/kafka/cluster.js (and the process helpers for scripts/registry/registry.js)
    exists, run, newClusterId, propValue, reapStale, writeConfigs, formatStorage, spawnKafka, stopChild, killChild, liveChildren,
};
