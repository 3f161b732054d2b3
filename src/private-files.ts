/**
 * DATA_DIR holds key hashes, the JWT secret and every database: it is for the server's own user
 * only. Directories are 0700 and files 0600 whatever the umask: modes are set with chmod after
 * creation (a umask can only remove bits, never make a mode exact), and files duckgate finds
 * looser than that, e.g. written by an older version, are tightened at start.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` as 0700 when missing. An existing directory keeps its mode (it may be shared on
 * purpose, e.g. with a backup group); the answer says whether others can enter it.
 */
export function ensurePrivateDir(dir: string): { openToOthers: boolean } {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    chmodSync(dir, PRIVATE_DIR_MODE);
  }
  return { openToOthers: (statSync(dir).mode & 0o077) !== 0 };
}

/** Creates an empty 0600 file when missing (for a library that keeps the mode of what it opens). */
export function ensurePrivateFile(file: string): void {
  try {
    closeSync(openSync(file, 'wx', PRIVATE_FILE_MODE));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  tightenFile(file);
}

/** Makes an existing file 0600 if it is readable or writable by anyone else; a missing one is fine. */
export function tightenFile(file: string): void {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if ((mode & 0o077) !== 0) chmodSync(file, PRIVATE_FILE_MODE);
}

/**
 * Some files are created by libraries at moments duckgate does not choose: DuckDB writes its WAL
 * at the first change after each checkpoint and deletes it at the checkpoint, so no chmod can
 * follow it. Their mode comes from the process umask, so the server sets its own (077) rather than
 * inherit whatever the shell had. (Worker threads cannot change the umask; the server runs on the
 * main thread.)
 */
export function usePrivateUmask(): void {
  if (isMainThread) process.umask(0o077);
}
