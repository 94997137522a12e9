import { describe, expect, it } from 'vitest';
import { TunnelClient } from '../../src/protocol/pqtunnel/engine/client.js';
import { TunnelGateway } from '../../src/protocol/pqtunnel/engine/gateway.js';
import { MessageType } from '../../src/protocol/pqtunnel/wire/messages.js';
import { x25519FromPrivate } from '../../src/protocol/pqtunnel/crypto/primitives.js';
import type { HandshakeOutcome } from '../../src/protocol/pqtunnel/engine/seams.js';
import { FakeClock, FakeNetwork } from '../helpers/fake-network.js';

const clientKey = x25519FromPrivate(Buffer.alloc(32, 1));
const gatewayKey = x25519FromPrivate(Buffer.alloc(32, 2));
const gatewayAt = { host: '198.51.100.1', port: 51820 };
const clientAt = { host: '203.0.113.5', port: 40000 };
const params = Buffer.alloc(32, 0);
params[0] = 1;

/** A minimal IPv4 packet whose payload carries `n`. */
function ipPacket(n: number): Buffer {
  const packet = Buffer.alloc(24);
  packet[0] = 0x45;
  packet.writeUInt16BE(24, 2);
  packet.writeUInt32BE(n, 20);
  return packet;
}
const numberOf = (packet: Buffer): number => packet.readUInt32BE(20);

interface SetupOptions {
  persistentKeepaliveMs?: number;
  psk?: Buffer | Buffer[];
  gatewayPsk?: Buffer;
  clientStatic?: ReturnType<typeof x25519FromPrivate>;
  pins?: Buffer[];
  peerKeys?: Buffer[];
  nextGatewayKey?: ReturnType<typeof x25519FromPrivate>;
}

function setup(options: SetupOptions = {}) {
  const clock = new FakeClock();
  const network = new FakeNetwork();
  const atGateway: number[] = [];
  const atClient: number[] = [];
  const states: boolean[] = [];
  const clientHandshakes: HandshakeOutcome[] = [];
  const gatewayHandshakes: HandshakeOutcome[] = [];
  const gatewayBind = network.bind(gatewayAt);
  const clientBind = network.bind({ ...clientAt });
  const gateway = new TunnelGateway({
    staticKey: gatewayKey,
    nextStaticKey: options.nextGatewayKey,
    peers: [
      {
        name: 'alice',
        publicKey: options.peerKeys ?? clientKey.publicKey,
        psk: options.gatewayPsk ?? (Buffer.isBuffer(options.psk) ? options.psk : undefined),
        params: () => params,
      },
    ],
    bind: gatewayBind,
    clock,
    onPacket: (_peer, packet) => atGateway.push(numberOf(packet)),
    onHandshake: (outcome) => gatewayHandshakes.push(outcome),
  });
  const client = new TunnelClient({
    staticKey: options.clientStatic ?? clientKey,
    gatewayPublic: options.pins ?? gatewayKey.publicKey,
    psk: options.psk,
    endpoint: gatewayAt,
    bind: clientBind,
    clock,
    persistentKeepaliveMs: options.persistentKeepaliveMs ?? 0,
    onPacket: (packet) => atClient.push(numberOf(packet)),
    onState: (up) => states.push(up),
    onHandshake: (outcome) => clientHandshakes.push(outcome),
  });
  const run = (ms: number): void => clock.advance(ms, () => network.flush());
  return { clock, network, gateway, client, clientBind, atGateway, atClient, states, run, clientHandshakes, gatewayHandshakes };
}

const initiations = (network: FakeNetwork) => network.sent.filter((s) => s.datagram[0] === MessageType.initiation);

/** An initiation from a client the gateway does not know: its mac1 is valid, nothing else about it is. */
function strangerInitiation(t: ReturnType<typeof setup>): Buffer {
  const stranger = new TunnelClient({
    staticKey: x25519FromPrivate(Buffer.alloc(32, 9)),
    gatewayPublic: gatewayKey.publicKey,
    endpoint: gatewayAt,
    bind: t.network.bind({ host: '192.0.2.200', port: 1 }),
    clock: t.clock,
    persistentKeepaliveMs: 0,
    onPacket: () => {},
  });
  stranger.connect();
  const initiation = t.network.sent.at(-1)!.datagram;
  stranger.close();
  return initiation;
}

describe('PQT engine over a fake network', () => {
  it('queues packets until the handshake completes, then carries IP packets both ways', () => {
    const t = setup();
    t.client.send(ipPacket(1));
    t.client.send(ipPacket(2));
    t.network.flush();
    expect(t.client.isUp).toBe(true);
    expect(t.atGateway).toEqual([1, 2]);
    expect(t.gateway.send('alice', ipPacket(3))).toBe(true);
    t.network.flush();
    expect(t.atClient).toEqual([3]);
    expect(t.states).toEqual([true]);
  });

  it('retries every 5 s (+ up to 333 ms jitter) with fresh initiations, reports down after 90 s, and recovers', () => {
    const t = setup();
    t.network.impairment = { drop: 1 };
    t.client.send(ipPacket(1));
    t.run(30_000);
    const sent = initiations(t.network);
    expect(sent.length).toBeGreaterThanOrEqual(5);
    expect(sent.length).toBeLessThanOrEqual(7);
    expect(new Set(sent.map((s) => s.datagram.toString('hex'))).size).toBe(sent.length);
    t.client.send(ipPacket(2));
    t.run(70_000);
    expect(t.client.isUp).toBe(false);
    t.network.impairment = {};
    t.run(70_000);
    expect(t.client.isUp).toBe(true);
    expect(t.atGateway.slice(-2)).toEqual([1, 2]);
  });

  it('rekeys every ~120 s under traffic without losing a packet in either direction', () => {
    const t = setup();
    let n = 0;
    for (let second = 0; second < 400; second++) {
      t.client.send(ipPacket(++n));
      t.gateway.send('alice', ipPacket(100_000 + n));
      t.run(1000);
    }
    expect(initiations(t.network).length).toBeGreaterThanOrEqual(3);
    expect(t.atGateway).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    // The gateway's first packet precedes the first session and is dropped; after that none is lost.
    expect(t.atClient).toEqual(Array.from({ length: n - 1 }, (_, i) => 100_002 + i));
  });

  it('never sends on a keypair older than 180 s, and keeps the tunnel up with persistent keepalives', () => {
    const quiet = setup();
    quiet.client.send(ipPacket(1));
    quiet.network.flush();
    quiet.run(181_000);
    expect(quiet.gateway.send('alice', ipPacket(2))).toBe(false);
    const kept = setup({ persistentKeepaliveMs: 25_000 });
    kept.client.connect();
    kept.run(600_000);
    expect(kept.client.isUp).toBe(true);
    expect(kept.gateway.send('alice', ipPacket(9))).toBe(true);
  });

  it('starts a new handshake when sent data gets no answer for 15 s (dead peer)', () => {
    const t = setup();
    t.client.send(ipPacket(1));
    t.network.flush();
    const before = initiations(t.network).length;
    t.network.impairment = { drop: 1 };
    t.client.send(ipPacket(2));
    t.run(16_000);
    expect(initiations(t.network).length).toBeGreaterThan(before);
  });

  it('setEndpoint moves the next handshakes to a new gateway address (its name resolved elsewhere)', () => {
    const t = setup();
    t.client.setEndpoint({ host: '192.0.2.99', port: gatewayAt.port });
    t.client.connect();
    t.run(5400);
    expect(t.client.isUp).toBe(false);
    expect(initiations(t.network).every((s) => s.to.host === '192.0.2.99')).toBe(true);
    t.client.setEndpoint(gatewayAt);
    t.run(5400);
    expect(t.client.isUp).toBe(true);
    expect(t.clientHandshakes.map((h) => h.ok)).toEqual([false, false, true]);
  });

  it('reports an attempt the gateway does not answer as a failed handshake, and the answered one with its time', () => {
    const t = setup();
    t.network.impairment = { drop: 1 };
    t.client.connect();
    t.network.flush();
    t.network.impairment = {};
    t.run(5400);
    expect(t.clientHandshakes.map((h) => h.ok)).toEqual([false, true]);
    expect(t.clientHandshakes[0]!.ms).toBeGreaterThanOrEqual(5000);
    expect(t.gatewayHandshakes.map((h) => h.ok)).toEqual([true]);
    expect(t.client.isUp).toBe(true);
  });

  it('follows a roaming client, but a replay from elsewhere does not move the endpoint', () => {
    const t = setup();
    t.client.send(ipPacket(1));
    t.network.flush();
    expect(t.gateway.endpointOf('alice')).toEqual(clientAt);
    const last = t.network.sent.filter((s) => s.datagram[0] === MessageType.data && s.to.port === gatewayAt.port).at(-1)!;
    const rejected = t.gateway.counters.packetsRejected;
    t.network.inject(last.datagram, { host: '192.0.2.66', port: 1 }, gatewayAt);
    t.network.flush();
    expect(t.gateway.endpointOf('alice')).toEqual(clientAt);
    expect(t.gateway.counters.packetsRejected, 'the replayed data message is counted').toBe(rejected + 1);
    t.network.rebind(t.clientBind, { host: '203.0.113.99', port: 41000 });
    t.client.send(ipPacket(2));
    t.network.flush();
    expect(t.gateway.endpointOf('alice')).toEqual({ host: '203.0.113.99', port: 41000 });
    t.gateway.send('alice', ipPacket(3));
    t.network.flush();
    expect(t.atClient).toEqual([3]);
  });

  it('rejects a replayed initiation: no second keypair, no response', () => {
    const t = setup();
    t.client.send(ipPacket(1));
    t.network.flush();
    const initiation = initiations(t.network)[0]!;
    const responses = (): number => t.network.sent.filter((s) => s.datagram[0] === MessageType.response).length;
    const before = responses();
    t.run(1000);
    t.network.inject(initiation.datagram, initiation.from, gatewayAt);
    t.network.flush();
    expect(responses()).toBe(before);
    expect(t.gatewayHandshakes.map((h) => [h.ok, h.peer, h.rekey])).toEqual([[true, 'alice', false], [false, 'alice', false]]);
  });

  it('under load answers with a cookie, and accepts the next initiation that carries it', () => {
    const t = setup();
    t.gateway.setUnderLoad(Number.POSITIVE_INFINITY);
    t.client.send(ipPacket(1));
    t.network.flush();
    expect(t.network.sent.some((s) => s.datagram[0] === MessageType.cookieReply && s.datagram.length === 64)).toBe(true);
    expect(t.client.isUp).toBe(false);
    t.run(6000);
    expect(t.client.isUp).toBe(true);
    expect(t.atGateway).toEqual([1]);
  });

  it('stays silent for a PSK mismatch', () => {
    const t = setup({ psk: Buffer.alloc(32, 7), gatewayPsk: Buffer.alloc(32, 8) });
    t.client.send(ipPacket(1));
    t.run(10_000);
    expect(t.client.isUp).toBe(false);
    expect(t.atGateway).toEqual([]);
  });

  it('gets through loss, duplication and reordering', () => {
    const t = setup();
    t.network.impairment = { drop: 0.2, duplicate: 0.2, reorder: true };
    for (let i = 1; i <= 200; i++) {
      t.client.send(ipPacket(i));
      t.run(200);
    }
    expect(t.client.isUp).toBe(true);
    const got = new Set(t.atGateway);
    expect(got.size).toBe(t.atGateway.length); // duplicates never delivered twice
    expect(got.size).toBeGreaterThan(100);
  });
});

describe('PQT timers with the injected clock', () => {
  const dataTo = (t: ReturnType<typeof setup>, port: number) =>
    t.network.sent.filter((s) => s.datagram[0] === MessageType.data && s.to.port === port);

  it('answers received data with a passive keepalive after 10 s of silence, and not earlier', () => {
    const t = setup();
    t.client.send(ipPacket(1));
    t.network.flush();
    t.run(1000);
    t.gateway.send('alice', ipPacket(2));
    t.network.flush();
    const before = dataTo(t, gatewayAt.port).length;
    t.run(9500);
    expect(dataTo(t, gatewayAt.port).length).toBe(before);
    t.run(1000);
    const keepalives = dataTo(t, gatewayAt.port).slice(before);
    expect(keepalives.map((k) => k.datagram.length)).toEqual([32]);
  });

  it('rekeys when receiving on a keypair older than 165 s, and sends persistent keepalives every 25 s', () => {
    const t = setup();
    t.client.send(ipPacket(1));
    t.network.flush();
    const handshakes = initiations(t.network).length;
    t.run(164_000);
    t.gateway.send('alice', ipPacket(2));
    t.network.flush();
    expect(initiations(t.network).length).toBe(handshakes);
    t.run(2000);
    t.gateway.send('alice', ipPacket(3));
    t.network.flush();
    expect(initiations(t.network).length).toBe(handshakes + 1);
    const kept = setup({ persistentKeepaliveMs: 25_000 });
    kept.client.connect();
    kept.network.flush();
    const start = dataTo(kept, gatewayAt.port).length;
    kept.run(100_000);
    expect(dataTo(kept, gatewayAt.port).length - start).toBe(4);
  });
});

describe('PQT engine under stress', () => {
  it('a handshake flood from random sources switches the gateway to cookies; an honest client still gets through', () => {
    const t = setup();
    const flood = strangerInitiation(t);
    t.network.sent.length = 0;
    for (let i = 0; i < 2000; i++) {
      t.network.inject(flood, { host: `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`, port: 1000 + i }, gatewayAt);
    }
    t.network.flush();
    const cookiesBefore = t.network.sent.filter((s) => s.datagram[0] === MessageType.cookieReply).length;
    expect(cookiesBefore).toBeGreaterThan(1000);
    expect(t.network.sent.filter((s) => s.datagram[0] === MessageType.response)).toHaveLength(0);
    t.client.send(ipPacket(1));
    t.network.flush();
    expect(t.client.isUp).toBe(false); // answered with a cookie, not a session
    t.run(6000);
    expect(t.client.isUp).toBe(true);
    expect(t.atGateway).toEqual([1]);
  });

  for (const rate of [50, 200, 1000]) {
    it(`initiations forged at ${rate}/s with the client's address cannot lock it out: 10 of 10 handshakes complete`, () => {
      const t = setup();
      // mac1 is valid (anyone who knows the gateway's public key can compute it); the source is the client's.
      const forged = strangerInitiation(t);
      t.client.close();
      const step = 1000 / rate;
      let forgedSent = 0;
      /** Moves time by `ms` while the forger sends one initiation every `step`, until `until` holds. */
      const forging = (ms: number, until = (): boolean => false): void => {
        for (let elapsed = 0; elapsed < ms && !until(); elapsed += step) {
          t.network.inject(forged, { host: clientAt.host, port: 30000 + (forgedSent++ % 20000) }, gatewayAt);
          t.network.flush();
          t.run(step);
        }
      };
      forging(2000);
      let completed = 0;
      for (let attempt = 0; attempt < 10; attempt++) {
        const client = new TunnelClient({
          staticKey: clientKey,
          gatewayPublic: gatewayKey.publicKey,
          endpoint: gatewayAt,
          bind: t.network.bind({ ...clientAt }),
          clock: t.clock,
          persistentKeepaliveMs: 0,
          onPacket: () => {},
        });
        // The honest initiation lands between two forged ones, at a different point each time.
        t.run((attempt * 0.37 * step) % step);
        client.connect();
        t.network.flush();
        forging(12_000, () => client.isUp);
        if (client.isUp) completed++;
        client.close();
        forging(1000);
      }
      expect(forgedSent).toBeGreaterThanOrEqual(rate * 12);
      expect(completed).toBe(10);
    }, 60_000);
  }

  it('ten rekeys under continuous traffic lose nothing, and 24 simulated hours keep the tunnel up', () => {
    const t = setup({ persistentKeepaliveMs: 25_000 });
    let n = 0;
    // 10 rekeys need > 1200 s of traffic: a packet each way every 2 s for 1300 s.
    for (let i = 0; i < 650; i++) {
      t.client.send(ipPacket(++n));
      t.gateway.send('alice', ipPacket(1_000_000 + n));
      t.run(2000);
    }
    expect(initiations(t.network).length).toBeGreaterThanOrEqual(11);
    expect(t.atGateway).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(t.clientHandshakes.every((h) => h.ok)).toBe(true);
    expect(t.clientHandshakes.filter((h) => h.rekey).length).toBeGreaterThanOrEqual(10);
    expect(t.gatewayHandshakes.filter((h) => h.ok && h.rekey).length).toBe(t.clientHandshakes.filter((h) => h.rekey).length);
    expect(t.gateway.counters.packetsReceived).toBe(t.client.counters.packetsSent);
    expect(t.client.counters.bytesReceived).toBe(t.gateway.counters.bytesSent);
    expect(t.atClient).toEqual(Array.from({ length: n - 1 }, (_, i) => 1_000_002 + i));
    // The rest of a day, mostly idle: a packet every 10 minutes.
    for (let minute = 0; minute < 24 * 60 - 22; minute += 10) {
      t.client.send(ipPacket(++n));
      t.run(600_000);
    }
    expect(t.client.isUp).toBe(true);
    expect(t.atGateway.at(-1)).toBe(n);
    expect(t.states.filter((up) => !up)).toHaveLength(0);
  }, 60_000);

  it('moves 10 MiB of packets through 20% loss and 25% reordering: every packet that arrives is accepted once, none taken for a replay', () => {
    const t = setup();
    t.client.connect();
    t.network.flush();
    t.network.impairment = { drop: 0.2, delay: 0.25 };
    const size = 1400;
    const count = Math.ceil((10 * 1024 * 1024) / size);
    for (let i = 1; i <= count; i++) {
      const packet = Buffer.alloc(size);
      packet[0] = 0x45;
      packet.writeUInt16BE(size, 2);
      packet.writeUInt32BE(i, 20);
      t.client.send(packet);
      if (i % 200 === 0) t.network.flush();
    }
    t.network.flush();
    const deliveredData = t.network.delivered.filter((d) => d.to.port === gatewayAt.port && d.datagram[0] === MessageType.data && d.datagram.length > 32);
    expect(deliveredData.length).toBeGreaterThan(count * 0.7);
    expect(t.atGateway).toHaveLength(deliveredData.length);
    expect(new Set(t.atGateway).size).toBe(t.atGateway.length);
    expect(t.atGateway).not.toEqual([...t.atGateway].sort((a, b) => a - b)); // really reordered
  });

  it('never throws on random, truncated or oversized datagrams, and they change nothing', () => {
    const t = setup();
    t.client.send(ipPacket(1));
    t.network.flush();
    const valid = t.network.sent.map((s) => s.datagram);
    let seed = 7;
    const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let i = 0; i < 3000; i++) {
      const base = valid[i % valid.length]!;
      let datagram: Buffer;
      if (i % 3 === 0) datagram = Buffer.from(Array.from({ length: Math.floor(random() * 1400) }, () => Math.floor(random() * 256)));
      else if (i % 3 === 1) datagram = base.subarray(0, Math.floor(random() * base.length));
      else {
        datagram = Buffer.from(base);
        datagram[Math.floor(random() * datagram.length)]! ^= 1 + Math.floor(random() * 255);
      }
      if (i % 7 === 0 && datagram.length > 0) datagram[0] = 1 + (i % 4);
      t.network.inject(datagram, { host: '192.0.2.9', port: 9 }, gatewayAt);
      t.network.inject(datagram, gatewayAt, t.clientBind.self);
    }
    expect(() => t.network.flush()).not.toThrow();
    expect(t.gateway.endpointOf('alice')).toEqual(clientAt);
    t.client.send(ipPacket(2));
    t.network.flush();
    expect(t.atGateway).toEqual([1, 2]);
  });
});

describe('PQT key rotation (spec §6.6)', () => {
  it('a client holding the old and the new PSK completes a handshake with a gateway on either', () => {
    const oldPsk = Buffer.alloc(32, 0xa1);
    const newPsk = Buffer.alloc(32, 0xa2);
    for (const gatewayPsk of [oldPsk, newPsk]) {
      const t = setup({ psk: [oldPsk, newPsk], gatewayPsk });
      t.client.send(ipPacket(1));
      t.network.flush();
      expect(t.atGateway).toEqual([1]);
    }
  });

  it('a client pinning two gateway keys moves to the next one when the first does not answer', () => {
    const retired = x25519FromPrivate(Buffer.alloc(32, 0x77)).publicKey;
    const t = setup({ pins: [retired, gatewayKey.publicKey] });
    t.client.send(ipPacket(1));
    t.network.flush();
    expect(t.client.isUp).toBe(false);
    t.run(6000);
    expect(t.client.isUp).toBe(true);
    expect(t.atGateway).toEqual([1]);
  });

  it("a gateway accepts its next identity, and a peer listed with two client keys under one name", () => {
    const nextGateway = x25519FromPrivate(Buffer.alloc(32, 0x55));
    const t = setup({ pins: [nextGateway.publicKey], nextGatewayKey: nextGateway });
    t.client.send(ipPacket(1));
    t.network.flush();
    expect(t.atGateway).toEqual([1]);
    const newClientKey = x25519FromPrivate(Buffer.alloc(32, 0x56));
    const u = setup({ clientStatic: newClientKey, peerKeys: [clientKey.publicKey, newClientKey.publicKey] });
    u.client.send(ipPacket(2));
    u.network.flush();
    expect(u.atGateway).toEqual([2]);
    expect(u.gateway.send('alice', ipPacket(3))).toBe(true);
  });
});
