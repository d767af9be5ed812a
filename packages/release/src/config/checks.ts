import type { RelConfig } from './schema.js';
import { shown } from './values.js';

// What the schema cannot say of one key alone: rules across keys, checked on what the schema read (also when it
// found problems: every problem of a file is reported at once). Each returns its problems, key first.

/** `registry.username` and `registry.password` go together. */
export function registryCredentials(config: RelConfig): string[] {
  const { username, password } = config.registry;
  if ((username === undefined) === (password === undefined)) return [];
  return [
    `registry: username and password go together (got only ${username === undefined ? 'password' : 'username'}); omit both to use the Docker config.json`,
  ];
}

/** The six ports of the two environments are distinct. */
export function distinctPorts(config: RelConfig): string[] {
  const problems: string[] = [];
  const seen = new Map<number, string>();
  for (const [env, ports] of Object.entries(config.environments)) {
    for (const [name, port] of Object.entries(ports)) {
      if (!port) continue; // not a port: reported already
      const other = seen.get(port);
      if (other) problems.push(`environments.${env}.${name}: port ${port} is already used by ${other}`);
      else seen.set(port, `environments.${env}.${name}`);
    }
  }
  return problems;
}

/** A monitor check ends before the next one starts; `failures` counts within its window. */
export function monitorPolicy(config: RelConfig, file: unknown): string[] {
  const problems: string[] = [];
  const { monitor } = config;
  if (monitor.timeoutMs > monitor.intervalMs) {
    const written = (file as { monitor?: { timeout?: unknown } } | null)?.monitor?.timeout ?? '5s';
    problems.push(
      `monitor.timeout: ${shown(written)} is longer than monitor.interval (expected a check to end before the next one starts)`,
    );
  }
  if (monitor.failures && monitor.failures.count > monitor.failures.of) {
    const { count, of } = monitor.failures;
    problems.push(`monitor.failures: count ${count} is more than of ${of} (expected count <= of)`);
  }
  return problems;
}

/** Every check across keys, in the order of the file. */
export function crossKeyProblems(config: RelConfig, file: unknown): string[] {
  return [...registryCredentials(config), ...distinctPorts(config), ...monitorPolicy(config, file)];
}
