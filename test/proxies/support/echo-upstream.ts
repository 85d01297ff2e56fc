import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The app behind the proxy: answers 200 with the request headers it received, as JSON (and each
 * x-echo-set-cookie line as a Set-Cookie).
 */
export interface EchoUpstream {
  port: number;
  /** Header lines of the last request, names lower-cased, repeated names joined with ", ". */
  last(): Record<string, string> | undefined;
  /**
   * The last request's headers as CGI, WSGI (PEP 3333), Rack and PHP read them: each name
   * upper-cased with "-" folded to "_" under HTTP_ (and "." too, as PHP registers $_SERVER),
   * lines that fold to one name joined with "," (so x-kratos-aal, X-Kratos_Aal, x_kratos_aal
   * and x.kratos.aal are all HTTP_X_KRATOS_AAL).
   */
  lastAsCgi(): Record<string, string> | undefined;
  /** How many requests reached the app. */
  count(): number;
  stop(): Promise<void>;
}

export async function startEchoUpstream(): Promise<EchoUpstream> {
  let last: Record<string, string> | undefined;
  let lastAsCgi: Record<string, string> | undefined;
  let count = 0;
  const server = http.createServer((request, response) => {
    count += 1;
    const headers: Record<string, string> = {};
    const cgi: Record<string, string> = {};
    for (let index = 0; index + 1 < request.rawHeaders.length; index += 2) {
      const name = (request.rawHeaders[index] as string).toLowerCase();
      const value = request.rawHeaders[index + 1] as string;
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
      const folded = `HTTP_${name.toUpperCase().replace(/[-.]/g, '_')}`;
      cgi[folded] = folded in cgi ? `${cgi[folded]},${value}` : value;
    }
    last = headers;
    lastAsCgi = cgi;
    // An app setting its own cookies (one per x-echo-set-cookie line), to see that the proxy keeps
    // them beside the renewed session cookie.
    const ownCookies = request.headersDistinct['x-echo-set-cookie'] ?? [];
    response.writeHead(200, {
      'content-type': 'application/json',
      'x-upstream': 'echo',
      ...(ownCookies.length > 0 ? { 'set-cookie': ownCookies } : {}),
    });
    response.end(JSON.stringify({ method: request.method, url: request.url, headers }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    last: () => last,
    lastAsCgi: () => lastAsCgi,
    count: () => count,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
