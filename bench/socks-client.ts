import { connect, type Socket } from 'node:net';

/** Connects to a SOCKS5 proxy and CONNECTs to 127.0.0.1:`port`; resolves once the proxy replied success. */
export function socksConnect(proxyPort: number, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: proxyPort, host: '127.0.0.1', noDelay: true });
    const request = Buffer.from([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 0xff]);
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk]);
      if (got.length < 12) return;
      socket.off('data', onData);
      socket.pause();
      if (got[1] === 0 && got[3] === 0) resolve(socket);
      else {
        socket.destroy();
        reject(new Error(`SOCKS5 reply ${got.subarray(0, 12).toString('hex')}`));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('connect', () => socket.write(request));
  });
}
