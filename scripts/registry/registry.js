'use strict';
/*
 * A real schema registry for the integration tests and the demo: Apicurio Registry
 * 2.4.2.Final (Confluent Schema Registry API under /apis/ccompat/v7, schemas kept in
 * memory), built from Maven Central by ./pom.xml and run with the local JDK.
 *
 *   const { Registry } = require('./scripts/registry/registry');
 *   const r = new Registry();
 *   await r.start();       // builds once (cached in .registry/app/<version>), then starts on a free port
 *   r.url                  // http://127.0.0.1:PORT/apis/ccompat/v7
 *   await r.stop();        // SIGTERM, then SIGKILL after 10 s
 *   await r.start();       // same port; the schemas are gone (in-memory store)
 *
 *   new Registry({ tls: { cert, key, ca } })
 *                          // HTTPS only (PEM files; ca: what clients trust)
 *
 * Basic auth is not offered: Apicurio 2.4.2 authenticates only through OIDC (Keycloak), and
 * its authentication mechanism fails Quarkus's own basic auth (a challenge throws).
 *
 *   node scripts/registry/registry.js build    only build (CI pre-warm)
 *   node scripts/registry/registry.js start    run in the foreground (Ctrl-C stops it)
 *
 * Maven runs with ./settings.xml (one mirror: Maven Central for every repository);
 * the local repository is the user's own ~/.m2/repository, left as it is.
 */
const fs = require('fs');
const fsp = fs.promises;
const path = require('path');
const http = require('http');
const https = require('https');
const crypto = require('crypto');
const { spawn } = require('child_process');
// The broker harness's process helpers: its children are killed with ours when the run ends.
const { exists, run, freePorts, liveChildren } = require('../kafka/broker');

const REPO = path.resolve(__dirname, '..', '..');
const CACHE = path.join(REPO, '.registry');
const VERSION = '2.4.2';
const MARKER = '.complete';
const API_PATH = '/apis/ccompat/v7';
const START_TIMEOUT_MS = 90000;
const STOP_TIMEOUT_MS = 10000;
const JAVA_OPTS = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true'];

/**
 * Builds the runnable registry once into .registry/app/<version>-<pom hash>/ (a changed
 * pom.xml builds anew) and returns the runner jar's path.
 */
async function ensureBuilt() {
    const pom = await fsp.readFile(path.join(__dirname, 'pom.xml'));
    const dir = path.join(CACHE, 'app', `${VERSION}-${crypto.createHash('sha256').update(pom).digest('hex').slice(0, 8)}`);
    const jar = path.join(dir, `schema-registry-${VERSION}-runner.jar`);
    if (await exists(path.join(dir, MARKER))) return jar;
    const tmp = `${dir}.tmp-${process.pid}`;
    await fsp.rm(tmp, { recursive: true, force: true });
    await fsp.mkdir(tmp, { recursive: true });
    try {
        for (const f of ['pom.xml', 'settings.xml']) await fsp.copyFile(path.join(__dirname, f), path.join(tmp, f));
        await run('mvn', ['-B', '-q', '-s', 'settings.xml', '-f', 'pom.xml', 'package', '-DskipTests'], { cwd: tmp });
        const target = path.join(tmp, 'target');
        const built = path.join(target, `schema-registry-${VERSION}-runner.jar`);
        if (!(await exists(built))) throw new Error(`Maven did not build ${built}`);
        const app = `${tmp}.app`;
        await fsp.rm(app, { recursive: true, force: true });
        await fsp.mkdir(app, { recursive: true });
        await fsp.rename(built, path.join(app, path.basename(built)));
        await fsp.rename(path.join(target, 'lib'), path.join(app, 'lib'));
        await fsp.writeFile(path.join(app, MARKER), `${new Date().toISOString()}\n`);
        if (await exists(path.join(dir, MARKER))) return jar; // someone else finished first
        await fsp.rm(dir, { recursive: true, force: true });
        await fsp.rename(app, dir);
    } catch (err) {
        if (await exists(path.join(dir, MARKER))) return jar;
        throw err;
    } finally {
        await fsp.rm(tmp, { recursive: true, force: true });
        await fsp.rm(`${tmp}.app`, { recursive: true, force: true });
    }
    return jar;
}

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

class Registry {
    constructor({ port = 0, tls = null } = {}) {
        this.port = port;
        this.tls = tls;
        this.child = null;
        this.logFile = null;
        this.startMs = null;
        this.buildMs = 0;
    }

    /** The base URL clients use (the Confluent-compatible API). */
    get url() {
        return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}${API_PATH}`;
    }

    /** The JVM's -D options for the port, and HTTPS when asked for. */
    async portOptions() {
        const o = [];
        if (this.tls) {
            // The plain HTTP port is closed; it still needs a free number to bind nothing on.
            const [unused] = await freePorts(1);
            o.push(`-Dquarkus.http.port=${unused}`, `-Dquarkus.http.ssl-port=${this.port}`, '-Dquarkus.http.insecure-requests=disabled',
                `-Dquarkus.http.ssl.certificate.files=${this.tls.cert}`, `-Dquarkus.http.ssl.certificate.key-files=${this.tls.key}`);
        } else {
            o.push(`-Dquarkus.http.port=${this.port}`);
        }
        return o;
    }

    /**
     * A request to the registry's API (trusting the CA it was given): resolves to the
     * status, or 0 when nothing answers.
     */
    request(method, apiPath, body) {
        const headers = { 'content-type': 'application/vnd.schemaregistry.v1+json' };
        const data = body === undefined ? undefined : JSON.stringify(body);
        if (data) headers['content-length'] = Buffer.byteLength(data);
        const options = { method, headers, timeout: 2000 };
        if (this.tls) options.ca = this.caBytes ??= fs.readFileSync(this.tls.ca); // read once, at the first request
        return new Promise((resolve) => {
            const req = (this.tls ? https : http).request(`${this.url}${apiPath}`, options, (res) => {
                res.resume();
                resolve(res.statusCode);
            });
            req.on('error', () => resolve(0));
            req.on('timeout', () => {
                req.destroy();
                resolve(0);
            });
            req.end(data);
        });
    }

    async start() {
        if (this.child) return;
        const t0 = Date.now();
        const jar = await ensureBuilt();
        this.buildMs = Date.now() - t0;
        if (!this.port) [this.port] = await freePorts(1);
        const runs = path.join(CACHE, 'runs');
        await fsp.mkdir(runs, { recursive: true });
        this.logFile = path.join(runs, `registry-${this.port}.log`);
        const log = fs.openSync(this.logFile, 'a');
        const t1 = Date.now();
        const child = spawn('java', [
            ...JAVA_OPTS, '-Dquarkus.http.host=127.0.0.1', ...(await this.portOptions()), '-jar', jar,
        ], { stdio: ['ignore', log, log], cwd: path.dirname(jar) });
        fs.closeSync(log);
        liveChildren.add(child);
        this.child = child;
        let exited = null;
        child.once('exit', (code, signal) => {
            liveChildren.delete(child);
            exited = signal || code;
            if (this.child === child) this.child = null;
        });
        while (Date.now() - t1 < START_TIMEOUT_MS) {
            if (exited !== null) throw new Error(`the registry exited (${exited}) before it was ready; see ${this.logFile}`);
            if (await this.request('GET', '/subjects') === 200) {
                this.startMs = Date.now() - t1;
                // Confluent's registry checks BACKWARD compatibility by default; Apicurio checks none.
                await this.setCompatibility('BACKWARD');
                return;
            }
            await sleep(200);
        }
        await this.stop();
        throw new Error(`the registry was not ready after ${START_TIMEOUT_MS / 1000} s; see ${this.logFile}`);
    }

    async setCompatibility(level) {
        const status = await this.request('PUT', '/config', { compatibility: level });
        if (status !== 200) throw new Error(`PUT /config answered ${status || 'nothing'}`);
    }

    async stop() {
        const child = this.child;
        if (!child) return;
        const gone = new Promise((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) resolve();
            else child.once('exit', () => resolve());
        });
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await gone;
        clearTimeout(timer);
        this.child = null;
    }
}

module.exports = { Registry, ensureBuilt, API_PATH, VERSION };

if (require.main === module) {
    const cmd = process.argv[2];
    if (cmd === 'build') {
        const t0 = Date.now();
        ensureBuilt().then((jar) => console.log(`registry built in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${jar}`), (err) => {
            console.error(err.message);
            process.exit(1);
        });
    } else if (cmd === 'start') {
        const r = new Registry({ port: Number(process.env.REGISTRY_PORT) || 0 });
        const stop = (code) => r.stop().finally(() => process.exit(code));
        process.on('SIGINT', () => stop(130));
        process.on('SIGTERM', () => stop(143));
        r.start().then(() => {
            console.error(`schema registry ready in ${(r.startMs / 1000).toFixed(1)} s at ${r.url}; Ctrl-C to stop`);
            r.child.once('exit', (code, signal) => {
                console.error(`the registry exited by itself (${signal || code}); see ${r.logFile}`);
                process.exit(1);
            });
        }, (err) => {
            console.error(err.message);
            process.exit(1);
        });
    } else {
        console.error('usage: node scripts/registry/registry.js build|start');
        process.exit(2);
    }
}
