/**
 * protobufjs roots for Envoy's official API protos and for our own proto/, and the projection
 * of a CheckRequest onto the fields the hand codec reads, shared by the compatibility tests and
 * the fuzzers that hold src/envoy/codec.ts to protobufjs.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as protobuf from 'protobufjs';
import { projectRoot } from './project-files';
import { OFFICIAL_INCLUDE_DIRS } from './envoy-client';

export function loadRoot(dirs: string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) =>
    dirs.map((dir) => join(dir, target)).find((path) => existsSync(path)) ?? target;
  root.loadSync('envoy/service/auth/v3/external_auth.proto', { keepCase: true });
  root.resolveAll();
  return root;
}

export const official = loadRoot(OFFICIAL_INCLUDE_DIRS);
export const ours = loadRoot([join(projectRoot, 'proto')]);

/** A decoded HeaderValue as either decoder hands it over. */
interface HeaderLike {
  key?: string;
  value?: string;
  raw_value?: Uint8Array;
}

interface HttpLike {
  method?: string;
  path?: string;
  host?: string;
  scheme?: string;
  headers?: Record<string, string>;
  header_map?: { headers?: HeaderLike[] };
}

/** What either decoder made of a CheckRequest (a protobufjs message or the codec's object). */
export interface RequestLike {
  attributes?: { request?: { http?: HttpLike }; context_extensions?: Record<string, string> };
}

/** Only the fields present on the wire: a protobufjs message carries defaults on its prototype. */
function own<T extends object, K extends keyof T>(value: T | undefined, key: K): T[K] | undefined {
  return value !== undefined && value !== null && Object.hasOwn(value, key) ? value[key] : undefined;
}

/**
 * A map as sorted [key, value] pairs, absent when empty: key order is not part of a protobuf
 * map, and protobufjs gives every message an empty object for each map field.
 */
function entries(map: Record<string, string> | undefined): Array<[string, string]> | undefined {
  const pairs = Object.entries(map ?? {});
  return pairs.length === 0 ? undefined : pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The fields the codec reads, in plain JSON-comparable form: equal projections mean the two
 * decoders agree on everything a check can see.
 */
export function projectRequest(request: RequestLike): unknown {
  const attributes = own(request, 'attributes');
  const http = own(own(attributes, 'request'), 'http');
  return {
    method: own(http, 'method'),
    path: own(http, 'path'),
    host: own(http, 'host'),
    scheme: own(http, 'scheme'),
    headers: entries(own(http, 'headers')),
    header_map: own(own(http, 'header_map'), 'headers')?.map((header) => ({
      key: own(header, 'key'),
      value: own(header, 'value'),
      raw: own(header, 'raw_value') && [...(header.raw_value ?? [])],
    })),
    context_extensions: entries(own(attributes, 'context_extensions')),
  };
}
