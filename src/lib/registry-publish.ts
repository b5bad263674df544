// kafka-publish's registry step as the node uses it: reads the node's registry
// fields, finds the registry connection and turns an encode failure into the
// node's error (CORE:PARAM for the payload, the subject or the schema; CORE:RUNTIME
// for a registry that does not answer or refuses the credentials). No Node-RED here.
import { ParamError } from './errors';
import type { PublishFields } from './publish-input';
import { readPublishRegistry } from './registry-fields';
import type { PublishRegistryRaw } from './registry-fields';
import { RegistryEncoder, EncodeFailure } from './registry-encoder';
import type { Encoded } from './registry-encoder';
import type { RegistryClient } from './registry-client';

/** The registry did not answer: a runtime failure whose message is already a full sentence. */
export class RegistryRuntimeError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'RegistryRuntimeError';
    }
}

export interface RegistryStep {
    /** null when the node does not encode with a registry, or its configuration is unusable */
    encoder: RegistryEncoder | null;
    /** a translated sentence when the registry configuration is unusable */
    problem: string;
    run(fields: PublishFields, msg: Record<string, unknown>, then: (err: Error | null, out?: Encoded) => void): void;
}

type Translate = (key: string, params?: object) => string;

export function registryStep(
    getNode: (id: string) => unknown,
    raw: PublishRegistryRaw,
    t: Translate,
): RegistryStep {
    const { fields, problems } = readPublishRegistry(raw);
    let problem = problems.map((p) => t(`errors.${p.key}`, p.params)).join(' ');
    let encoder: RegistryEncoder | null = null;
    let url = '';
    if (fields && !problem) {
        const node = getNode(fields.registry) as { client?: RegistryClient | null; problem?: string } | null;
        if (!node) problem = t('errors.registry-missing');
        else if (!node.client) problem = t('errors.registry-invalid', { problem: node.problem ?? '' });
        else {
            encoder = new RegistryEncoder(node.client, fields);
            url = node.client.url;
        }
    }
    const describe = (f: EncodeFailure): Error => {
        const e = f.error;
        const params = { subject: f.subject, part: f.part, url, error: e.message, path: e.paths.join(', ') || '-' };
        switch (e.problem) {
            case 'bad-payload': return new ParamError(t('errors.registry-bad-payload', params));
            case 'incompatible': return new ParamError(t('errors.registry-incompatible', params));
            case 'unknown-schema': return new ParamError(t('errors.registry-unknown-subject', params));
            case 'bad-schema': return new ParamError(t('errors.registry-bad-schema', params));
            case 'denied': return new RegistryRuntimeError(t('errors.registry-denied', params));
            case 'unreachable': return new RegistryRuntimeError(t('errors.registry-unreachable', params));
            default: return new ParamError(t('errors.registry-other', params));
        }
    };
    return {
        encoder,
        problem,
        run(f, msg, then) {
            if (!encoder) {
                then(new ParamError(problem));
                return;
            }
            encoder.run(f, msg, (err, out) => then(err ? describe(err) : null, out));
        },
    };
}
