// kafkajs's own files, for the seam's run-time mends of kafkajs 2.2.4 (the other
// kafkajs-*.ts files of this folder). Each mend changes methods of kafkajs's own modules,
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

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Method = (this: any, ...args: any[]) => any;

/** One method of a kafkajs object to wrap: the object is a file's export, or its prototype (`prototype: true`). */
export interface MethodMend {
    file: string[];
    prototype?: boolean;
    method: string;
    /** The method to put in its place, given the original. */
    wrap: (original: Method) => Method;
}

const isOff = (variable?: string) => !!variable && /^(off|0|false|no)$/i.test(process.env[variable] ?? '');

/**
 * Wraps the methods that `mends(load)` names, in the kafkajs copy at `kafkajsDir`
 * (default: the one this package loads), once per process: each object wrapped is marked
 * with `marker` (a Symbol.for, shared by every copy of this package). Nothing is changed
 * unless every object and method is there; `mends` may load more of kafkajs and throw to
 * refuse. `offVariable` names an environment variable that turns the mend off (off, 0,
 * false, no).
 */
export function mendMethods(
    marker: symbol,
    mends: (load: KafkajsLoader) => MethodMend[],
    options: { kafkajsDir?: string; offVariable?: string } = {},
): MendResult {
    if (isOff(options.offVariable)) return { applied: false, reason: `turned off by ${options.offVariable}` };
    const load = kafkajsInternals(options.kafkajsDir);
    if (typeof load === 'string') return { applied: false, reason: load };
    let list: MethodMend[];
    let targets: Record<string | symbol, unknown>[];
    try {
        list = mends(load);
        targets = list.map((m) => {
            const loaded = load(...m.file);
            return m.prototype ? loaded?.prototype : loaded;
        });
    } catch (err) {
        return { applied: false, reason: (err as Error).message };
    }
    const missing = list.filter((m, i) => typeof targets[i]?.[m.method] !== 'function');
    if (missing.length) return { applied: false, reason: `kafkajs lacks ${missing.map((m) => `${m.file.join('/')} ${m.method}`).join(', ')}` };
    if (targets.every((t) => t[marker])) return { applied: true, reason: 'already' };
    list.forEach((m, i) => {
        if (!targets[i][marker]) targets[i][m.method] = m.wrap(targets[i][m.method] as Method);
    });
    for (const t of targets) t[marker] = true;
    return { applied: true, reason: 'applied' };
}
