/**
 * The project's own files (envoy/, deploy/, examples/, Dockerfile) as the deploy tests read them:
 * located from the package root, parsed into plain JSON values, and taken apart with assertions
 * that name the part that is missing or has the wrong shape.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';

/** What YAML and JSON files parse into, so the tests walk them without `any`. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A YAML mapping / JSON object. */
export type JsonObject = { [key: string]: Json };

/** Walks up to kratos-ext-authz's package.json, so the same paths work from test/ and from dist/test/. */
function findProjectRoot(): string {
  let dir = __dirname;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown };
      if (pkg.name === 'kratos-ext-authz') return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`package.json of kratos-ext-authz not found above ${__dirname}`);
    dir = parent;
  }
}

/** Absolute path of the package root; every file below is named relative to it. */
export const projectRoot = findProjectRoot();

/** A project file's text, named as in the repository (e.g. "Dockerfile"), independent of the cwd. */
export function readText(relativePath: string): string {
  return readFileSync(join(projectRoot, relativePath), 'utf8');
}

/** A project YAML file (one document) as a JSON value. */
export function readYaml(relativePath: string): Json {
  return parseYaml(readText(relativePath)) as Json;
}

/** Type guard for mappings: arrays and null are objects to `typeof` but not mappings. */
export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Asserts a mapping, so a wrong shape fails with `what` instead of a TypeError further on. */
export function obj(value: Json | undefined, what: string): JsonObject {
  assert.ok(isObject(value), `${what} must be a mapping`);
  return value;
}

/** Asserts a list (see `obj`). */
export function arr(value: Json | undefined, what: string): Json[] {
  assert.ok(Array.isArray(value), `${what} must be a list`);
  return value;
}

/** Asserts a string (see `obj`). */
export function str(value: Json | undefined, what: string): string {
  assert.equal(typeof value, 'string', `${what} must be a string`);
  return value as string;
}

/** The value at a dotted path ("spec.template.spec"), or undefined where any step is not a mapping. */
export function at(root: Json | undefined, path: string): Json | undefined {
  let current: Json | undefined = root;
  for (const key of path.split('.')) current = isObject(current) ? current[key] : undefined;
  return current;
}

/** The port of a "host:port" address (the service's grpc_address / http_address, Envoy's and Kubernetes' addresses). */
export function portOf(address: string): number {
  const match = /:(\d+)$/.exec(address);
  assert.ok(match, `no port in "${address}"`);
  return Number(match[1]);
}

/**
 * google.protobuf.Duration in proto3 JSON ("0.25s"), as Envoy and Istio read it; not the service's
 * own syntax ("150ms"), which src/config/duration.ts parses.
 */
export const PROTO_DURATION = /^(-?\d+(?:\.\d{1,9})?)s$/;

/** Milliseconds of a proto3 JSON Duration; fails the test for anything else (e.g. Go-style "250ms"). */
export function protoDurationMs(text: string): number {
  const match = PROTO_DURATION.exec(text);
  assert.ok(match, `not a proto3 JSON duration: "${text}"`);
  return Number(match[1]) * 1000;
}
