/** Process entry point of fleetctl: parse argv, run, and turn failures into one clear line and an exit code. */
import { runCli } from './cli.js';
import { processIo } from './context.js';

// A reader that stops early (`fleetctl tokens create ... | head -1`) closes the pipe: that is
// not an error of fleetctl's, and must not end in a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

// grpc-js sets the TLS server name to the target host even when it is an IP literal
// (`--controller 10.0.0.5:8443`), and node then prints DEP0123 on stderr, which would break the
// one-line error contract. The IP is still checked against the certificate's IP SANs; only
// this one warning is dropped, every other warning is printed as usual.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const [typeOrOptions, code] = rest;
  const warningCode = typeof typeOrOptions === 'object' && typeOrOptions !== null ? (typeOrOptions as { code?: unknown }).code : code;
  if (warningCode === 'DEP0123') return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

process.exitCode = await runCli(process.argv.slice(2), processIo());
