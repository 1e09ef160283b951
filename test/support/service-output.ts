/**
 * Passes a service's output line to stderr. The stacks in these tests run at LOG_LEVEL=warn, so
 * this is only warnings and errors: when a test fails, the services' side of it is in the output.
 */
export const serviceLineToStderr = (line: string): void => void process.stderr.write(`${line}\n`);
