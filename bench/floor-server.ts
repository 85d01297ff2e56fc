/**
 * The floor: a Check server on @grpc/grpc-js + @grpc/proto-loader, the stack the service ran on
 * before its own transport (src/grpc/), with the server options it had, that answers OK at once.
 * Its throughput is what that transport alone costs on one core; the service is measured as a
 * fraction of it.
 *
 * Prints `{"grpc_port":N}` once listening, and `{"checks":N}` on SIGUSR2 and on SIGTERM (then
 * exits), so the bench can confirm every request reached the handler.
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { CheckRequest, CheckResponse } from '../src/envoy/messages';
import { projectRoot } from '../test/support/project-files';
import { MAX_CONCURRENT_STREAMS, MAX_RECEIVE_MESSAGE_BYTES } from '../src/server/grpc-server';

const GRPC_SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES,
  'grpc.max_concurrent_streams': MAX_CONCURRENT_STREAMS,
};

function loadAuthorizationService(): grpc.ServiceDefinition {
  const options = {
    keepCase: true,
    longs: String,
    enums: Number,
    defaults: false,
    oneofs: false,
    includeDirs: [join(projectRoot, 'proto')],
  };
  const loaded = grpc.loadPackageDefinition(
    protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', options),
  ) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } };
  };
  return loaded.envoy.service.auth.v3.Authorization.service;
}

const OK: CheckResponse = { status: { code: 0 }, dynamic_metadata: { fields: {} } };

export function createFloorServer(): { server: grpc.Server; answered: () => number } {
  let answered = 0;
  const server = new grpc.Server(GRPC_SERVER_OPTIONS);
  server.addService(loadAuthorizationService(), {
    Check(_call: grpc.ServerUnaryCall<CheckRequest, CheckResponse>, callback: grpc.sendUnaryData<CheckResponse>) {
      answered++;
      callback(null, OK);
    },
  });
  return { server, answered: () => answered };
}

function main(): void {
  const port = Number(process.argv[2] ?? '0');
  const { server, answered } = createFloorServer();
  server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => {
    if (error) {
      process.stderr.write(`floor-server: ${error.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`${JSON.stringify({ grpc_port: bound })}\n`);
  });
  process.on('SIGUSR2', () => process.stdout.write(`${JSON.stringify({ checks: answered() })}\n`));
  process.once('SIGTERM', () => {
    process.stdout.write(`${JSON.stringify({ checks: answered() })}\n`, () => process.exit(0));
  });
}

if (require.main === module) main();
