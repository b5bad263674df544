// What the client's own broker connections find, for the config node: which
// addresses accept a connection, which refuse, and when a live connection is lost.
// kafkajs reports none of this (it logs it, retries, and rethrows only once its
// retries run out), so the seam makes kafkajs's sockets through socketFactory().
import net from 'net';
import tls from 'tls';
import type { ISocketFactory } from 'kafkajs';
import type { ConnectionListener, ConnectionEvent } from './types';

/** kafkajs's default (net/tls, keep-alive after 60 s), with every socket watched. */
const KEEP_ALIVE_DELAY = 60000;

export class SocketWatch {
    private readonly listeners = new Set<ConnectionListener>();
    private readonly open = new Set<net.Socket>();

    get openSockets(): number {
        return this.open.size;
    }

    onConnectionEvent(listener: ConnectionListener): () => void {
        this.listeners.add(listener);
        return () => { this.listeners.delete(listener); };
    }

    private emit(e: ConnectionEvent): void {
        for (const l of this.listeners) {
            try {
                l(e);
            } catch {
                // a listener's failure is its own
            }
        }
    }

    readonly socketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
        const address = `${host}:${port}`;
        let connected = false;
        let remoteEnded = false;
        let cause: string | undefined;
        const connectedNow = (): void => {
            connected = true;
            this.emit({ address, kind: 'connected' });
            onConnect();
        };
        const socket: net.Socket = ssl
            ? tls.connect(Object.assign({ host, port }, !net.isIP(host) ? { servername: host } : {}, ssl), connectedNow)
            : net.connect({ host, port }, connectedNow);
        socket.setKeepAlive(true, KEEP_ALIVE_DELAY);
        // kafkajs's disconnect() ends and unrefs the socket each time it is called, and it
        // is called again and again on a connection whose connect was refused. Node answers
        // unref() on a closed socket by waiting for a 'connect' that never comes, one listener
        // per call: MaxListenersExceededWarning after ten. A closed socket has nothing to unref.
        const unref = socket.unref.bind(socket);
        socket.unref = () => (socket.destroyed ? socket : unref());
        this.open.add(socket);
        // One listener of each kind per socket, gone with the socket.
        socket.once('error', (err: NodeJS.ErrnoException) => { cause = err.code ?? err.message; });
        // A FIN before kafkajs ended its side: the broker closed the connection.
        socket.once('end', () => { if (!socket.writableEnded) remoteEnded = true; });
        socket.once('close', () => {
            this.open.delete(socket);
            if (!connected) this.emit({ address, kind: 'refused', cause: cause ?? 'closed before connecting' });
            else if (cause || remoteEnded) this.emit({ address, kind: 'lost', cause: cause ?? 'closed by the broker' });
        });
        return socket;
    };
}
