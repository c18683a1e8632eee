/** `edge-agent provision`: enrollment, the checks of its answer, and the staged data directory. */
export * from './errors.js';
export * from './provision.js';
export { checkEnrollmentAnswer, type CheckEnrollmentParams, type CheckedEnrollment } from './enroll-answer.js';
export { inspectDataDir, type DataDirKind } from './data-dir.js';
