// kafkajs's own files, for the seam's run-time mends of kafkajs 2.2.4 (kafkajs-coordinator,
// kafkajs-aborted, kafkajs-connect, kafkajs-fetch-retry). Each mend changes methods of kafkajs's own modules,
// so it is applied only to the version it was written against.
import * as path from 'path';

export const MENDED_KAFKAJS_VERSION = '2.2.4';

export type MendResult =
    | { applied: true; reason: 'applied' | 'already' }
    | { applied: false; reason: string };

/** Loads a file of the kafkajs copy (by its path parts under the package). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KafkajsLoader = (...parts: string[]) => any;

/**
 * A loader of the kafkajs copy at `kafkajsDir` (by default the one `import 'kafkajs'`
 * resolves to here: by absolute path, the same module instances kafkajs itself uses,
 * since Node's module cache is keyed by file), or why it cannot be mended.
 */
export function kafkajsInternals(kafkajsDir?: string): KafkajsLoader | string {
    let dir: string;
    try {
        dir = kafkajsDir ?? path.dirname(require.resolve('kafkajs/package.json'));
    } catch (err) {
        return `kafkajs not found: ${(err as Error).message}`;
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const load: KafkajsLoader = (...parts) => require(path.join(dir, ...parts));
    let version: string;
    try {
        version = load('package.json').version;
    } catch (err) {
        return `kafkajs internals not found: ${(err as Error).message}`;
    }
    if (version !== MENDED_KAFKAJS_VERSION) return `kafkajs ${version} is not ${MENDED_KAFKAJS_VERSION}`;
    return (...parts) => {
        try {
            return load(...parts);
        } catch (err) {
            throw new Error(`kafkajs internals not found: ${(err as Error).message}`);
        }
    };
}
