import { request } from 'undici';
import type { Fetcher } from './provider.js';

/** Downloads with undici: a status other than 2xx, a body over `sizeLimit` or the timeout is an error. */
export const undiciFetcher: Fetcher = async (url, { headers, timeoutMs, sizeLimit }) => {
  const signal = AbortSignal.timeout(timeoutMs);
  const response = await request(url, { headers, signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  if (response.statusCode < 200 || response.statusCode > 299) {
    await response.body.dump();
    throw new Error(`HTTP ${response.statusCode} from ${url}`);
  }
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
};
