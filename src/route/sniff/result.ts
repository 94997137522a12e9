/** What a sniffer makes of the bytes seen so far. */
export type SniffResult =
  | { readonly status: 'found'; /** The name the client asked for. */ readonly host: string }
  | { readonly status: 'more' }
  | { readonly status: 'none' };

/** Need more bytes. */
export const more: SniffResult = { status: 'more' };
/** Not this protocol, or no name in it. */
export const none: SniffResult = { status: 'none' };
