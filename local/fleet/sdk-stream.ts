// The body of a streaming AWS answer (S3 GetObject) as the SDK for JavaScript v3 gives it in
// Node.js: a Readable with the SDK's transformToByteArray / transformToString /
// transformToWebStream ("SdkStreamMixin", @smithy/util-stream). The simulated fleet answers the
// bytes; the transports turn them into this. Node built-ins only: the bundle worker imports it.
import { Readable } from 'node:stream';

export interface SdkStream extends Readable {
  transformToByteArray(): Promise<Uint8Array>;
  transformToString(encoding?: BufferEncoding): Promise<string>;
  transformToWebStream(): ReadableStream;
}

export function sdkStreamOf(bytes: Uint8Array): SdkStream {
  const stream = Readable.from([Buffer.from(bytes)]);
  let used = false;
  const once = () => {
    // The SDK's stream can be read once; a second transform throws, as here.
    if (used) throw new Error('The stream has already been transformed.');
    used = true;
  };
  return Object.assign(stream, {
    transformToByteArray: async () => (once(), new Uint8Array(bytes)),
    transformToString: async (encoding: BufferEncoding = 'utf-8') => (once(), Buffer.from(bytes).toString(encoding)),
    transformToWebStream: () => (once(), Readable.toWeb(stream) as ReadableStream),
  });
}

/** An answer whose Body is bytes gets the SDK's stream over them (only S3 GetObject answers a Body). */
export function withSdkStreamBody<T>(output: T): T {
  const body = (output as { Body?: unknown } | null)?.Body;
  return body instanceof Uint8Array ? { ...output, Body: sdkStreamOf(body) } : output;
}
