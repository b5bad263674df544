// Checks, before connecting, that the TLS material from a tls-config node can
// build a secure context, so a bad certificate is reported at deploy.
import { createSecureContext } from 'tls';
import type { ConnectionOptions } from 'tls';
import type { Problem } from './settings';

export function checkTls(options: ConnectionOptions): Problem | undefined {
    if (Boolean(options.cert) !== Boolean(options.key)) {
        return { key: 'tls-cert-key' };
    }
    try {
        createSecureContext({
            ca: options.ca, cert: options.cert, key: options.key, passphrase: options.passphrase,
        });
    } catch (err) {
        return { key: 'tls-unusable', params: { reason: (err as Error).message } };
    }
    return undefined;
}
