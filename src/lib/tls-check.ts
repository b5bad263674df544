// Checks, before connecting, that the TLS material from a tls-config node can
// build a secure context, so a bad certificate is reported at deploy rather than
// as a failed handshake later.
import { createSecureContext } from 'tls';
import { X509Certificate } from 'crypto';
import type { ConnectionOptions } from 'tls';
import type { Problem } from './settings';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** Node ignores CA text it cannot parse, so each CA is parsed here to catch it. */
function checkCa(ca: ConnectionOptions['ca']): void {
    for (const item of Array.isArray(ca) ? ca : ca ? [ca] : []) {
        const text = Buffer.isBuffer(item) ? item.toString('latin1') : String(item);
        const blocks = text.match(PEM_CERT);
        if (!blocks) throw new Error('the CA holds no PEM certificate');
        for (const b of blocks) new X509Certificate(b);
    }
}

export function checkTls(options: ConnectionOptions): Problem | undefined {
    if (Boolean(options.cert) !== Boolean(options.key)) {
        return { key: 'tls-cert-key' };
    }
    try {
        checkCa(options.ca);
        createSecureContext({
            ca: options.ca, cert: options.cert, key: options.key, passphrase: options.passphrase,
        });
    } catch (err) {
        return { key: 'tls-unusable', params: { reason: (err as Error).message } };
    }
    return undefined;
}
