// The schema registry fields of the three nodes, read and checked without Node-RED:
// the registry URL, the consumer's "decoded with the schema registry" choice and
// kafka-publish's encoding (subject, schema, auto-register). Problem keys are
// catalog keys of the node that reads them.
import type { SchemaKind, SchemaChoice } from './registry-client';
import { SCHEMA_KINDS } from './registry-client';

/** null when the URL is usable, else the problem key. */
export function registryUrlProblem(url: string): 'url-empty' | 'url-invalid' | null {
    if (!url) return 'url-empty';
    try {
        const u = new URL(url);
        return u.protocol === 'http:' || u.protocol === 'https:' ? null : 'url-invalid';
    } catch {
        return 'url-invalid';
    }
}

export interface PublishRegistryRaw {
    registry?: unknown;
    /** 'none' | 'value' | 'key-value' */
    encode?: unknown;
    valueSubject?: unknown;
    keySubject?: unknown;
    schemaType?: unknown;
    valueSchema?: unknown;
    keySchema?: unknown;
    autoRegister?: unknown;
}

export interface PublishRegistry {
    registry: string;
    encodeKey: boolean;
    /** empty: `<topic>-value` */
    valueSubject: string;
    /** empty: `<topic>-key` */
    keySubject: string;
    schemaType: SchemaKind;
    valueSchema: string;
    keySchema: string;
    autoRegister: boolean;
}

export type RegistryFieldProblem = { key: 'registry-missing' | 'schema-needed'; params?: Record<string, string> };

/** null when the node does not encode with a registry. */
export function readPublishRegistry(raw: PublishRegistryRaw): { fields: PublishRegistry | null; problems: RegistryFieldProblem[] } {
    const encode = raw.encode === 'value' || raw.encode === 'key-value' ? raw.encode : 'none';
    if (encode === 'none') return { fields: null, problems: [] };
    const problems: RegistryFieldProblem[] = [];
    const registry = String(raw.registry ?? '').trim();
    if (!registry) problems.push({ key: 'registry-missing' });
    const type = String(raw.schemaType ?? 'AVRO').toUpperCase() as SchemaKind;
    const autoRegister = raw.autoRegister === true || raw.autoRegister === 'true';
    const valueSchema = String(raw.valueSchema ?? '').trim();
    const keySchema = String(raw.keySchema ?? '').trim();
    if (autoRegister && !valueSchema) problems.push({ key: 'schema-needed' });
    return {
        fields: {
            registry,
            encodeKey: encode === 'key-value',
            valueSubject: String(raw.valueSubject ?? '').trim(),
            keySubject: String(raw.keySubject ?? '').trim(),
            schemaType: SCHEMA_KINDS.includes(type) ? type : 'AVRO',
            valueSchema,
            keySchema,
            autoRegister,
        },
        problems,
    };
}

/** The subject and schema for a topic's value or key (topic-name strategy when the subject is empty). */
export function choiceFor(f: PublishRegistry, topic: string, part: 'value' | 'key'): SchemaChoice {
    const subject = (part === 'value' ? f.valueSubject : f.keySubject) || `${topic}-${part}`;
    const schema = part === 'value' ? f.valueSchema : f.keySchema;
    return schema ? { subject, schema, type: f.schemaType, autoRegister: f.autoRegister } : { subject };
}
