/**
 * Backups and restore: the archive format, the backup power (CreateBackup, VerifyBackup), the
 * secondary KMS settings, and `fleet-controller restore`.
 *
 * Trust boundary: see each module; archives are attacker bytes until their chunks' tags and
 * signature check out.
 */
export { ARCHIVE_FORMAT_VERSION, CHUNK_PLAINTEXT_BYTES, ENTRY_NAMES, MAX_ARCHIVE_BYTES, readArchive, type BackupHeader, type EntryName } from './archive-format.js';
export { createBackupPower, type BackupPowerDeps } from './backup-power.js';
export { createArchive, type ArchiveDescription, type ArchivePiece, type ArchiveSources } from './create-archive.js';
export { BackupArchiveInvalid, BackupDecryptionFailed, BackupInProgress, BackupNotConfigured, BackupSignatureInvalid } from './errors.js';
export { openArchive, type ArchiveKeys, type EntrySink, type OpenedArchive } from './open-archive.js';
export { registerRestoreCommand } from './restore-command.js';
export { KMS_SIDES, restoreController, type KmsSide, type RestoreOptions, type RestoreResult } from './restore.js';
export { SECONDARY_KMS_KEY_ID_ENV, secondaryKmsFromEnv, type SecondaryKmsSettings } from './secondary-kms.js';
export { verifyArchive, type ArchiveVerification } from './verify-archive.js';
