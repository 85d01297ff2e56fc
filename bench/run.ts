/**
 * `make bench` / `make bench-smoke`: every scenario back to back, then the table.
 *
 *   node dist/bench/run.js             full run → bench/results/latest.{json,md}
 *   node dist/bench/run.js --smoke     ~1 s per scenario, tiny counts, targets not judged;
 *                                      exits non-zero only if the harness itself broke
 *   node dist/bench/run.js --profile   the hit scenario under node --cpu-prof → profile-hit.md
 *   --only rounds,mixed,burst,memory   a subset of the phases
 *   --out <dir>                        where results go (smoke default: a temporary folder)
 *   --service-node-flags "<flags>"     node flags for the service processes, e.g. "--max-semi-space-size=16"
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { H2LOAD_INSTALL_HINT, h2loadVersion } from './h2load';
import { warmUpH2load, measureH2load } from './measure';
import { canPin, pinSelfToLoadCore, startService } from './processes';
import { renderProfile, summarizeProfile } from './profile';
import { judgeTargets, machine, renderMarkdown, type Report } from './report';
import type { ScenarioResult } from './result';
import { burstPhase, createContext, memoryPhase, mixedPhase, roundsPhase, type BenchContext } from './scenarios';
import { FULL, SMOKE } from './settings';
import { writeServiceConfig } from './fixtures';
import { KratosProcess } from './kratos-process';

const PHASES = { rounds: roundsPhase, mixed: mixedPhase, burst: burstPhase, memory: memoryPhase } as const;
type Phase = keyof typeof PHASES;

interface Options {
  smoke: boolean;
  profile: boolean;
  only: Phase[];
  out: string | undefined;
  serviceNodeFlags: string[];
}

function parseOptions(argv: string[]): Options {
  const options: Options = { smoke: false, profile: false, only: Object.keys(PHASES) as Phase[], out: undefined, serviceNodeFlags: [] };
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i];
    if (argument === '--smoke') options.smoke = true;
    else if (argument === '--profile') options.profile = true;
    else if (argument === '--out') options.out = argv[++i];
    else if (argument === '--service-node-flags') options.serviceNodeFlags = (argv[++i] ?? '').split(' ').filter(Boolean);
    else if (argument === '--only') options.only = (argv[++i] ?? '').split(',').map((name) => phase(name));
    else throw new Error(`unknown argument ${argument} (use --smoke, --profile, --only <phases>, --out <dir>, --service-node-flags "<flags>")`);
  }
  return options;
}

function phase(name: string): Phase {
  if (name in PHASES) return name as Phase;
  throw new Error(`unknown phase ${name}: one of ${Object.keys(PHASES).join(', ')}`);
}

const REPO = join(__dirname, '..', '..');

async function runPhases(ctx: BenchContext, only: Phase[]): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const name of only) {
    process.stderr.write(`bench: ${name}…\n`);
    results.push(...(await PHASES[name](ctx)));
  }
  return results;
}

/** The hit scenario once more, under --cpu-prof, summarised by self time. */
async function profileHit(ctx: BenchContext, out: string): Promise<void> {
  const profileDir = join(ctx.workdir, 'profile');
  const server = await startService(writeServiceConfig(ctx.workdir, 'profile', ctx.kratos, 'on'), [...ctx.serviceNodeFlags, '--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-interval=250']);
  const s = ctx.settings;
  let checks = 0;
  try {
    await ctx.kratos.setLatency(s.missKratosMs);
    const dataFile = join(ctx.workdir, 'profile.bin');
    writeFileSync(dataFile, await ctx.sessions.newBody());
    await warmUpH2load(server, dataFile, ctx.workdir, s.warmupRequests, s.connections, s.streamsPerConnection);
    // Long enough that start-up (module loading, config parsing) is a small part of the profile.
    const run = await measureH2load({ server, kratos: ctx.kratos }, dataFile, ctx.workdir, { clients: s.connections, streams: s.streamsPerConnection, durationSeconds: s.smoke ? 1 : 20 });
    if (run.problems.length > 0) throw new Error(run.problems.join('; '));
    checks = run.allowed + s.warmupRequests;
  } finally {
    await server.stop();
  }
  const file = readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error('no .cpuprofile written');
  const text = `# CPU profile of the \`hit\` path\n\n\`node --cpu-prof\` on the service during a saturating h2load run (every check a cache hit); start-up and warm-up included.\n\n${renderProfile(summarizeProfile(join(profileDir, file)), checks)}`;
  writeFileSync(join(out, 'profile-hit.md'), text);
  process.stdout.write(text);
}

function writeReport(out: string, report: Report): void {
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(out, 'latest.md'), renderMarkdown(report));
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const h2load = h2loadVersion();
  if (!h2load) {
    process.stderr.write(`bench: ${H2LOAD_INSTALL_HINT}\n`);
    return 2;
  }
  pinSelfToLoadCore();
  const settings = options.smoke ? SMOKE : FULL;
  const workdir = mkdtempSync(join(tmpdir(), 'kratos-ext-authz-bench-'));
  const out = options.out ?? (options.smoke ? workdir : join(REPO, 'bench', 'results'));
  mkdirSync(out, { recursive: true });
  const kratos = await KratosProcess.start();
  try {
    const ctx = createContext(settings, kratos, workdir, options.serviceNodeFlags);
    if (options.profile) {
      await profileHit(ctx, out);
      return 0;
    }
    const requestBodyBytes = (await ctx.sessions.newBody()).length - 5;
    const scenarios = await runPhases(ctx, options.only);
    const problems = scenarios.flatMap((scenario) => scenario.problems.map((problem) => `${scenario.name}: ${problem}`));
    const report: Report = {
      generatedAt: new Date().toISOString(),
      mode: options.smoke ? 'smoke' : 'full',
      machine: machine(h2load, canPin()),
      requestBodyBytes,
      serviceNodeFlags: options.serviceNodeFlags,
      settings,
      scenarios,
      targets: judgeTargets(scenarios, settings),
      problems,
    };
    writeReport(out, report);
    process.stdout.write(renderMarkdown(report));
    process.stderr.write(`bench: results in ${out}\n`);
    return problems.length > 0 ? 1 : 0;
  } finally {
    await kratos.stop();
    if (out !== workdir) rmSync(workdir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
