// Compression codecs for kafkajs, which ships only gzip. Registered once, for the
// producer (compression setting) and for every consumer (decoding what other
// clients compressed). A codec whose package cannot load on this machine is left
// out; kafkajs then refuses that compression with its own error.
import { CompressionTypes, CompressionCodecs } from 'kafkajs';

interface Encoder { buffer: Buffer }
interface Codec {
    compress(encoder: Encoder): Promise<Buffer>;
    decompress(buffer: Buffer): Promise<Buffer>;
}
type CodecFactory = () => Codec;

/** The codecs that loaded, by name. */
export const availableCodecs: string[] = ['gzip'];
/** Why a codec did not load, by name. */
export const missingCodecs: Record<string, string> = {};

function optional<T>(name: string, load: () => T): T | null {
    try {
        return load();
    } catch (err) {
        missingCodecs[name] = (err as Error).message;
        return null;
    }
}

function register(type: CompressionTypes, name: string, factory: CodecFactory | null): void {
    if (!factory) return;
    (CompressionCodecs as unknown as Record<number, CodecFactory>)[type] = factory;
    availableCodecs.push(name);
}

// Snappy in pure JS; reads both raw and xerial-framed snappy (what the Java client writes).
register(CompressionTypes.Snappy, 'snappy', optional('snappy', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('kafkajs-snappy') as CodecFactory;
}));

// LZ4 in Kafka is the LZ4 frame format.
register(CompressionTypes.LZ4, 'lz4', optional('lz4', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const lz4 = require('lz4-napi') as {
        compressFrame(data: Buffer): Promise<Buffer>;
        decompressFrame(data: Buffer): Promise<Buffer>;
    };
    return (): Codec => ({
        compress: (encoder) => lz4.compressFrame(encoder.buffer),
        decompress: (buffer) => lz4.decompressFrame(buffer),
    });
}));

register(CompressionTypes.ZSTD, 'zstd', optional('zstd', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const zstd = require('@mongodb-js/zstd') as {
        compress(data: Buffer, level?: number): Promise<Buffer>;
        decompress(data: Buffer): Promise<Buffer>;
    };
    return (): Codec => ({
        compress: (encoder) => zstd.compress(encoder.buffer, 3),
        decompress: (buffer) => zstd.decompress(buffer),
    });
}));
