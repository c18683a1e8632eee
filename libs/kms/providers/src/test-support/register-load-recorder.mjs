/**
 * Test support: `node --import ./register-load-recorder.mjs` registers load-recorder-hooks.mjs,
 * logging to the file named by FLEETKEY_LOAD_LOG.
 *
 * Trust boundary: test-only.
 */
import { register } from 'node:module';

register('./load-recorder-hooks.mjs', import.meta.url, { data: { logFile: process.env.FLEETKEY_LOAD_LOG } });
