// Kratos's HTTP courier target: collects every message Kratos sends (courier.delivery_strategy
// http), so a test can read the one-time code of a code-MFA login.
import { createServer, type Server } from 'node:http';

export interface Mail {
  recipient: string;
  templateType: string;
  /** template_data.login_code etc., as Kratos passed them to the template. */
  templateData: Record<string, unknown>;
  body: string;
}

// The jsonnet body Kratos renders per message: the recipient, the template and its data.
export const COURIER_BODY = `base64://${Buffer.from(
  'function(ctx) { recipient: ctx.recipient, template_type: ctx.template_type, template_data: if "template_data" in ctx then ctx.template_data else {}, body: ctx.body }',
).toString('base64')}`;

export class MailSink {
  readonly mails: Mail[] = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** Listens on a free port of `host`: 127.0.0.1, or where containers reach this machine. */
  static async start(host: string): Promise<MailSink> {
    let sink: MailSink | undefined;
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        try {
          const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          const data = parsed.template_data;
          sink?.mails.push({
            recipient: String(parsed.recipient),
            templateType: String(parsed.template_type),
            templateData: typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {},
            body: String(parsed.body),
          });
          response.writeHead(200).end();
        } catch {
          response.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    sink = new MailSink(server, `http://${host}:${address.port}/mail`);
    return sink;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server.close(resolve));
  }
}
