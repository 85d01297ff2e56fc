// A TCP proxy on 127.0.0.1 that holds every chunk from the client for `delayMs` before passing
// it on: a slow Kratos, as the service and Envoy see it, without touching Kratos.
import { connect, createServer, type Server, type Socket } from 'node:net';

export class DelayProxy {
  delayMs = 0;
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  static async start(listenPort: number, targetPort: number): Promise<DelayProxy> {
    let proxy: DelayProxy | undefined;
    const server = createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      proxy?.track(client, upstream);
      client.on('data', (chunk: Buffer) => {
        const delay = proxy?.delayMs ?? 0;
        if (delay === 0) upstream.write(chunk);
        else setTimeout(() => upstream.writable && upstream.write(chunk), delay);
      });
      upstream.pipe(client);
      const close = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    proxy = new DelayProxy(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, '127.0.0.1', resolve);
    });
    return proxy;
  }

  private track(...sockets: Socket[]): void {
    for (const socket of sockets) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    }
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
