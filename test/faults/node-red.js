'use strict';
/*
 * Real Node-RED processes with the package installed as the palette manager installs it.
 *
 *   const pkg = await packOnce();                 // npm run build + npm pack, once per test process
 *   const nr = new NodeRedProcess({ name: 'a', tarball: pkg, env: { ... }, sampleFile });
 *   await nr.install();                           // fresh user dir, npm install <tarball> there
 *   await nr.start();                             // red.js --userDir --port --settings; waits for the admin API
 *   await nr.deploy(flows, 'full' | 'nodes');
 *   await nr.kill();  await nr.start();           // SIGKILL, then the same user dir (and flows) again
 *   await nr.stop();                              // SIGTERM, SIGKILL after 20 s
 *   nr.logFile                                    // stdout+stderr of every start, appended
 *
 * Everything lives in one temp folder per test process (FAULTS_TMP to choose it); it is removed
 * at the end unless FAULTS_KEEP is set or a scenario failed (the logs are then worth reading).
 */
const fs = require('fs');
const fsp = fs.promises;
const os = require('os');
const path = require('path');
const http = require('http');
const { spawn } = require('child_process');
const { freePorts } = require('../../scripts/kafka/broker');

const ROOT = path.resolve(__dirname, '..', '..');
const RED_JS = path.join(ROOT, 'node_modules', 'node-red', 'red.js');
const SAMPLER = path.join(__dirname, 'sampler.js');
const CREDENTIAL_SECRET = 'faults-suite-fixed-secret';
const START_TIMEOUT_MS = 60000;

const live = new Set();
process.on('exit', () => {
    for (const nr of live) {
        try {
            process.kill(nr.pid, 'SIGKILL');
        } catch {
            // gone
        }
    }
});

let tmpRoot = null;
function tmp() {
    if (!tmpRoot) {
        tmpRoot = process.env.FAULTS_TMP || fs.mkdtempSync(path.join(os.tmpdir(), 'kafka-faults-'));
        fs.mkdirSync(tmpRoot, { recursive: true });
    }
    return tmpRoot;
}

function run(cmd, args, opts = {}) {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
        let out = '';
        child.stdout.on('data', (d) => { out += d; });
        child.stderr.on('data', (d) => { out += d; });
        child.on('error', reject);
        child.on('close', (code) => {
            if (code === 0) resolve(out);
            else reject(new Error(`${cmd} ${args.join(' ')} failed (${code}):\n${out.slice(-4000)}`));
        });
    });
}

let packing = null;
/** Builds the package and packs it into a tarball, once per process. Returns the tarball's path. */
function packOnce() {
    if (!packing) {
        packing = (async () => {
            await run('npm', ['run', 'build'], { cwd: ROOT });
            const dest = path.join(tmp(), 'pack');
            await fsp.mkdir(dest, { recursive: true });
            const out = await run('npm', ['pack', '--json', '--pack-destination', dest], { cwd: ROOT });
            const [{ filename }] = JSON.parse(out.slice(out.indexOf('[')));
            return path.join(dest, filename);
        })();
    }
    return packing;
}

/** A deploy closes the modified nodes first (Node-RED gives each up to 15 s): longer than other calls. */
function request(port, method, urlPath, body, headers = {}, timeout = method === 'POST' ? 30000 : 10000) {
    return new Promise((resolve, reject) => {
        const data = body === undefined ? null : Buffer.from(JSON.stringify(body));
        const req = http.request({
            host: '127.0.0.1', port, method, path: urlPath, timeout,
            headers: { ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}), ...headers },
        }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d) => { text += d; });
            res.on('end', () => resolve({ status: res.statusCode, text }));
        });
        req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: timeout`)));
        req.on('error', reject);
        if (data) req.write(data);
        req.end();
    });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function settingsFile({ port, flowFile, sampleFile, logLevel = 'info' }) {
    const sampler = sampleFile
        ? `require(${JSON.stringify(SAMPLER)}).start(${JSON.stringify(sampleFile)});\n`
        : '';
    return `'use strict';
// Written by test/faults/node-red.js for one Node-RED instance of the fault suite.
${sampler}module.exports = {
    uiPort: ${port},
    uiHost: '127.0.0.1',
    flowFile: ${JSON.stringify(flowFile)},
    flowFilePretty: true,
    credentialSecret: ${JSON.stringify(CREDENTIAL_SECRET)},
    logging: { console: { level: ${JSON.stringify(logLevel)}, metrics: false, audit: false } },
    diagnostics: { enabled: false, ui: false },
    telemetry: { enabled: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    editorTheme: { tours: false, palette: { catalogues: [] } },
    functionExternalModules: false,
    exportGlobalContextKeys: false,
};
`;
}

class NodeRedProcess {
    /**
     * name: label (also FAULTS_INSTANCE in the process's environment, which the flow's function
     * node reads); tarball: from packOnce(); env: extra environment; sampleFile: where the
     * in-process sampler writes a JSON line a second (none when unset); logLevel: Node-RED's
     * console log level ('info', or FAULTS_LOG_LEVEL; 'debug' also logs node.debug, e.g. the consumer's
     * aborted transactions, and the kafkajs lines about outages it retries itself);
     * nodeArgs: options for node itself before red.js (e.g. --cpu-prof, which NODE_OPTIONS refuses).
     */
    constructor({ name, tarball, env = {}, sampleFile = null, logLevel = process.env.FAULTS_LOG_LEVEL || 'info', nodeArgs = [] }) {
        this.name = name;
        this.nodeArgs = nodeArgs;
        this.tarball = tarball;
        this.env = env;
        this.sampleFile = sampleFile;
        this.logLevel = logLevel;
        this.userDir = path.join(tmp(), `node-red-${name}`);
        this.logFile = path.join(tmp(), `node-red-${name}.log`);
        this.settings = path.join(this.userDir, 'settings.js');
        this.port = null;
        this.child = null;
        this.pid = null;
        this.starts = 0;
    }

    async install() {
        await fsp.rm(this.userDir, { recursive: true, force: true });
        await fsp.mkdir(this.userDir, { recursive: true });
        await fsp.writeFile(path.join(this.userDir, 'package.json'), `${JSON.stringify({
            name: 'node-red-project', description: 'A Node-RED Project', version: '0.0.1', private: true,
        }, null, 4)}\n`);
        // The palette manager's command (@node-red/registry installer), in the user dir.
        const t0 = Date.now();
        await run('npm', ['install', '--no-audit', '--no-update-notifier', '--no-fund', '--save', '--save-prefix=~',
            '--omit=dev', '--engine-strict', this.tarball], { cwd: this.userDir });
        this.installMs = Date.now() - t0;
        [this.port] = await freePorts(1);
        await fsp.writeFile(this.settings, settingsFile({ port: this.port, flowFile: 'flows.json', sampleFile: this.sampleFile, logLevel: this.logLevel }));
    }

    get url() {
        return `http://127.0.0.1:${this.port}`;
    }

    get running() {
        return this.child !== null;
    }

    async start() {
        if (this.child) throw new Error(`node-red ${this.name} is running`);
        const fd = fs.openSync(this.logFile, 'a');
        fs.writeSync(fd, `\n===== start ${++this.starts} ${new Date().toISOString()}\n`);
        const child = spawn(process.execPath, ['--trace-warnings', ...this.nodeArgs, RED_JS, '--userDir', this.userDir, '--port', String(this.port), '--settings', this.settings], {
            cwd: this.userDir,
            stdio: ['ignore', fd, fd],
            env: { ...process.env, ...this.env, FAULTS_INSTANCE: this.name, NODE_RED_ENABLE_PROJECTS: 'false' },
        });
        fs.closeSync(fd);
        this.child = child;
        this.pid = child.pid;
        live.add(this);
        this.exited = new Promise((resolve) => {
            child.on('exit', (code, signal) => {
                live.delete(this);
                if (this.child === child) this.child = null;
                fs.appendFileSync(this.logFile, `===== exited (${signal || code}) ${new Date().toISOString()}\n`);
                resolve({ code, signal });
            });
        });
        const deadline = Date.now() + START_TIMEOUT_MS;
        for (;;) {
            if (!this.child) throw new Error(`node-red ${this.name} exited during start-up (log ${this.logFile})`);
            try {
                const res = await request(this.port, 'GET', '/flows', undefined, { 'Node-RED-API-Version': 'v2' });
                if (res.status === 200) {
                    this.rev = JSON.parse(res.text).rev;
                    return;
                }
            } catch {
                // not listening yet
            }
            if (Date.now() > deadline) throw new Error(`node-red ${this.name}: no admin API after ${START_TIMEOUT_MS / 1000} s (log ${this.logFile})`);
            await sleep(200);
        }
    }

    /** POST /flows; type 'full' or 'nodes' (only the changed nodes restart). */
    async deploy(flows, type = 'full') {
        const res = await request(this.port, 'POST', '/flows', { flows }, {
            'Node-RED-API-Version': 'v2',
            'Node-RED-Deployment-Type': type,
        });
        if (res.status !== 200) throw new Error(`node-red ${this.name}: POST /flows ${res.status} ${res.text}`);
        this.rev = JSON.parse(res.text).rev;
    }

    async flows() {
        const res = await request(this.port, 'GET', '/flows', undefined, { 'Node-RED-API-Version': 'v2' });
        return JSON.parse(res.text).flows;
    }

    async kill() {
        if (!this.child) return;
        const exited = this.exited;
        this.child.kill('SIGKILL');
        await exited;
    }

    async stop() {
        if (!this.child) return;
        const exited = this.exited;
        this.child.kill('SIGTERM');
        const timer = setTimeout(() => {
            if (this.child) this.child.kill('SIGKILL');
        }, 20000);
        await exited;
        clearTimeout(timer);
    }

    async log() {
        return fsp.readFile(this.logFile, 'utf8').catch(() => '');
    }
}

async function cleanup({ keep = false } = {}) {
    await Promise.all([...live].map((nr) => nr.kill()));
    if (tmpRoot && !keep && !process.env.FAULTS_KEEP && !process.env.FAULTS_TMP) {
        await fsp.rm(tmpRoot, { recursive: true, force: true });
        tmpRoot = null;
    }
    return tmpRoot;
}

module.exports = { NodeRedProcess, packOnce, cleanup, tmp };
