/**
 * Whether an npm package is installed, answered by resolving it (never loading it), so detection
 * can say "AWS_REGION is set but @aws-sdk/client-kms is not installed" without pulling an SDK in.
 *
 * Trust boundary: package names come from the registration table, not from users.
 */
import { createRequire } from 'node:module';

const requireFromHere = createRequire(import.meta.url);

export type PackageProbe = (name: string) => boolean;

/** Resolves `name` from this package; a package whose `exports` hide the main entry still counts as installed. */
export const isPackageInstalled: PackageProbe = (name) => {
  try {
    requireFromHere.resolve(name);
    return true;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // The package is there but has no CommonJS / main entry to resolve: installed.
    return code === 'ERR_PACKAGE_PATH_NOT_EXPORTED';
  }
};
