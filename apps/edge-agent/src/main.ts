/** Process entry point of edge-agent: parse argv, run, and turn failures into one clear line and an exit code. */
import { runCli } from './cli.js';

// grpc-js sets the TLS server name to the target host even when it is an IP literal
// (`--controller 10.0.0.5:7443`), and node then prints DEP0123 on stderr, which would break the
// one-line error contract. The IP is still checked against the certificate's IP SANs; only this
// one warning is dropped.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const [typeOrOptions, code] = rest;
  const warningCode = typeof typeOrOptions === 'object' && typeOrOptions !== null ? (typeOrOptions as { code?: unknown }).code : code;
  if (warningCode === 'DEP0123') return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

process.exitCode = await runCli(process.argv.slice(2));
