/**
 * Backups in a local directory (BACKUP_DIR): `<id>/database.duckdb` (a PostgreSQL dump:
 * `<id>/dump.ndjson.gz`) and `<id>/manifest.json`, 0600 in 0700 directories like the rest of DATA_DIR. A backup is assembled as `.partial-<id>` and
 * renamed into place, so a crash mid-way never leaves a listed backup without its file.
 */
import { constants } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, statfs, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { errors } from '../../errors.js';
import { BACKUP_ID, backupFileName, type BackupManifest, type BackupStorage } from './storage.js';

const MANIFEST = 'manifest.json';
const PARTIAL = '.partial-';
const STAGING = '.staging';

export class LocalBackupStorage implements BackupStorage {
  readonly kind = 'local';

  constructor(readonly location: string) {}

  private dir(id: string): string {
    if (!BACKUP_ID.test(id)) throw errors.badRequest('invalid_backup_id', `Invalid backup id '${id}'`);
    return join(this.location, id);
  }

  private async ensureDir(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
  }

  stagingDir(): string {
    return join(this.location, STAGING);
  }

  async put(manifest: BackupManifest, file: string): Promise<void> {
    const final = this.dir(manifest.id);
    const partial = join(this.location, `${PARTIAL}${manifest.id}`);
    await this.ensureDir(partial);
    await rename(file, join(partial, backupFileName(manifest.method)));
    await writeFile(join(partial, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    await rename(partial, final);
  }

  async list(): Promise<BackupManifest[]> {
    let names: string[];
    try {
      names = await readdir(this.location);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const manifests = await Promise.all(names.filter((name) => BACKUP_ID.test(name)).map((id) => this.get(id)));
    return manifests.filter((m): m is BackupManifest => m !== undefined)
      .sort((a, b) => (a.createdAt === b.createdAt ? b.id.localeCompare(a.id) : b.createdAt.localeCompare(a.createdAt)));
  }

  async get(id: string): Promise<BackupManifest | undefined> {
    if (!BACKUP_ID.test(id)) return undefined;
    try {
      const manifest = JSON.parse(await readFile(join(this.dir(id), MANIFEST), 'utf8')) as BackupManifest;
      return manifest.id === id ? manifest : undefined;
    } catch (error) {
      // A missing or unreadable manifest is not a backup (a half-deleted one, or not ours).
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || error instanceof SyntaxError) return undefined;
      throw error;
    }
  }

  async fetch(id: string, destination: string): Promise<void> {
    const manifest = await this.get(id);
    if (manifest === undefined) throw errors.notFound(`Backup '${id}' not found`);
    await copyFile(join(this.dir(id), backupFileName(manifest.method)), destination, constants.COPYFILE_FICLONE);
  }

  async remove(id: string): Promise<void> {
    // Renamed out of the listing first, so a crash mid-delete never leaves a listed, broken backup.
    const doomed = join(this.location, `${PARTIAL}${id}-removing`);
    await rename(this.dir(id), doomed);
    await rm(doomed, { recursive: true, force: true });
  }

  async freeBytes(): Promise<number> {
    await this.ensureDir(this.location);
    const stats = await statfs(this.location);
    return stats.bavail * stats.bsize;
  }

  /** Staging and partial leftovers of a crash; called once at start. */
  async sweep(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.location);
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith(PARTIAL) || name === STAGING) await rm(join(this.location, name), { recursive: true, force: true });
    }
  }
}
