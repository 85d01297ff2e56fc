/**
 * A helper process of the driver (the Kratos emulator, the upstream) asked questions over IPC:
 * the child sends one ready message, then one reply per request, matched by id. Forked, so it
 * inherits the driver's pinning to the load core.
 */
import { fork, type ChildProcess } from 'node:child_process';

export interface IpcReply {
  id: number;
  error?: string;
}

export class IpcChild<Command extends object, Reply extends IpcReply> {
  private nextId = 1;
  private readonly pending = new Map<number, (reply: Reply) => void>();

  private constructor(
    private readonly child: ChildProcess,
    private readonly what: string,
  ) {
    child.on('message', (reply: Reply) => {
      this.pending.get(reply.id)?.(reply);
      this.pending.delete(reply.id);
    });
  }

  /** Forks `script --child` and resolves with the child and its ready message. */
  static start<Command extends object, Reply extends IpcReply, Ready>(
    script: string,
    what: string,
    execArgv: string[] = [],
  ): Promise<{ child: IpcChild<Command, Reply>; ready: Ready }> {
    const child = fork(script, ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`${what} process exited with ${code}`)));
      child.once('message', (ready: Ready) => resolve({ child: new IpcChild<Command, Reply>(child, what), ready }));
    });
  }

  ask(command: Command): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (reply) =>
        reply.error ? reject(new Error(`${this.what}: ${reply.error}`)) : resolve(reply),
      );
      this.child.send({ ...command, id });
    });
  }

  /** Disconnecting tells the child to close its server and exit. */
  stop(): Promise<void> {
    if (this.child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.removeAllListeners('exit');
      this.child.once('exit', () => resolve());
      this.child.disconnect();
    });
  }
}
