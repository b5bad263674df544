// One schema registry connection (SPEC decision 19): the Confluent wire format
// (magic byte 0, 4-byte schema id) is read and written by
// @kafkajs/confluent-schema-registry, which parses Avro (avsc), JSON Schema (ajv)
// and Protobuf (protobufjs) schemas at run time and keeps every schema it fetched
// by id. This module adds what a Node-RED node needs around it: errors sorted by
// whose fault they are, plain data out, subject/version of a schema id, and the
// subject list the editor shows. No Node-RED here.
import http from 'http';
import https from 'https';
import type { ConnectionOptions } from 'tls';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import readWireFormat from '@kafkajs/confluent-schema-registry/dist/wireDecoder';
import { ConfluentSchemaRegistryValidationError } from '@kafkajs/confluent-schema-registry/dist/errors';

export type SchemaKind = 'AVRO' | 'JSON' | 'PROTOBUF';
export const SCHEMA_KINDS: readonly SchemaKind[] = ['AVRO', 'JSON', 'PROTOBUF'];

export interface RegistryOptions {
    /** base URL of the Confluent-compatible API, e.g. http://host:8081 or .../apis/ccompat/v7 */
    url: string;
    username?: string;
    password?: string;
    /** from a tls-config node, for https URLs */
    tls?: ConnectionOptions | null;
    /** ms for one HTTP request */
    timeout?: number;
}

/** What msg.schema carries: plain data. subject and version are null when the registry does not say. */
export interface SchemaInfo {
    id: number;
    subject: string | null;
    version: number | null;
    type: SchemaKind;
}

/**
 * Why the registry path failed:
 * - 'not-wire-format': the bytes do not start with magic byte 0 and a schema id (the record's fault)
 * - 'unknown-schema': the registry has no schema of that id or subject (the record's or the node's fault)
 * - 'bad-payload': the value does not match the schema (`paths` says where)
 * - 'incompatible': the registry refused a new schema version (its own message)
 * - 'bad-schema': a schema given in the node does not parse
 * - 'unreachable': the registry did not answer, answered 5xx, or its TLS certificate was not
 *   trusted: it may come back (or be mended) without the record changing
 * - 'denied': 401/403
 * - 'corrupt': the bytes do not decode with the schema their id names
 */
export type RegistryProblem = 'not-wire-format' | 'unknown-schema' | 'bad-payload' | 'incompatible' | 'bad-schema' | 'unreachable' | 'denied' | 'corrupt';

export class RegistryError extends Error {
    constructor(readonly problem: RegistryProblem, message: string, readonly paths: string[] = [], readonly status = 0) {
        super(message);
        this.name = 'RegistryError';
    }

    /**
     * The registry connection is in trouble (not this record): retried without counting
     * against the record. Refused credentials are the connection's fault too: records must
     * not go to a dead-letter topic because a password changed.
     */
    get transient(): boolean {
        return this.problem === 'unreachable' || this.problem === 'denied';
    }
}

const MAGIC = 0;
const HEADER_BYTES = 5;

/** True when the bytes can be a record in the Confluent wire format (magic byte 0 and a schema id). */
export function isWireFormat(b: Buffer | null): boolean {
    return !!b && b.length >= HEADER_BYTES && b[0] === MAGIC;
}

/** The schema id a wire-format record names (read by the library's own wire decoder). */
export function schemaIdOf(b: Buffer): number {
    return readWireFormat(b).registryId;
}

/** Turns what the library gives back into plain data that survives RED.util.cloneMessage. */
export function toPlain(v: unknown): unknown {
    if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? v.toString() : v;
    if (Buffer.isBuffer(v)) return v;
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    if (Array.isArray(v)) return v.map(toPlain);
    if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), toPlain(x)]));
    if (v instanceof Date) return v.toISOString();
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) out[k] = toPlain((v as Record<string, unknown>)[k]);
    return out;
}

interface HttpishError {
    status?: number;
    message?: string;
    code?: string;
}

/** Sorts an error from the library, mappersmith or the network into a RegistryError. */
export function classify(err: unknown, what: string): RegistryError {
    if (err instanceof RegistryError) return err;
    if (err instanceof ConfluentSchemaRegistryValidationError) {
        const paths = (err.paths ?? []).map((p) => (Array.isArray(p) ? p.join('.') : String(p)));
        return new RegistryError('bad-payload', err.message, paths);
    }
    const e = (err ?? {}) as HttpishError;
    const message = String(e.message ?? err);
    const status = typeof e.status === 'number' ? e.status : 0;
    if (status === 401 || status === 403) return new RegistryError('denied', message, [], status);
    if (status === 404) return new RegistryError('unknown-schema', `${what}: ${message}`, [], status);
    if (status === 409) return new RegistryError('incompatible', message, [], status);
    if (status === 422) return new RegistryError('bad-schema', message, [], status);
    // mappersmith reports a network failure as status 400 with the socket's message; a TLS
    // handshake refused (a certificate not trusted or not matching) is the connection's too
    if (status >= 500 || /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|socket hang up|timeout/i.test(message) ||
        /certificate|CERT_|altnames|EPROTO|SSL routines/i.test(`${e.code ?? ''} ${message}`)) {
        return new RegistryError('unreachable', message, [], status);
    }
    return new RegistryError('corrupt', message, [], status);
}

export interface Decoded {
    value: unknown;
    schema: SchemaInfo;
}

/** How kafka-publish picks the schema of a subject. */
export interface SchemaChoice {
    subject: string;
    /** a schema given in the node (text); empty: the subject's latest registered version */
    schema?: string;
    type?: SchemaKind;
    /** register the given schema under the subject when it is not there yet */
    autoRegister?: boolean;
}

/** How long the latest version of a subject is trusted before it is asked for again. */
const LATEST_TTL_MS = 30000;

export class RegistryClient {
    private readonly lib: SchemaRegistry;
    private readonly base: URL;
    private readonly agent: http.Agent;
    private readonly typeById = new Map<number, SchemaKind>();
    private readonly placeById = new Map<number, Promise<{ subject: string | null; version: number | null }>>();
    private readonly idByChoice = new Map<string, { id: Promise<number>; at: number }>();

    constructor(private readonly o: RegistryOptions) {
        this.base = new URL(o.url.replace(/\/+$/, ''));
        const secure = this.base.protocol === 'https:';
        this.agent = secure ? new https.Agent({ keepAlive: true, ...(o.tls ?? {}) }) : new http.Agent({ keepAlive: true });
        this.lib = new SchemaRegistry({
            host: this.base.toString().replace(/\/+$/, ''),
            auth: o.username ? { username: o.username, password: o.password ?? '' } : undefined,
            clientId: 'node-red-contrib-kafka-connector',
            agent: this.agent,
            // One quick retry: a registry that is down is retried by the nodes, with their own backoff.
            retry: { retries: 1, maxRetryTimeInSecs: 1, initialRetryTimeInSecs: 0.1 },
        }, {
            [SchemaType.JSON]: { strict: false, allErrors: true },
        });
    }

    get url(): string {
        return this.o.url;
    }

    /** True when the schema of this id was fetched already: decoding it asks the registry nothing. */
    knows(id: number): boolean {
        return this.lib.cache.getSchema(id) !== undefined;
    }

    /** Decodes a record value or key in the wire format into plain data and says which schema wrote it. */
    async decode(bytes: Buffer | null): Promise<Decoded> {
        if (!bytes || !isWireFormat(bytes)) {
            throw new RegistryError('not-wire-format', bytes === null
                ? 'no bytes (null)'
                : `${bytes.length} bytes starting ${bytes.subarray(0, 5).toString('hex') || '(empty)'}, not magic byte 0 and a 4-byte schema id`);
        }
        const id = schemaIdOf(bytes);
        let raw: unknown;
        let schema: unknown;
        try {
            schema = await this.lib.getSchema(id);
        } catch (err) {
            throw classify(err, `schema id ${id}`);
        }
        try {
            raw = await this.lib.decode(bytes);
        } catch (err) {
            const c = classify(err, `schema id ${id}`);
            throw c.problem === 'unreachable' || c.problem === 'unknown-schema' ? c : new RegistryError('corrupt', `schema id ${id}: ${c.message}`);
        }
        const type = this.typeOf(id);
        // protobufjs hands back Message instances; the plain form keeps enums by name and int64 as text.
        const message = type === 'PROTOBUF' ? (schema as { message?: { toObject(m: unknown, o: object): unknown } }).message : undefined;
        const value = message ? message.toObject(raw, { enums: String, longs: String, defaults: true }) : raw;
        const place = await this.placeOf(id);
        return { value: toPlain(value), schema: { id, type, ...place } };
    }

    /** Encodes a value with the schema the choice names; resolves the schema id once per TTL. */
    async encode(value: unknown, choice: SchemaChoice): Promise<{ bytes: Buffer; id: number }> {
        const id = await this.schemaId(choice);
        let bytes: Buffer;
        try {
            bytes = await this.lib.encode(id, value);
        } catch (err) {
            throw classify(err, `schema id ${id}`);
        }
        return { bytes: this.typeOf(id) === 'PROTOBUF' ? withMessageIndexes(bytes) : bytes, id };
    }

    /** The schema id a choice names: the latest version of the subject, or the given schema's (registered if asked). */
    schemaId(choice: SchemaChoice): Promise<number> {
        const key = JSON.stringify([choice.subject, choice.schema ?? '', choice.type ?? '', !!choice.autoRegister]);
        const hit = this.idByChoice.get(key);
        const given = !!(choice.schema && choice.schema.trim());
        // A given schema's id does not change; the latest version may.
        if (hit && (given || Date.now() - hit.at < LATEST_TTL_MS)) return hit.id;
        const id = this.lookUp(choice, given);
        this.idByChoice.set(key, { id, at: Date.now() });
        id.catch(() => { if (this.idByChoice.get(key)?.id === id) this.idByChoice.delete(key); });
        return id;
    }

    private async lookUp(choice: SchemaChoice, given: boolean): Promise<number> {
        try {
            if (!given) return await this.lib.getLatestSchemaId(choice.subject);
            const type = choice.type ?? 'AVRO';
            const confluent = { type: SchemaType[type], schema: choice.schema!.trim() } as Parameters<SchemaRegistry['register']>[0];
            if (choice.autoRegister) {
                const { id } = await this.lib.register(confluent, { subject: choice.subject });
                return id;
            }
            return await this.lib.getRegistryIdBySchema(choice.subject, confluent as Parameters<SchemaRegistry['getRegistryIdBySchema']>[1]);
        } catch (err) {
            const inner = (err as { message?: string }).message ?? '';
            // avsc / protobufjs / ajv refusing the text, before anything is sent
            if (/ConfluentSchemaRegistryInvalidSchemaError|invalid|unexpected|illegal|no nested fields/i.test(`${(err as Error).name} ${inner}`) &&
                !(err as HttpishError).status) {
                throw new RegistryError('bad-schema', inner);
            }
            throw classify(err, `subject ${choice.subject}`);
        }
    }

    /** The registry's subjects, sorted (what the editor lists). */
    async subjects(): Promise<string[]> {
        const list = await this.get('/subjects');
        return Array.isArray(list) ? list.map(String).sort() : [];
    }

    private typeOf(id: number): SchemaKind {
        const known = this.typeById.get(id);
        if (known) return known;
        const t = String(this.lib.cache.getSchema(id)?.type ?? 'AVRO') as SchemaKind;
        const type = SCHEMA_KINDS.includes(t) ? t : 'AVRO';
        this.typeById.set(id, type);
        return type;
    }

    /** Subject and version of a schema id (GET /schemas/ids/{id}/versions), asked once per id. */
    private placeOf(id: number): Promise<{ subject: string | null; version: number | null }> {
        let p = this.placeById.get(id);
        if (!p) {
            p = this.get(`/schemas/ids/${id}/versions`).then((list) => {
                const first = Array.isArray(list) && list.length ? list[list.length - 1] as { subject?: unknown; version?: unknown } : null;
                return {
                    subject: first && typeof first.subject === 'string' ? first.subject : null,
                    version: first && typeof first.version === 'number' ? first.version : null,
                };
            }, () => {
                this.placeById.delete(id); // asked again next time; the record is not held up for it
                return { subject: null, version: null };
            });
            this.placeById.set(id, p);
        }
        return p;
    }

    /** A GET on the registry's API with this connection's agent and credentials; JSON back. */
    get(path: string): Promise<unknown> {
        const url = new URL(this.base.toString().replace(/\/+$/, '') + path);
        const mod = url.protocol === 'https:' ? https : http;
        const headers: Record<string, string> = { accept: 'application/vnd.schemaregistry.v1+json, application/json' };
        if (this.o.username) headers.authorization = `Basic ${Buffer.from(`${this.o.username}:${this.o.password ?? ''}`).toString('base64')}`;
        return new Promise((resolve, reject) => {
            const req = mod.get(url, { agent: this.agent, headers, timeout: this.o.timeout ?? 10000 }, (res) => {
                let body = '';
                res.setEncoding('utf8');
                res.on('data', (d: string) => { body += d; });
                res.on('end', () => {
                    let data: unknown = body;
                    try { data = JSON.parse(body); } catch { /* not JSON */ }
                    if (res.statusCode && res.statusCode >= 200 && res.statusCode < 300) { resolve(data); return; }
                    const message = (data as { message?: string })?.message ?? `HTTP ${res.statusCode}`;
                    reject(Object.assign(new Error(message), { status: res.statusCode }));
                });
            });
            req.on('timeout', () => req.destroy(new Error(`timeout after ${this.o.timeout ?? 10000} ms`)));
            req.on('error', reject);
        });
    }

    close(): void {
        this.agent.destroy();
    }
}

/**
 * Confluent's Protobuf framing: after the magic byte and the schema id come the indexes of
 * the message type within the schema. The library encodes with the schema's first message
 * type and leaves them out; its path [0] is written as the single byte 0 (Confluent's
 * deserializers need it; the library's own decoder skips it).
 */
function withMessageIndexes(framed: Buffer): Buffer {
    return Buffer.concat([framed.subarray(0, 5), Buffer.from([0]), framed.subarray(5)]);
}
