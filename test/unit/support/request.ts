// Small builders shared by the unit tests: a HeaderBag from header lines and a RequestView
// from a request line, the way src/envoy/check-request.ts builds them.
import { HeaderLines, type HeaderBag } from '../../../src/request/headers';
import { buildRequestView, type RequestLine, type RequestView } from '../../../src/request/view';

/** One entry per header line, in order; names may be given in any case. */
export function headerBag(lines: ReadonlyArray<readonly [name: string, value: string]> = []): HeaderBag {
  const bag = new HeaderLines();
  for (const [name, value] of lines) bag.add(name, value);
  return bag;
}

export interface ViewOptions extends Partial<RequestLine> {
  headers?: ReadonlyArray<readonly [name: string, value: string]>;
  contextExtensions?: Record<string, string>;
}

export function requestView(options: ViewOptions = {}): RequestView {
  const line: RequestLine = {
    method: options.method ?? 'GET',
    scheme: options.scheme ?? 'https',
    authority: options.authority ?? 'app.example.com',
    path: options.path ?? '/',
  };
  const built = buildRequestView(line, headerBag(options.headers), options.contextExtensions ?? {});
  if (!built.ok) throw new Error(`requestView(${JSON.stringify(line)}): ${built.detail}`);
  return built.view;
}
