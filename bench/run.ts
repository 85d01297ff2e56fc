/**
 * `make bench` / `make bench-smoke`: every scenario back to back, then the table.
 *
 *   node dist/bench/run.js             full run → bench/results/latest.{json,md}
 *   node dist/bench/run.js --smoke     ~1 s per scenario, tiny counts, targets not judged;
 *                                      exits non-zero only if the harness itself broke
 *   node dist/bench/run.js --profile [hit|miss|envoy-hit]
 *                                      that scenario under node --cpu-prof → profile-<scenario>.md
 *   --only rounds,mixed,burst,memory,tracing,envoy,peer   a subset of the phases (envoy: through the real
 *                                      Envoy; peer: against Heimdall through the same Envoy)
 *   --out <dir>                        where results go (smoke default: a temporary folder)
 *   --service-node-flags "<flags>"     node flags for the service processes, e.g. "--max-semi-space-size=16"
 *                                      (not for `memory`, which always runs the service as shipped)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envoyProblems } from './envoy-report';
import { envoyPhase } from './envoy-scenarios';
import { peerProblems } from './peer-report';
import { peerPhase } from './peer-scenarios';
import { H2LOAD_INSTALL_HINT, h2loadVersion } from './h2load';
import { measureJitter } from './jitter';
import { canPin, pinSelfToLoadCore } from './processes';
import { PROFILED, profileScenario, type Profiled } from './profile-run';
import { currentLoad, judgeTargets, machine, renderMarkdown, revision, type Report } from './report';
import type { ScenarioResult } from './result';
import { burstPhase, createContext, memoryPhase, mixedPhase, roundsPhase, type BenchContext } from './scenarios';
import { FULL, SMOKE } from './settings';
import { tracingPhase } from './tracing-scenario';
import { KratosProcess } from './kratos-process';

const PHASES = {
  rounds: roundsPhase,
  mixed: mixedPhase,
  burst: burstPhase,
  memory: memoryPhase,
  tracing: tracingPhase,
} as const;
/** The direct gRPC phases, then `envoy` and `peer`, which report in sections of their own. */
type Phase = keyof typeof PHASES | 'envoy' | 'peer';
const PHASE_NAMES: readonly Phase[] = [...(Object.keys(PHASES) as Array<keyof typeof PHASES>), 'envoy', 'peer'];

/** None: the bin, the image and the Deployment all start the service without Node flags (it sizes its own heap). */
const SHIPPED_NODE_FLAGS: string[] = [];

interface Options {
  smoke: boolean;
  profile: Profiled | undefined;
  only: Phase[];
  out: string | undefined;
  serviceNodeFlags: string[];
}

function parseOptions(argv: string[]): Options {
  const options: Options = {
    smoke: false,
    profile: undefined,
    only: [...PHASE_NAMES],
    out: undefined,
    serviceNodeFlags: SHIPPED_NODE_FLAGS,
  };
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i];
    if (argument === '--smoke') options.smoke = true;
    else if (argument === '--profile') {
      // The scenario name is optional: `--profile` alone profiles hit.
      const named = PROFILED.find((name) => name === argv[i + 1]);
      options.profile = named ?? 'hit';
      if (named) i++;
    } else if (argument === '--out') options.out = argv[++i];
    else if (argument === '--service-node-flags')
      options.serviceNodeFlags = (argv[++i] ?? '').split(' ').filter(Boolean);
    else if (argument === '--only') options.only = (argv[++i] ?? '').split(',').map((name) => phase(name));
    else
      throw new Error(
        `unknown argument ${argument} (use --smoke, --profile, --only <phases>, --out <dir>, --service-node-flags "<flags>")`,
      );
  }
  return options;
}

function phase(name: string): Phase {
  const known = PHASE_NAMES.find((each) => each === name);
  if (known) return known;
  throw new Error(`unknown phase ${name}: one of ${PHASE_NAMES.join(', ')}`);
}

const REPO = join(__dirname, '..', '..');

async function runPhases(ctx: BenchContext, only: Phase[]): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const name of only) {
    if (name === 'envoy' || name === 'peer') continue;
    process.stderr.write(`bench: ${name}…\n`);
    results.push(...(await PHASES[name](ctx)));
  }
  return results;
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
      await profileScenario(ctx, out, options.profile);
      return 0;
    }
    const loadAtStart = currentLoad();
    const timerGaps = await measureJitter(options.smoke ? 1 : 5);
    const requestBodyBytes = (await ctx.sessions.newBody()).length - 5;
    const scenarios = await runPhases(ctx, options.only);
    const envoy = options.only.includes('envoy') ? await envoyPhase(ctx) : undefined;
    if (options.only.includes('peer')) process.stderr.write('bench: peer (against Heimdall)…\n');
    const peer = options.only.includes('peer') ? await peerPhase(ctx) : undefined;
    const problems = [
      ...scenarios.flatMap((scenario) => scenario.problems.map((problem) => `${scenario.name}: ${problem}`)),
      ...envoyProblems(envoy),
      ...peerProblems(peer),
    ];
    const report: Report = {
      generatedAt: new Date().toISOString(),
      revision: revision(REPO),
      mode: options.smoke ? 'smoke' : 'full',
      machine: machine(h2load, canPin(), loadAtStart, timerGaps),
      requestBodyBytes,
      serviceNodeFlags: options.serviceNodeFlags,
      settings,
      scenarios,
      envoy,
      peer,
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
