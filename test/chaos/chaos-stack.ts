// The real stack (stack/local-stack.ts) with the fault proxy (test/e2e/delay-proxy.ts) between
// Kratos's public API and everyone else: the service's whoami calls and Envoy's Kratos routes.
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../stack/local-stack';
import { freePorts } from '../../stack/ports';
import { DelayProxy } from '../e2e/delay-proxy';

export interface ChaosStack {
  stack: LocalStack;
  proxy: DelayProxy;
  stop(): Promise<void>;
}

export async function startChaosStack(
  options: Omit<LocalStackOptions, 'kratosPublicPortForClients'>,
): Promise<ChaosStack> {
  const [proxyPort, kratosPort] = await freePorts(2);
  if (proxyPort === undefined || kratosPort === undefined) throw new Error('no free ports');
  const proxy = await DelayProxy.start(proxyPort, kratosPort);
  try {
    const stack = await startLocalStack({
      ...options,
      ports: { ...options.ports, kratosPublic: kratosPort },
      kratosPublicPortForClients: proxyPort,
    });
    return {
      stack,
      proxy,
      stop: async () => {
        await stack.stop();
        await proxy.stop();
      },
    };
  } catch (error) {
    await proxy.stop();
    throw error;
  }
}
