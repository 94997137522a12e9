import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { ApiError } from '../../src/controller/reply.js';
import { describeError, DialError, errnoOf, SluiceError } from '../../src/common/errors.js';
import { HandshakeClosedError } from '../../src/common/handshake-reader.js';
import { IdleTimeoutError } from '../../src/common/relay.js';
import { ShutdownError } from '../../src/dispatcher.js';
import { HttpError } from '../../src/protocol/http/codec.js';
import { SocksError } from '../../src/protocol/socks/codec.js';
import { VmessAuthError, VmessUnknownUserError } from '../../src/protocol/vmess/aead-header.js';
import { VmessError } from '../../src/protocol/vmess/request-header.js';

describe('errors: one base with a stable code', () => {
  const errors: [Error, string][] = [
    [new DialError('refused', 'no'), 'SLUICE_DIAL_FAILED'],
    [new ConfigError(['a: b']), 'SLUICE_CONFIG_INVALID'],
    [new ApiError(404, 'x'), 'SLUICE_API_ERROR'],
    [new HandshakeClosedError(), 'SLUICE_HANDSHAKE_CLOSED'],
    [new IdleTimeoutError(1000), 'SLUICE_IDLE_TIMEOUT'],
    [new ShutdownError(), 'SLUICE_SHUTDOWN'],
    [new HttpError(400, 'x'), 'SLUICE_HTTP_BAD_REQUEST'],
    [new SocksError('x'), 'SLUICE_SOCKS_BAD_REQUEST'],
    [new VmessError('x'), 'SLUICE_VMESS_BAD_HEADER'],
    [new VmessAuthError('x'), 'SLUICE_VMESS_AUTH'],
    [new VmessUnknownUserError(), 'SLUICE_VMESS_UNKNOWN_USER'],
  ];

  it.each(errors)('%s has its code and its class name', (error, code) => {
    expect(error).toBeInstanceOf(SluiceError);
    expect((error as SluiceError).code).toBe(code);
    expect(error.name).toBe(error.constructor.name);
  });

  it('keeps errno codes for Node errors only: a SluiceError code never prefixes a log message', () => {
    expect(describeError(new DialError('refused', 'connection refused'))).toBe('connection refused');
    expect(errnoOf(Object.assign(new Error('boom'), { code: 'ECONNRESET' }))).toBe('ECONNRESET');
    expect(new VmessUnknownUserError()).toBeInstanceOf(VmessAuthError);
  });
});
