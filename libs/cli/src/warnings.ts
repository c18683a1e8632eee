/**
 * grpc-js sets the TLS server name to the target host even when it is an IP literal
 * (`--controller 10.0.0.5:7443`), and Node then prints DEP0123 on stderr, which breaks the
 * one-line error contract of the fleetkey CLIs. The IP is still checked against the
 * certificate's IP SANs; only this one warning is dropped, every other warning is printed.
 */

/** Installs the filter once per process (idempotent). */
export function dropIpServerNameWarning(target: NodeJS.Process = process): void {
  const marked = target as NodeJS.Process & { __fleetkeyDep0123?: true };
  if (marked.__fleetkeyDep0123) return;
  marked.__fleetkeyDep0123 = true;
  const emitWarning = target.emitWarning.bind(target);
  target.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const [typeOrOptions, code] = rest;
    const warningCode = typeof typeOrOptions === 'object' && typeOrOptions !== null ? (typeOrOptions as { code?: unknown }).code : code;
    if (warningCode === 'DEP0123') return;
    (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
  }) as typeof target.emitWarning;
}
