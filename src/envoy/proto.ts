import { decodeCheckRequest, RequestHeadTooLarge } from './codec';
import type { CheckRequest, UnreadableCheckRequest } from './messages';

export const AUTHORIZATION_SERVICE_NAME = 'envoy.service.auth.v3.Authorization';
export const CHECK_PATH = `/${AUTHORIZATION_SERVICE_NAME}/Check`;

/**
 * Envoy caps request headers at 8 MiB (max_request_headers_kb); a larger CheckRequest carries a
 * body this service never reads, and is denied before decoding.
 */
export const MAX_CHECK_REQUEST_BYTES = 8 * 1024 * 1024;

/** Never throws: a Check whose bytes are not a CheckRequest is still answered, with a denial. */
export function readCheckRequestBytes(bytes: Buffer): CheckRequest | UnreadableCheckRequest {
  if (bytes.length > MAX_CHECK_REQUEST_BYTES)
    return {
      unreadable: 'too_large',
      detail: `the CheckRequest is ${bytes.length} bytes, over ${MAX_CHECK_REQUEST_BYTES}`,
    };
  try {
    return decodeCheckRequest(bytes);
  } catch (error) {
    if (error instanceof RequestHeadTooLarge) return { unreadable: 'too_large', detail: error.message };
    return {
      unreadable: 'undecodable',
      detail: `the CheckRequest cannot be read: ${error instanceof Error ? error.message : 'unreadable'}`,
    };
  }
}
