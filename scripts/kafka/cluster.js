'use strict';
/*
 * Test harness for a replicated Apache Kafka cluster (KRaft): N combined broker+controller nodes
 * on 127.0.0.1, all of them voters, one PLAINTEXT client listener each. Same jars, logging,
 * process handling and stale-run reaping as the single Broker (scripts/kafka/broker.js).
 *
 *   const { Cluster } = require('./scripts/kafka/cluster');
 *   const c = new Cluster({ version: '3.9.1', nodes: 3, overrides: { 'some.prop': 'x' } });
 *   await c.start();                 // all nodes ready and registered
 *   c.bootstrap; c.nodeIds; c.address(id); c.pid(id);
 *   await c.kill(id); await c.restart(id); await c.hang(id); await c.resume(id); await c.stopNode(id);
 *   await c.leaderOf(topic, partition); await c.coordinatorOf(groupId);
 *   await c.waitForFullIsr([topic], 60000);
 *   await c.stop(); await c.removeData();
 *   c.on('nodeExit', ({ id, code, signal, expected }) => ...);  // expected: by kill/stopNode/stop
 *
 * Everything it writes lives under <repo>/.kafka/cluster-<version>-<pid>/node-<id>/ (git-ignored).
 */
const { EventEmitter } = require('events');
const fsp = require('fs').promises;
const path = require('path');
const { Kafka, logLevel } = require('kafkajs');
const {
    ensureJars, freePorts, newClusterId, propValue, reapStale, writeConfigs, formatStorage,
    spawnKafka, stopChild, killChild, DEFAULT_VERSION, CACHE,
} = require('./broker');

// Three JVMs share two cores: a smaller heap each than the single broker's.
const JVM_HEAP = ['-Xms128m', '-Xmx384m'];
const STOP_TIMEOUT_MS = 20000;
// Three JVMs starting at once on a busy two-core machine: more than the single broker's 90 s.
const START_TIMEOUT_MS = 180000;
const REGISTER_TIMEOUT_MS = 60000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class Cluster extends EventEmitter {
    /**
     * `overrides`: server.properties entries that replace or add to the defaults, on every node.
     */
    constructor({ version = process.env.KAFKA_VERSION || DEFAULT_VERSION, nodes = 3, overrides = {}, dir } = {}) {
        super();
        if (!Number.isInteger(nodes) || nodes < 1) throw new Error(`Bad node count ${nodes}`);
        this.version = version;
        this.overrides = overrides;
        this.dir = dir || path.join(CACHE, `cluster-${version}-${process.pid}`);
        this.nodeIds = Array.from({ length: nodes }, (_, i) => i + 1);
        this.clusterId = null;
        this.jarsDir = null;
        this.formatted = false;
        this.startMs = null;
        this.fetchMs = null;
        this._nodes = new Map(this.nodeIds.map((id) => {
            const dir = path.join(this.dir, `node-${id}`);
            return [id, { id, dir, logFile: path.join(dir, 'kafka.log'), port: null, controllerPort: null, child: null, hung: false }];
        }));
        this._starting = null;
        this._closed = false;
    }

    _node(id) {
        const n = this._nodes.get(Number(id));
        if (!n) throw new Error(`No node ${id} (nodes are ${this.nodeIds.join(',')})`);
        return n;
    }

    get bootstrap() {
        return this.nodeIds.map((id) => this.address(id)).join(',');
    }

    address(id) {
        const n = this._node(id);
        return n.port ? `127.0.0.1:${n.port}` : null;
    }

    pid(id) {
        const n = this._node(id);
        return n.child ? n.child.pid : null;
    }

    /** Node ids whose process runs and is not SIGSTOPped. */
    liveNodeIds() {
        return this.nodeIds.filter((id) => this._node(id).child && !this._node(id).hung);
    }

    info() {
        return {
            version: this.version,
            external: false,
            nodes: this.nodeIds.length,
            bootstrap: this.bootstrap,
            plaintext: this.address(this.nodeIds[0]),
            brokers: this.nodeIds.map((id) => this.address(id)),
            pids: Object.fromEntries(this.nodeIds.map((id) => [id, this.pid(id)])),
            logFiles: Object.fromEntries(this.nodeIds.map((id) => [id, this._node(id).logFile])),
            startMs: this.startMs,
        };
    }

    async start() {
        if (this._closed) throw new Error('Cluster was closed');
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
        this.fetchMs = Date.now() - t0;
        const t1 = Date.now();
        if (!this._node(this.nodeIds[0]).port) {
            await reapStale(this.dir);
            const ports = await freePorts(this.nodeIds.length * 2);
            for (const [i, id] of this.nodeIds.entries()) {
                Object.assign(this._node(id), { port: ports[2 * i], controllerPort: ports[2 * i + 1] });
            }
        }
        if (!this.formatted) this.clusterId = newClusterId();
        const down = this.nodeIds.filter((id) => !this._node(id).child);
        for (const id of down) {
            await fsp.mkdir(this._node(id).dir, { recursive: true });
            this._node(id).propsFile = await this._writeConfig(id);
        }
        if (!this.formatted) {
            // One JVM per node; run them together, the machine has two cores.
            await Promise.all(this.nodeIds.map((id) => formatStorage(this._proc(id), this._node(id).propsFile, this.clusterId)));
            this.formatted = true;
        }
        // A node alone has no quorum: all of them start together.
        try {
            await Promise.all(down.map((id) => this._launch(id)));
            await this._waitRegistered(this.nodeIds, REGISTER_TIMEOUT_MS);
            // The first FindCoordinator creates __consumer_offsets (and __transaction_state) with a
            // replication factor of N, which needs all N brokers: do it now, before a test takes one away.
            await this._findCoordinator('cluster-harness-warm-up', 0, REGISTER_TIMEOUT_MS);
            await this._findCoordinator('cluster-harness-warm-up', 1, REGISTER_TIMEOUT_MS);
        } catch (err) {
            await Promise.all(this.nodeIds.map((id) => this.kill(id)));
            throw err;
        }
        this.startMs = Date.now() - t1;
    }

    _proc(id) {
        const n = this._node(id);
        return { version: this.version, dir: n.dir, jarsDir: this.jarsDir, logFile: n.logFile, heap: JVM_HEAP };
    }

    async _writeConfig(id) {
        const n = this._node(id);
        const count = this.nodeIds.length;
        const isr = Math.min(2, count);
        const voters = this.nodeIds.map((v) => `${v}@127.0.0.1:${this._node(v).controllerPort}`).join(',');
        const lines = [
            '# Written by scripts/kafka/cluster.js on every start; edits are lost.',
            'process.roles=broker,controller',
            `node.id=${id}`,
            `controller.quorum.voters=${voters}`,
            'controller.listener.names=CONTROLLER',
            `listeners=PLAINTEXT://127.0.0.1:${n.port},CONTROLLER://127.0.0.1:${n.controllerPort}`,
            `advertised.listeners=PLAINTEXT://127.0.0.1:${n.port}`,
            'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
            'inter.broker.listener.name=PLAINTEXT',
            `log.dirs=${propValue(path.join(n.dir, 'data'))}`,
            '',
            '# Replicated: acks=all needs 2 of 3 in sync, and no out-of-sync replica becomes leader',
            `num.partitions=${count}`,
            `default.replication.factor=${count}`,
            `min.insync.replicas=${isr}`,
            'unclean.leader.election.enable=false',
            'auto.create.topics.enable=true',
            `offsets.topic.replication.factor=${count}`,
            'offsets.topic.num.partitions=6',
            `transaction.state.log.replication.factor=${count}`,
            `transaction.state.log.min.isr=${isr}`,
            'transaction.state.log.num.partitions=3',
            `share.coordinator.state.topic.replication.factor=${count}`,
            `share.coordinator.state.topic.min.isr=${isr}`,
            'group.initial.rebalance.delay.ms=0',
            '',
            '# Failures noticed within seconds (a killed broker is fenced, a hung follower leaves the ISR)',
            'broker.heartbeat.interval.ms=1000',
            'broker.session.timeout.ms=6000',
            'replica.lag.time.max.ms=10000',
            '',
            '# Small footprint: three JVMs on two cores',
            'log.cleaner.dedupe.buffer.size=8388608',
            'num.io.threads=2',
            'num.network.threads=2',
            'num.replica.fetchers=1',
            'background.threads=4',
            '',
        ];
        return writeConfigs(n.dir, lines, this.overrides);
    }

    async _launch(id) {
        const n = this._node(id);
        const { child, ready } = spawnKafka(this._proc(id), n.propsFile, { timeoutMs: START_TIMEOUT_MS });
        n.child = child;
        n.hung = false;
        n.expectExit = false;
        child.on('close', (code, signal) => {
            if (n.child === child) {
                n.child = null;
                n.hung = false;
            }
            this.emit('nodeExit', { id, code, signal, expected: n.expectExit });
        });
        await ready;
    }

    /** A kafkajs client on the nodes that are up (a hung node would stall it), quiet. */
    _kafka() {
        const brokers = this.liveNodeIds().map((id) => this.address(id));
        if (brokers.length === 0) throw new Error('No node of the cluster is running');
        return new Kafka({
            clientId: 'cluster-harness',
            brokers,
            logLevel: logLevel.NOTHING,
            connectionTimeout: 3000,
            requestTimeout: 5000,
            retry: { retries: 2, initialRetryTime: 200 },
        });
    }

    async _withAdmin(fn) {
        const admin = this._kafka().admin();
        await admin.connect();
        try {
            return await fn(admin);
        } finally {
            await admin.disconnect().catch(() => {});
        }
    }

    /** Retries `fn` until it returns a value other than undefined, or throws its last error at the deadline. */
    async _poll(what, timeoutMs, fn) {
        const deadline = Date.now() + timeoutMs;
        let last = null;
        for (;;) {
            try {
                const v = await fn();
                if (v !== undefined) return v;
            } catch (err) {
                last = err;
            }
            if (Date.now() > deadline) {
                throw new Error(`${what}: not done after ${timeoutMs / 1000} s${last ? ` (last error: ${last.message})` : ''}`);
            }
            await sleep(300);
        }
    }

    /** Until the cluster's metadata lists every one of `ids` as a broker. */
    _waitRegistered(ids, timeoutMs) {
        return this._poll(`brokers ${ids.join(',')} registered`, timeoutMs, async () => {
            const { brokers } = await this._withAdmin((a) => a.describeCluster());
            const seen = new Set(brokers.map((b) => b.nodeId));
            return ids.every((id) => seen.has(id)) ? true : undefined;
        });
    }

    /** SIGKILL; resolves once the process is gone. */
    async kill(id) {
        const n = this._node(id);
        if (!n.child) return;
        n.expectExit = true;
        await killChild(n.child);
    }

    /** SIGSTOP: the process stays, its sockets stay open, it answers nothing. Resolves once it is stopped. */
    async hang(id) {
        const n = this._node(id);
        if (!n.child) throw new Error(`Node ${id} is not running`);
        n.hung = true;
        n.child.kill('SIGSTOP');
        await this._waitState(n.child.pid, (s) => s === 'T', 'stopped');
    }

    /** SIGCONT after hang(); resolves once it runs again. */
    async resume(id) {
        const n = this._node(id);
        if (!n.child) throw new Error(`Node ${id} is not running`);
        n.child.kill('SIGCONT');
        n.hung = false;
        await this._waitState(n.child.pid, (s) => s !== 'T', 'running');
    }

    /** Signals are delivered asynchronously: wait for the state letter in /proc/<pid>/stat (Linux only). */
    async _waitState(pid, ok, what) {
        if (process.platform !== 'linux') return;
        const deadline = Date.now() + 5000;
        for (;;) {
            let state;
            try {
                state = (await fsp.readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '')[0];
            } catch {
                return; // gone
            }
            if (ok(state)) return;
            if (Date.now() > deadline) throw new Error(`process ${pid} not ${what} after 5 s (state ${state})`);
            await sleep(20);
        }
    }

    /** Graceful stop of one node (SIGTERM; SIGKILL after 20 s). */
    async stopNode(id) {
        const n = this._node(id);
        if (!n.child) return;
        n.expectExit = true;
        await stopChild(n.child, STOP_TIMEOUT_MS);
    }

    /**
     * Starts one node again on its own data and ports (a running one is stopped first);
     * resolves once it is ready and registered again.
     */
    async restart(id) {
        const n = this._node(id);
        if (!this.formatted) throw new Error('Cluster was never started');
        if (n.child) await this.stopNode(id);
        n.propsFile = await this._writeConfig(id);
        await this._launch(id);
        await this._waitRegistered([n.id], REGISTER_TIMEOUT_MS);
    }

    /** Every node down (a hung one is resumed first, so it can stop); resolves when all are gone. */
    async stop() {
        if (this._starting) {
            try {
                await this._starting;
            } catch {
                // a failed start leaves nothing running
            }
        }
        await Promise.all(this.nodeIds.map((id) => this.stopNode(id)));
    }

    /** Stops for good: a later start() fails (so a test cannot restart it after an interrupt). */
    async close() {
        this._closed = true;
        await this.stop();
    }

    /** Deletes every node's data (keeps logs and configs). Only when stopped; the next start formats again. */
    async removeData() {
        if (this.nodeIds.some((id) => this._node(id).child)) throw new Error('Cluster is running');
        await Promise.all(this.nodeIds.map((id) => fsp.rm(path.join(this._node(id).dir, 'data'), { recursive: true, force: true })));
        this.formatted = false;
    }

    /** Node id of the partition's leader, as the live nodes' metadata says (-1 when it has none). */
    async leaderOf(topic, partition) {
        return this._withAdmin(async (admin) => {
            const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
            const p = topics[0].partitions.find((x) => x.partitionId === partition);
            if (!p) throw new Error(`${topic} has no partition ${partition}`);
            return p.leader;
        });
    }

    /** Node id of the group's coordinator, from a FindCoordinator request to a live node. */
    coordinatorOf(groupId, timeoutMs = 30000) {
        return this._findCoordinator(groupId, 0, timeoutMs);
    }

    /** FindCoordinator for a group (type 0) or a transactional id (type 1), retried while there is none. */
    _findCoordinator(key, coordinatorType, timeoutMs) {
        return this._poll(`coordinator of ${key}`, timeoutMs, async () => {
            const kafka = this._kafka();
            // kafkajs keeps its Cluster factory private; the harness needs its seed broker.
            const create = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
            const cluster = kafka[create]({});
            await cluster.connect();
            try {
                const { coordinator } = await cluster.brokerPool.seedBroker.findGroupCoordinator({ groupId: key, coordinatorType });
                return coordinator.nodeId;
            } finally {
                await cluster.disconnect().catch(() => {});
            }
        });
    }

    /** Until every partition of `topics` has all nodes in its ISR. */
    waitForFullIsr(topics, timeoutMs = 60000) {
        const want = this.nodeIds.length;
        return this._poll(`full ISR of ${[].concat(topics).join(',')}`, timeoutMs, async () => {
            const meta = await this._withAdmin((a) => a.fetchTopicMetadata({ topics: [].concat(topics) }));
            const short = meta.topics.flatMap((t) => t.partitions
                .filter((p) => p.isr.length < want)
                .map((p) => `${t.name}/${p.partitionId} isr=[${p.isr.join(',')}]`));
            if (short.length) throw new Error(short.join(' '));
            return true;
        });
    }
}

module.exports = { Cluster };
