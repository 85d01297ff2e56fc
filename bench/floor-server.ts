/**
 * The floor: a Check server on the same @grpc/grpc-js + @grpc/proto-loader stack, proto loading
 * and server options as the real service, that answers OK at once. Its throughput is what the
 * transport alone costs on one core; the service is measured as a fraction of it.
 *
 * Prints `{"grpc_port":N}` once listening, and `{"checks":N}` on SIGUSR2 and on SIGTERM (then
 * exits), so the bench can confirm every request reached the handler.
 */
import * as grpc from '@grpc/grpc-js';
import type { CheckRequest, CheckResponse } from '../src/envoy/messages';
import { loadAuthorizationService } from '../src/envoy/proto';
import { GRPC_SERVER_OPTIONS } from '../src/server/grpc-server';


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
