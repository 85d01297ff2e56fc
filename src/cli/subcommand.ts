/** One operator command of the binary (`kratos-ext-authz <name> …`), listed by cli/commands.ts. */
export interface Subcommand {
  name: string;
  summary: string;
  usage: string;
  /** Resolves the exit code; throws UsageError or ConfigError for exit 2. */
  run(argv: string[]): Promise<number>;
}
