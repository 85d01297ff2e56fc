/**
 * Our minimal proto/ against Envoy's official API protos (from @grpc/grpc-js-xds): same names,
 * numbers and types for every field we declare, and real messages decode both ways.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as protobuf from 'protobufjs';
import { answer, type Answer } from '../src/answer/answer';
import type { Subject } from '../src/decision/decision';
import { decodeCheckRequest, encodeCheckResponse, MAX_CHECK_REQUEST_ENTRIES } from '../src/envoy/codec';
import { readCheckRequest } from '../src/envoy/check-request';
import { toCheckResponse } from '../src/envoy/check-response';
import type { CheckRequest } from '../src/envoy/messages';
import { checkRequest } from './support/envoy-client';
import { official, ours, projectRequest, type RequestLike } from './support/official-schema';
import { allSpellings } from './support/spellings';

function subjectOf(aal: 'aal1' | 'aal2'): Subject {
  return {
    identityId: 'i',
    sessionId: 's',
    aal,
    session: { id: 's', identityId: 'i', aal, expiresAt: Date.now() + 60_000, methods: [], traits: new Map() },
  };
}

const TO_OBJECT: protobuf.IConversionOptions = {
  longs: String,
  enums: Number,
  bytes: Buffer,
  defaults: false,
  oneofs: true,
};

function allTypes(namespace: protobuf.NamespaceBase): protobuf.Type[] {
  return namespace.nestedArray.flatMap((nested) => [
    ...(nested instanceof protobuf.Type ? [nested] : []),
    ...(nested instanceof protobuf.Namespace || nested instanceof protobuf.Type ? allTypes(nested) : []),
  ]);
}

describe('schema', () => {
  const ourTypes = allTypes(ours).filter((type) => !type.fullName.startsWith('.google.protobuf.'));

  test('declares the messages the service uses', () => {
    const names = ourTypes.map((type) => type.fullName);
    for (const name of [
      'CheckRequest',
      'CheckResponse',
      'OkHttpResponse',
      'DeniedHttpResponse',
      'AttributeContext',
      'AttributeContext.HttpRequest',
    ]) {
      assert.ok(names.includes(`.envoy.service.auth.v3.${name}`), name);
    }
    for (const name of [
      '.envoy.config.core.v3.HeaderValue',
      '.envoy.config.core.v3.HeaderValueOption',
      '.envoy.config.core.v3.HeaderMap',
      '.envoy.type.v3.HttpStatus',
      '.google.rpc.Status',
    ]) {
      assert.ok(names.includes(name), name);
    }
  });

  for (const type of ourTypes) {
    test(`${type.fullName}: every field has Envoy's name, number, type and cardinality`, () => {
      const reference = official.lookupType(type.fullName);
      for (const field of type.fieldsArray) {
        const theirs = reference.fields[field.name];
        assert.ok(theirs, `${type.fullName}.${field.name} does not exist upstream`);
        assert.equal(field.id, theirs.id, `${field.name} number`);
        assert.equal(field.repeated, theirs.repeated, `${field.name} repeated`);
        assert.equal(field instanceof protobuf.MapField, theirs instanceof protobuf.MapField, `${field.name} map`);
        const ourType = field.resolvedType?.fullName ?? field.type;
        const theirType = theirs.resolvedType?.fullName ?? theirs.type;
        assert.equal(ourType, theirType, `${field.name} type`);
      }
    });
  }

  test("enum values we declare have Envoy's numbers", () => {
    const ourStatus = ours.lookupEnum('envoy.type.v3.StatusCode');
    const theirStatus = official.lookupEnum('envoy.type.v3.StatusCode');
    for (const [name, number] of Object.entries(ourStatus.values)) assert.equal(theirStatus.values[name], number, name);
    const ourAction = ours.lookupEnum('envoy.config.core.v3.HeaderValueOption.HeaderAppendAction');
    const theirAction = official.lookupEnum('envoy.config.core.v3.HeaderValueOption.HeaderAppendAction');
    assert.deepEqual({ ...ourAction.values }, { ...theirAction.values });
  });
});

describe('a CheckRequest encoded with the official schema', () => {
  const OfficialRequest = official.lookupType('envoy.service.auth.v3.CheckRequest');
  const OurRequest = ours.lookupType('envoy.service.auth.v3.CheckRequest');

  function roundTrip(request: object): CheckRequest {
    const bytes = OfficialRequest.encode(OfficialRequest.fromObject(request)).finish();
    return OurRequest.toObject(OurRequest.decode(bytes), TO_OBJECT) as CheckRequest;
  }

  test('decodes with ours: method, path, host, scheme, headers map and context_extensions', () => {
    const decoded = roundTrip(
      checkRequest({
        method: 'POST',
        path: '/a?b=c',
        host: 'x.example.com:8443',
        headers: { cookie: 'a=1; b=2', 'x-request-id': 'r-1' },
        contextExtensions: { policy: 'admin' },
      }),
    );
    const http = decoded.attributes?.request?.http;
    assert.equal(http?.method, 'POST');
    assert.equal(http?.path, '/a?b=c');
    assert.equal(http?.host, 'x.example.com:8443');
    assert.equal(http?.scheme, 'https');
    assert.equal(http?.headers?.cookie, 'a=1; b=2');
    assert.equal(http?.headers?.[':authority'], 'x.example.com:8443');
    assert.deepEqual(decoded.attributes?.context_extensions, { policy: 'admin' });
    const read = readCheckRequest(decoded);
    assert.ok(read.ok);
    assert.equal(read.view.requestId, 'r-1');
    assert.equal(read.view.host, 'x.example.com');
  });

  test('decodes header_map entries with their raw bytes, one per line', () => {
    const decoded = roundTrip(
      checkRequest({
        encoding: 'raw',
        headers: [
          ['cookie', 'a=1'],
          ['cookie', 'b=2'],
          ['x-bin', Buffer.from([0xff, 0x00, 0x41])],
        ],
      }),
    );
    const entries = decoded.attributes?.request?.http?.header_map?.headers ?? [];
    assert.deepEqual(
      entries.filter((entry) => entry.key === 'cookie').map((entry) => entry.raw_value?.toString()),
      ['a=1', 'b=2'],
    );
    assert.deepEqual([...(entries.find((entry) => entry.key === 'x-bin')?.raw_value ?? [])], [0xff, 0x00, 0x41]);
    assert.equal(decoded.attributes?.request?.http?.headers, undefined);
  });

  test('fields we leave out (source, time, metadata) are skipped, not an error', () => {
    const decoded = roundTrip({
      ...checkRequest(),
      attributes: {
        ...(checkRequest() as { attributes: object }).attributes,
        metadata_context: { filter_metadata: { x: { fields: {} } } },
      },
    });
    assert.ok(decoded.attributes?.request?.http);
  });
});

describe('our CheckResponse decoded with the official schema', () => {
  const OurResponse = ours.lookupType('envoy.service.auth.v3.CheckResponse');
  const OfficialResponse = official.lookupType('envoy.service.auth.v3.CheckResponse');
  const settings = { browserUrl: 'https://id.example.com', allowedHosts: [] };

  function roundTrip(response: object): Record<string, unknown> {
    const message = OurResponse.fromObject(response);
    const bytes = OurResponse.encode(message).finish();
    return OfficialResponse.toObject(OfficialResponse.decode(bytes), TO_OBJECT);
  }

  test('OK: status 0, overwrite headers with append {value:false}, headers_to_remove, metadata Struct', () => {
    const allow = answer(
      {
        kind: 'allow',
        stripCredentials: true,
        reason: 'ok',
        subject: subjectOf('aal2'),
        credential: 'cookie',
        policy: 'default',
      },
      undefined,
      settings,
    );
    const decoded = roundTrip(toCheckResponse(allow, { identity_id: 'i', decision: 'allow', aal: undefined })) as {
      status: { code?: number };
      ok_response: { headers: Array<{ header: { key: string; value: string }; append?: { value?: boolean } }> };
      dynamic_metadata: { fields: Record<string, { stringValue?: string }> };
      http_response: string;
    };
    assert.equal(decoded.status.code ?? 0, 0);
    assert.equal(decoded.http_response, 'ok_response');
    assert.deepEqual(
      decoded.ok_response.headers.map((h) => [h.header.key, h.header.value]),
      [
        ['x-kratos-identity-id', 'i'],
        ['x-kratos-session-id', 's'],
        ['x-kratos-aal', 'aal2'],
      ],
    );
    // The BoolValue is present (false = overwrite), which is what Envoy <= 1.36 reads.
    for (const option of decoded.ok_response.headers) assert.deepEqual(option.append, { value: false });
    assert.deepEqual(decoded.dynamic_metadata.fields, {
      identity_id: { kind: 'stringValue', stringValue: 'i' },
      decision: { kind: 'stringValue', stringValue: 'allow' },
    });

    const anonymous = answer(
      { kind: 'allow', stripCredentials: true, reason: 'anonymous', subject: null, credential: 'none', policy: 'p' },
      undefined,
      settings,
    );
    const removed = roundTrip(toCheckResponse(anonymous, {})) as { ok_response: { headers_to_remove: string[] } };
    assert.deepEqual(
      [...removed.ok_response.headers_to_remove].sort(),
      ['x-kratos-identity-id', 'x-kratos-session-id', 'x-kratos-aal'].flatMap(allSpellings).sort(),
    );
  });

  test('OK with a renewed session cookie: response_headers_to_add (field 6), one set-cookie per line, appended', () => {
    const lines = [
      'ory_kratos_session=new1; Path=/; Expires=Wed, 02 Dec 2026 11:40:58 GMT; HttpOnly',
      'ory_kratos_session=new2; Path=/app',
    ];
    const allow = answer(
      {
        kind: 'allow',
        stripCredentials: true,
        reason: 'ok',
        subject: subjectOf('aal1'),
        credential: 'cookie',
        policy: 'default',
        refreshedCookie: lines,
      },
      undefined,
      settings,
    );
    const bytes = encodeCheckResponse(toCheckResponse(allow, {}));
    const decoded = OfficialResponse.toObject(OfficialResponse.decode(bytes), TO_OBJECT) as {
      ok_response: {
        headers: unknown[];
        response_headers_to_add: Array<{ header: { key: string; value: string }; append?: { value?: boolean } }>;
      };
    };
    assert.equal(decoded.ok_response.headers.length, 3);
    assert.deepEqual(
      decoded.ok_response.response_headers_to_add.map((h) => [h.header.key, h.header.value, h.append?.value]),
      lines.map((line) => ['set-cookie', line, true]),
    );
  });

  test('denial: non-zero status, HttpStatus enum, headers and body', () => {
    const deny = answer(
      { kind: 'kratos_unavailable', detail: 'x', credential: 'token', policy: 'default' },
      undefined,
      settings,
    );
    const decoded = roundTrip(toCheckResponse(deny, { decision: 'error' })) as {
      status: { code: number };
      denied_response: {
        status: { code: number };
        headers: Array<{ header: { key: string; value: string } }>;
        body: string;
      };
    };
    assert.equal(decoded.status.code, 14);
    assert.equal(decoded.denied_response.status.code, 503);
    assert.deepEqual(
      decoded.denied_response.headers.map((h) => [h.header.key, h.header.value]),
      [
        ['retry-after', '1'],
        ['content-type', 'application/json'],
        ['cache-control', 'no-store'],
      ],
    );
    assert.equal((JSON.parse(decoded.denied_response.body) as { error: { code: number } }).error.code, 503);
  });

  test('the metadata Struct is on the wire as google.protobuf.Value string_value (field 3)', () => {
    const bytes = OurResponse.encode(
      OurResponse.fromObject(
        toCheckResponse(
          { kind: 'allow', identityHeaders: [], withheld: [], upstreamCredentials: [], clientHeaders: [] },
          { k: 'v' },
        ),
      ),
    ).finish();
    // ... 0x22 (field 4, dynamic_metadata) ... 0x1a 0x01 'v' (Value.string_value = "v")
    assert.ok(Buffer.from(bytes).includes(Buffer.from([0x1a, 0x01, 0x76])), Buffer.from(bytes).toString('hex'));
  });
});

describe('the hand-written hot-path codec', () => {
  const OfficialRequest = official.lookupType('envoy.service.auth.v3.CheckRequest');
  const OurRequest = ours.lookupType('envoy.service.auth.v3.CheckRequest');
  const OurResponse = ours.lookupType('envoy.service.auth.v3.CheckResponse');
  const OfficialResponse = official.lookupType('envoy.service.auth.v3.CheckResponse');

  const requests: Array<[string, object]> = [
    [
      'headers map',
      checkRequest({
        method: 'POST',
        path: '/a?b',
        headers: { cookie: 'a=1,b=2', 'x-request-id': 'r' },
        contextExtensions: { policy: 'admin', team: 'x' },
      }),
    ],
    [
      'header_map with raw bytes',
      checkRequest({
        encoding: 'raw',
        headers: [
          ['cookie', 'a=1'],
          ['cookie', 'b=2'],
          ['x-bin', Buffer.from([0xff, 0x00])],
        ],
      }),
    ],
    [
      'every field Envoy may send, most of which the codec skips',
      {
        attributes: {
          source: {
            address: { socket_address: { address: '10.0.0.1', port_value: 1234 } },
            principal: 'spiffe://x',
            labels: { a: 'b' },
          },
          destination: { address: { socket_address: { address: '10.0.0.2', port_value: 8080 } } },
          request: {
            time: { seconds: '1700000000', nanos: 5 },
            http: {
              id: '42',
              method: 'GET',
              headers: { ':path': '/x' },
              path: '/x',
              host: 'h',
              scheme: 'http',
              query: '',
              fragment: '',
              size: '12',
              protocol: 'HTTP/1.1',
              body: 'hello',
              raw_body: Buffer.from('hello'),
            },
          },
          context_extensions: { k: 'v' },
          metadata_context: { filter_metadata: { ns: { fields: { a: { string_value: 'b' } } } } },
          tls_session: { sni: 'h' },
        },
      },
    ],
    ['an empty request', {}],
  ];
  for (const [name, request] of requests) {
    test(`decodes ${name} exactly like protobufjs with proto/`, () => {
      const bytes = OfficialRequest.encode(OfficialRequest.fromObject(request)).finish();
      assert.deepEqual(
        projectRequest(decodeCheckRequest(bytes)),
        projectRequest(OurRequest.decode(bytes) as unknown as RequestLike),
      );
    });
  }

  test('skips unknown fields of every wire type at every level', () => {
    const writer = protobuf.Writer.create();
    writer.uint32((1 << 3) | 2).fork();
    writer.uint32((99 << 3) | 0).uint64(12345678901234);
    writer.uint32((98 << 3) | 1).fixed64(7);
    writer.uint32((97 << 3) | 5).fixed32(7);
    writer
      .uint32((4 << 3) | 2)
      .fork()
      .uint32((2 << 3) | 2)
      .fork();
    writer.uint32((2 << 3) | 2).string('GET');
    writer.uint32((77 << 3) | 2).string('ignored');
    writer.uint32((4 << 3) | 2).string('/p');
    writer.ldelim().ldelim().ldelim();
    const decoded = decodeCheckRequest(writer.finish());
    assert.equal(decoded.attributes?.request?.http?.method, 'GET');
    assert.equal(decoded.attributes?.request?.http?.path, '/p');
  });

  test('truncated bytes throw (the server then answers a 400 denial; Envoy never sends them)', () => {
    const bytes = OfficialRequest.encode(OfficialRequest.fromObject(checkRequest())).finish();
    assert.throws(() => decodeCheckRequest(bytes.subarray(0, bytes.length - 3)));
  });

  // Found by test/fuzz/codec-request.test.ts.
  test('a field running past the end of its sub-message throws, as with protobufjs, instead of being read from the bytes after it', () => {
    // attributes (4 bytes) = a LEN field 2049 whose 1-byte length needs the byte after attributes.
    const bytes = Buffer.from('0a048a80010100', 'hex');
    assert.throws(() => OfficialRequest.decode(bytes), RangeError);
    assert.throws(() => decodeCheckRequest(bytes), RangeError);
  });

  test("a string whose length runs past the message throws instead of being cut short (protobufjs's Buffer reader cuts it)", () => {
    // attributes { request { http { path: length 3, then only "/a" } } }
    const bytes = Buffer.from('0a08220612042203' + '2f61' /* "/a" */, 'hex');
    assert.equal(
      (OfficialRequest.decode(bytes) as unknown as { attributes: { request: { http: { path: string } } } }).attributes
        .request.http.path,
      '/a',
    );
    assert.throws(() => decodeCheckRequest(bytes), RangeError);
  });

  test('a singular message sent twice: the second replaces the first, at every level, as protobufjs decodes it', () => {
    // attributes { context_extensions { "" : "" } }, then attributes {}; and the same one level down.
    for (const hex of ['0a0252000a00', '0a0a220412020a0022021a00']) {
      const bytes = Buffer.from(hex, 'hex');
      assert.deepEqual(
        projectRequest(decodeCheckRequest(bytes)),
        projectRequest(OfficialRequest.decode(bytes) as unknown as RequestLike),
        hex,
      );
    }
    assert.equal(decodeCheckRequest(Buffer.from('0a0252000a00', 'hex')).attributes?.context_extensions, undefined);
  });

  test(`more than ${MAX_CHECK_REQUEST_ENTRIES} header and context_extensions entries throw: empty ones would take ~40 bytes of heap per byte`, () => {
    const request = (entries: number) => {
      const http = { method: 'GET', path: '/', header_map: { headers: Array.from({ length: entries }, () => ({})) } };
      return Buffer.from(
        OfficialRequest.encode(
          OfficialRequest.fromObject({ attributes: { request: { http }, context_extensions: { policy: 'p' } } }),
        ).finish(),
      );
    };
    assert.equal(
      decodeCheckRequest(request(MAX_CHECK_REQUEST_ENTRIES - 1)).attributes?.request?.http?.header_map?.headers?.length,
      MAX_CHECK_REQUEST_ENTRIES - 1,
    );
    assert.throws(() => decodeCheckRequest(request(MAX_CHECK_REQUEST_ENTRIES)), /more than 10000/);
  });

  const settings = { browserUrl: 'https://id.example.com', allowedHosts: [] };
  const answers: Array<[string, Answer]> = [
    [
      'allow with identity',
      answer(
        {
          kind: 'allow',
          stripCredentials: true,
          reason: 'ok',
          subject: subjectOf('aal1'),
          credential: 'token',
          policy: 'default',
        },
        undefined,
        settings,
      ),
    ],
    [
      'allow with a renewed session cookie',
      answer(
        {
          kind: 'allow',
          stripCredentials: true,
          reason: 'ok',
          subject: subjectOf('aal1'),
          credential: 'cookie',
          policy: 'default',
          refreshedCookie: ['ory_kratos_session=v; Path=/'],
        },
        undefined,
        settings,
      ),
    ],
    [
      'anonymous allow',
      answer(
        { kind: 'allow', stripCredentials: true, reason: 'anonymous', subject: null, credential: 'none', policy: 'p' },
        undefined,
        settings,
      ),
    ],
    [
      '403 JSON',
      answer({ kind: 'aal_too_low', subject: null, credential: 'cookie', policy: 'default' }, undefined, settings),
    ],
    [
      '503',
      answer({ kind: 'kratos_unavailable', detail: 'x', credential: 'token', policy: 'default' }, undefined, settings),
    ],
  ];
  test('encodes non-ASCII text, a status message and a negative code like protobufjs', () => {
    const response = {
      status: { code: -1, message: 'ünïcode ✓' },
      denied_response: {
        status: { code: 500 },
        headers: [{ header: { key: 'x-ä', value: 'wert ö' }, append: { value: true } }],
        body: '{"ü":1}',
      },
      dynamic_metadata: { fields: { ключ: { stringValue: 'значение' }, empty: { stringValue: '' } } },
    };
    assert.equal(
      Buffer.from(encodeCheckResponse(response)).toString('hex'),
      Buffer.from(OurResponse.encode(OurResponse.fromObject(response)).finish()).toString('hex'),
    );
  });

  // Found by test/fuzz/codec-response.test.ts.
  test('an empty name in headers_to_remove is still an element of the list', () => {
    const bytes = encodeCheckResponse({
      status: { code: 0 },
      ok_response: { headers: [], headers_to_remove: ['', 'x'], response_headers_to_add: [] },
      dynamic_metadata: { fields: {} },
    });
    const decoded = OfficialResponse.toObject(OfficialResponse.decode(bytes)) as {
      ok_response: { headers_to_remove: string[] };
    };
    assert.deepEqual(decoded.ok_response.headers_to_remove, ['', 'x']);
  });

  for (const [name, given] of answers) {
    test(`encodes ${name} byte for byte like protobufjs with proto/`, () => {
      const response = toCheckResponse(given, { identity_id: 'i', decision: 'allow', policy: '', reason: 'ok' });
      const ours_ = Buffer.from(encodeCheckResponse(response));
      const reference = Buffer.from(OurResponse.encode(OurResponse.fromObject(response)).finish());
      assert.equal(ours_.toString('hex'), reference.toString('hex'));
      assert.doesNotThrow(() => OfficialResponse.decode(ours_));
    });
  }
});
