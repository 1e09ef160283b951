/**
 * A command run through another, such as `taskset -c 0,1 redis-server …`: benchmarks pin a
 * service to chosen cores this way. Without a prefix the command runs as given.
 */
export function withLaunchPrefix(prefix: readonly string[] | undefined, command: string, args: readonly string[]): { command: string; args: string[] } {
  const [launcher, ...launcherArgs] = prefix ?? [];
  return launcher === undefined ? { command, args: [...args] } : { command: launcher, args: [...launcherArgs, command, ...args] };
}
