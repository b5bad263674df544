'use strict';
/*
 * What every fault scenario does around its fault: fresh topics and group, the Node-RED
 * instances (each installed from the packed tarball into a fresh user dir), the checker, and
 * at the end the catch-up wait, the printed figures and the verdict.
 *
 * Sizes (FAULTS=short for CI, else the full run):
 *   FAULTS_RECORDS   records per scenario (full 20,000; short 3,000)
 *   Scenarios that write while the fault happens spread those records over the scenario's own
 *   span (e.g. 60 s full, 30 s short: 333 and 100 records/s), so that traffic covers every fault.
 *   FAULTS_OUTAGE_S  how long scenario e keeps the whole cluster down (60)
 *   FAULTS_ONLY      e.g. "a,c" to run some scenarios (short: a,c,f)
 *   FAULTS_CATCHUP_S bound on the final catch-up wait (180; short 90)
 */
const fs = require('fs');
const path = require('path');
const fixture = require('./global');
const { NodeRedProcess } = require('./node-red');
const { Checker, sleep } = require('./checker');
const { buildFlow } = require('./flow');

const SHORT = process.env.FAULTS === 'short';
const N = Number(process.env.FAULTS_RECORDS || (SHORT ? 3000 : 20000));
/** Records/s that spread N records over `fullSeconds` (`shortSeconds` in the short variant). */
const rateFor = (fullSeconds, shortSeconds) => N / (SHORT ? shortSeconds : fullSeconds);
const OUTAGE_S = Number(process.env.FAULTS_OUTAGE_S || 60);
const CATCHUP_S = Number(process.env.FAULTS_CATCHUP_S || (SHORT ? 90 : 180));
const ONLY = (process.env.FAULTS_ONLY || (SHORT ? 'a,c,f' : '')).split(',').map((s) => s.trim()).filter(Boolean);
const LOG_TAIL = 40;
const RESULTS = path.join(__dirname, '..', '..', 'test-results', 'faults.jsonl');

let seq = 0;
const unique = (prefix) => `${prefix}-${Date.now().toString(36)}-${seq++}`;

/**
 * describe() for scenario `letter`; a scenario FAULTS_ONLY (or the short variant) leaves out is
 * not registered at all: a chosen subset, not a skipped test (the run's first line names it).
 */
function scenario(letter, title, fn) {
    if (ONLY.length && !ONLY.includes(letter)) return undefined;
    return describe(`${letter}. ${title}`, fn);
}
if (ONLY.length) console.log(`faults: scenarios ${ONLY.join(',')} of this run (FAULTS_ONLY${SHORT ? ', or the short variant' : ''}); the others are not run`);

class Run {
    /**
     * flowOptions: see buildFlow (flow.js); instanceOptions: { env, logLevel } of every Node-RED
     * instance of the run (see NodeRedProcess).
     */
    constructor(letter, flowOptions = {}, instanceOptions = {}) {
        this.letter = letter;
        this.instanceOptions = instanceOptions;
        this.cluster = fixture.cluster();
        this.group = unique(`faults-${letter}`);
        this.input = unique(`faults-${letter}-in`);
        this.output = unique(`faults-${letter}-out`);
        this.flowOptions = { bootstrap: this.cluster.bootstrap, group: this.group, input: this.input, output: this.output, ...flowOptions };
        this.flow = buildFlow(this.flowOptions);
        this.checker = new Checker({
            kafka: fixture.kafka(`faults-checker-${letter}`),
            input: this.input,
            output: this.output,
            group: this.group,
            partitions: 6,
            replication: this.cluster.replication,
            log: (line) => this.note(line),
        });
        this.instances = [];
        this.started = []; // every instance ever started, killed ones too (their logs, on failure)
        this.spare = [];
        this.added = 0;
        this.notes = [];
        this.t0 = Date.now();
        Run.current = this;
    }

    note(line) {
        const s = ((Date.now() - this.t0) / 1000).toFixed(1);
        this.notes.push(`${s} s ${line}`);
        if (process.env.FAULTS_VERBOSE) console.log(`      [${this.letter} +${s} s] ${line}`);
    }

    /**
     * Topics (with every replica in sync), the output reader, and `instances` Node-RED instances
     * installed ahead (in parallel), so that installing does not eat into a scenario's timeline.
     */
    async prepare({ instances = 1 } = {}) {
        const step = async (what, fn) => {
            try {
                return await fn();
            } catch (err) {
                err.message = `${what}: ${err.message}`;
                throw err;
            }
        };
        const installing = Promise.all(Array.from({ length: instances }, () => this._install()));
        await step('waiting for a full ISR', () => this.cluster.waitForFullIsr([], 60000)).catch((err) => this.note(err.message));
        await step('creating the topics', () => this.checker.createTopics());
        await step('waiting for the new topics\' ISR', () => this.cluster.waitForFullIsr([this.input, this.output], 60000));
        await step('starting the output reader', () => this.checker.startReading());
        this.spare.push(...await step('installing Node-RED', () => installing));
    }

    async _install() {
        const label = `${this.letter}${++this.added}`;
        const nr = new NodeRedProcess({ name: `${label}-${this.group.slice(-6)}`, tarball: fixture.tarball(), ...this.instanceOptions });
        nr.label = label;
        await nr.install();
        this.note(`node-red ${label} installed in ${(nr.installMs / 1000).toFixed(1)} s`);
        return nr;
    }

    /** Starts and deploys one more Node-RED instance (installed ahead by prepare(), or now); returns it. */
    async addInstance() {
        const nr = this.spare.shift() || await this._install();
        this.started.push(nr);
        await nr.start();
        await nr.deploy(this.flow, 'full');
        nr.deployedAt = Date.now();
        this.instances.push(nr);
        this.note(`node-red ${nr.label} deployed`);
        return nr;
    }

    /** Waits until `n` distinct keys are on the output (or `ms` pass). */
    async outputReaches(n, ms = 120000) {
        const deadline = Date.now() + ms;
        while (this.checker.keys.size < n) {
            if (Date.now() > deadline) throw new Error(`output stuck at ${this.checker.keys.size} of ${n} distinct keys`);
            await sleep(100);
        }
    }

    /**
     * Catch-up wait, then `judge()` (async, called once everything is in, so its figures are
     * final) gives { recovery, extra: {more figures}, targets: [{name, ok, detail}] }; prints one
     * line, appends a JSON line to test-results/faults.jsonl, and throws (listing every miss)
     * when anything was lost, the group did not catch up or a target was missed.
     */
    async finish(judge = async () => ({})) {
        await this.checker.producerDone();
        try {
            // what IN really holds: a write the producer was told succeeded may be missing
            this.checker.inputKeys = await this.checker.readKeys(this.input);
        } catch (err) {
            this.note(`re-reading the input: ${err.message}`);
        }
        const caught = await this.checker.caughtUp(CATCHUP_S * 1000);
        const f = this.checker.figures();
        const { recovery = null, extra = {}, targets = [] } = await judge(f);
        const rec = recovery === null ? '-' : `${Number.isFinite(recovery) ? recovery.toFixed(1) : 'never'} s`;
        const more = Object.entries(extra).map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' | ');
        const bad = (f.ackedNotInInput ? ` | acked by the broker but not in IN ${f.ackedNotInInput} (e.g. ${f.ackedNotInInputSample.join(', ')}; not counted)` : '') +
            (f.rereadByChecker ? ` | OUT records the checker read again after its own group failed over ${f.rereadByChecker} (not counted)` : '');
        console.log(`      [faults] ${this.letter} | produced ${f.produced} | consumed ${f.consumed} | lost ${f.lost} | duplicated ${f.duplicated} | recovery ${rec}${more ? ` | ${more}` : ''}${bad}${caught.caughtUp ? '' : ` | NOT CAUGHT UP: lag ${caught.lag}, ${caught.missing} keys missing`}`);
        const all = [
            { name: 'no loss', ok: f.lost === 0, detail: `${f.lost} lost, e.g. ${f.lostSample.join(', ')}` },
            { name: 'group caught up', ok: caught.caughtUp, detail: `lag ${caught.lag}, ${caught.missing} keys not on the output after ${CATCHUP_S} s` },
            ...targets,
        ];
        // Node's warning for a listener added per reconnect (#9: none); --trace-warnings gives its stack.
        const warned = [];
        for (const nr of [...this.instances, ...this.spare]) {
            const text = fs.existsSync(nr.logFile) ? fs.readFileSync(nr.logFile, 'utf8') : '';
            const at = text.indexOf('MaxListenersExceededWarning');
            if (at >= 0) warned.push(`${nr.logFile}: ${text.slice(at, at + 600).split('\n').slice(0, 8).join(' / ')}`);
        }
        all.push({ name: 'no MaxListenersExceededWarning', ok: warned.length === 0, detail: warned.join('; ') });
        const missed = all.filter((t) => !t.ok);
        fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
        fs.appendFileSync(RESULTS, `${JSON.stringify({
            at: new Date().toISOString(), scenario: this.letter, short: SHORT, brokers: this.cluster.nodeIds.length,
            ...f, lostSample: undefined, ackedNotInInputSample: undefined, recovery, caught, extra, missed: missed.map((t) => `${t.name}: ${t.detail}`),
            logs: this.instances.map((nr) => nr.logFile),
        })}\n`);
        if (missed.length) {
            for (const t of missed) console.log(`      [faults] ${this.letter} MISSED ${t.name}: ${t.detail}`);
            const err = new Error(`scenario ${this.letter}: ${missed.map((t) => `${t.name} (${t.detail})`).join('; ')}`);
            err.notes = this.notes;
            throw err;
        }
    }

    async close() {
        for (const id of this.cluster.nodeIds) await this.cluster.resume(id).catch(() => {});
        await Promise.all(this.instances.map((nr) => nr.stop().catch(() => nr.kill())));
        await Promise.all(this.spare.map((nr) => nr.kill()));
        await this.checker.close();
    }
}

/** A failed scenario prints its notes and the end of each of its Node-RED logs: CI keeps no files. */
afterEach(function () {
    const run = Run.current;
    if (!run || this.currentTest.state !== 'failed') return;
    console.log(`      [faults] ${run.letter} notes:\n${run.notes.map((n) => `        ${n}`).join('\n')}`);
    for (const nr of run.started) {
        const lines = fs.existsSync(nr.logFile) ? fs.readFileSync(nr.logFile, 'utf8').trimEnd().split('\n') : [];
        console.log(`      [faults] ${run.letter} ${nr.label} log (${nr.logFile}), last ${Math.min(LOG_TAIL, lines.length)} of ${lines.length} lines:`);
        for (const line of lines.slice(-LOG_TAIL)) console.log(`        ${line.slice(0, 400)}`);
    }
});

module.exports = { scenario, Run, N, rateFor, OUTAGE_S, SHORT, sleep };
