import { request, type Client } from 'undici';
import { clientThrough } from '../http/through.js';
import type { Fetcher, FetchOptions } from './downloaded.js';

/**
 * Downloads with undici, directly or through an outbound (`proxy:`): a status other than 2xx,
 * a body over `sizeLimit` or the timeout is an error.
 */
export const undiciFetcher: Fetcher = async (url, { headers, timeoutMs, sizeLimit, via, onHeaders }) => {
  const signal = AbortSignal.timeout(timeoutMs);
  const client = via ? clientThrough(via, new URL(url), signal, timeoutMs) : undefined;
  try {
    return await download(url, { headers, signal, timeoutMs, sizeLimit, client, onHeaders });
  } finally {
    await client?.destroy().catch(() => {});
  }
};

async function download(
  url: string,
  { headers, signal, timeoutMs, sizeLimit, client, onHeaders }: { headers: Record<string, string>; signal: AbortSignal; timeoutMs: number; sizeLimit: number; client: Client | undefined } & Pick<FetchOptions, 'onHeaders'>,
): Promise<Buffer> {
  const response = await request(url, { headers, signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, dispatcher: client });
  if (response.statusCode < 200 || response.statusCode > 299) {
    await response.body.dump();
    throw new Error(`HTTP ${response.statusCode} from ${url}`);
  }
  onHeaders?.(response.headers);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += (chunk as Buffer).length;
    if (sizeLimit > 0 && size > sizeLimit) {
      response.body.destroy();
      throw new Error(`download from ${url} is larger than size-limit ${sizeLimit}`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
