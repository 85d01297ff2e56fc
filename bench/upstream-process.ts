/**
 * The upstream behind Envoy in every envoy-* scenario: a trivial node:http server answering 200,
 * in a child process of the driver (so on the load core, like Envoy and h2load). It counts the
 * requests that reached it and those that carried the identity header the service sets on an
 * allow, so a run can prove Envoy asked the authorization server and forwarded what it allowed.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { IpcChild, type IpcReply } from './ipc-child';

/**
 * Set on every allowed request: by kratos-ext-authz (envoy/envoy.yaml strips client copies), or
 * for envoy-peer-kratos Kratos's own whoami header, passed on by Envoy's allowed_upstream_headers.
 */
const IDENTITY_HEADERS = ['x-kratos-identity-id', 'x-kratos-authenticated-identity-id'];

export interface UpstreamCounts {
  requests: number;
  withIdentity: number;
}

type Ready = { port: number };
type Reply = IpcReply & UpstreamCounts;

function childMain(): void {
  const counts: UpstreamCounts = { requests: 0, withIdentity: 0 };
  const body = Buffer.from('ok\n');
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (request, response) => {
    counts.requests++;
    if (IDENTITY_HEADERS.some((name) => request.headers[name] !== undefined)) counts.withIdentity++;
    response.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    response.end(body);
  });
  server.listen(0, '127.0.0.1', () => {
    const ready: Ready = { port: (server.address() as AddressInfo).port };
    process.send?.(ready);
  });
  process.on('message', (ask: { id: number }) => {
    const reply: Reply = { id: ask.id, ...counts };
    process.send?.(reply);
  });
  process.on('disconnect', () => server.close(() => process.exit(0)));
}

/** Driver side. */
export class UpstreamProcess {
  private constructor(
    private readonly child: IpcChild<object, Reply>,
    readonly port: number,
  ) {}

  static async start(): Promise<UpstreamProcess> {
    const { child, ready } = await IpcChild.start<object, Reply, Ready>(__filename, 'upstream');
    return new UpstreamProcess(child, ready.port);
  }

  /** Requests answered since the upstream started. */
  counts(): Promise<UpstreamCounts> {
    return this.child.ask({});
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

if (require.main === module && process.argv.includes('--child')) childMain();
