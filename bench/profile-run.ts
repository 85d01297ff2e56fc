/** `--profile [hit|miss]`: one scenario again, the service under node --cpu-prof, summarised by self time. */
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeServiceConfig } from './fixtures';
import { measureH2load, measureRaw, warmUpH2load, type Measured } from './measure';
import { startService, type ServerProcess } from './processes';
import { renderProfile, summarizeProfile } from './profile';
import type { BenchContext } from './scenarios';
import { driveEnvoyHit } from './envoy-scenarios';

export type Profiled = 'hit' | 'miss' | 'envoy-hit';
export const PROFILED: readonly Profiled[] = ['hit', 'miss', 'envoy-hit'];

const DESCRIPTION: Record<Profiled, string> = {
  hit: 'a saturating h2load run, every check a cache hit',
  miss: 'a saturating raw-client run over 1000 cookies with the cache off, every check one whoami (emulator 1 ms)',
  'envoy-hit':
    'the saturating envoy-hit load: h2load → the real Envoy → the service, every check a cache hit, half cookies and half tokens',
};

/** Runs the profiled load; returns every check the service answered, warm-up included. */
async function drive(ctx: BenchContext, server: ServerProcess, which: Profiled, seconds: number): Promise<number> {
  if (which === 'envoy-hit') return driveEnvoyHit(ctx, server, seconds);
  const run = await driveDirect(ctx, server, which, seconds);
  if (run.problems.length > 0) throw new Error(run.problems.join('; '));
  return run.allowed + (which === 'hit' ? ctx.settings.warmupRequests : 1_000);
}

async function driveDirect(
  ctx: BenchContext,
  server: ServerProcess,
  which: 'hit' | 'miss',
  seconds: number,
): Promise<Measured> {
  const s = ctx.settings;
  const bracket = { server, kratos: ctx.kratos };
  const plan = { connections: s.connections, streamsPerConnection: s.streamsPerConnection };
  if (which === 'hit') {
    const dataFile = join(ctx.workdir, 'profile.bin');
    writeFileSync(dataFile, await ctx.sessions.newBody());
    await warmUpH2load(server, dataFile, ctx.workdir, s.warmupRequests, s.connections, s.streamsPerConnection);
    return measureH2load(bracket, dataFile, ctx.workdir, {
      clients: s.connections,
      streams: s.streamsPerConnection,
      durationSeconds: seconds,
    });
  }
  const bodies = await ctx.sessions.newBodies(1_000);
  const order = Uint32Array.from(bodies.keys());
  await measureRaw(bracket, { ...plan, bodies, order });
  return measureRaw(bracket, { ...plan, bodies, order, durationSeconds: seconds });
}

export async function profileScenario(ctx: BenchContext, out: string, which: Profiled): Promise<void> {
  const profileDir = join(ctx.workdir, 'profile');
  // The default 1 ms sampling: finer sampling slowed the miss path by half and skewed its shares.
  const flags = [...ctx.serviceNodeFlags, '--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  const server = await startService(
    writeServiceConfig(ctx.workdir, 'profile', ctx.kratos, which === 'miss' ? 'off' : 'on'),
    flags,
  );
  let checks: number;
  try {
    await ctx.kratos.setLatency(ctx.settings.missKratosMs);
    // Long enough that start-up (module loading, config parsing) is a small part of the profile.
    checks = await drive(ctx, server, which, ctx.settings.smoke ? 1 : 20);
  } finally {
    await server.stop();
  }
  // One profile per thread: the service's worker did the work, the main thread and the
  // heap-sizing worker only started it, so the largest file is the service's.
  const file = readdirSync(profileDir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .sort((a, b) => statSync(join(profileDir, b)).size - statSync(join(profileDir, a)).size)[0];
  if (!file) throw new Error('no .cpuprofile written');
  const text = [
    `# CPU profile of the \`${which}\` path`,
    '',
    `\`node --cpu-prof\` (1 ms sampling) on the service during ${DESCRIPTION[which]}, after a warm-up; ${checks} checks in all. Start-up (module loading, config) is in the profile too, so "per check" slightly overstates.`,
    '',
    renderProfile(summarizeProfile(join(profileDir, file)), checks),
  ].join('\n');
  writeFileSync(join(out, `profile-${which}.md`), text);
  process.stdout.write(text);
}
