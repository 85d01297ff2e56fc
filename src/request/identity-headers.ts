/**
 * The identity headers every allow with a subject sets, and every allow clears of client copies.
 * Named below the configuration, which must not give a trait one of these names, and the answers
 * that set them.
 */
export const IDENTITY_HEADERS = ['x-kratos-identity-id', 'x-kratos-session-id', 'x-kratos-aal'] as const;
