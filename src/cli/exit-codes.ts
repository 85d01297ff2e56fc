/** The exit codes every command shares, as --help prints them. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export const EXIT_CODES = `exit codes:
  0  success: served and stopped cleanly, config valid, request explained, every policy test passed
  1  runtime failure, or at least one policy test failed
  2  bad command line, invalid configuration, or invalid tests file`;
