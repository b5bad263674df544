'use strict';
/*
 * A TCP proxy on 127.0.0.1 for the recovery specs: forwards every connection to a
 * target address, and can cut every live connection at once and refuse new ones
 * for a while (its port is closed, so clients see ECONNREFUSED, as from a broker
 * that went down), then listen again on the same port.
 */
const net = require('net');

class TcpProxy {
    /** `target()` gives the `host:port` to forward to, read per connection. */
    constructor(target) {
        this.target = target;
        this.server = null;
        this.port = null;
        this.pairs = new Set();
        this.accepted = 0;
    }

    /** Number of client connections open through the proxy now. */
    get live() {
        return this.pairs.size;
    }

    async listen(port = this.port || 0) {
        const server = net.createServer((client) => this._pipe(client));
        await new Promise((resolve, reject) => {
            server.once('error', reject);
            server.listen(port, '127.0.0.1', () => {
                server.off('error', reject);
                resolve();
            });
        });
        this.server = server;
        this.port = server.address().port;
        return `127.0.0.1:${this.port}`;
    }

    _pipe(client) {
        this.accepted++;
        const [host, port] = this.target().split(':');
        const upstream = net.connect({ host, port: Number(port) });
        const pair = { client, upstream };
        this.pairs.add(pair);
        const end = () => {
            this.pairs.delete(pair);
            client.destroy();
            upstream.destroy();
        };
        client.on('error', end);
        upstream.on('error', end);
        client.on('close', end);
        upstream.on('close', end);
        client.pipe(upstream);
        upstream.pipe(client);
    }

    /** Stops accepting: new connections are refused until listen() again. */
    async stopListening() {
        const server = this.server;
        this.server = null;
        if (server) await new Promise((resolve) => server.close(() => resolve()));
    }

    /** Destroys every live connection (both sides), as a broker that died would. */
    cutAll() {
        for (const { client, upstream } of [...this.pairs]) {
            client.destroy();
            upstream.destroy();
        }
        this.pairs.clear();
    }

    /** Cuts every connection and refuses new ones for `refuseMs`, then accepts again. */
    async outage(refuseMs) {
        const stopped = this.stopListening();
        this.cutAll();
        await stopped;
        if (refuseMs > 0) await new Promise((r) => setTimeout(r, refuseMs));
        await this.listen();
    }

    async close() {
        await this.stopListening();
        this.cutAll();
    }
}

module.exports = { TcpProxy };
