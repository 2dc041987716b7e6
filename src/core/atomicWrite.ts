// Files the extension and `rpp` share (the cache's entries and indexes, the measured resource use) are
// written through a temp file and a rename, so that a reader in another process never sees half a file.
import fs from 'node:fs/promises';
import path from 'node:path';

/** `shared`: a file for the user's other tools (the umask decides), not the private cache (0600 in 0700 folders). */
export async function writeFileAtomic(file: string, content: string, options: { shared?: boolean } = {}): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: options.shared ? 0o777 : 0o700 });
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await fs.writeFile(temp, content, { mode: options.shared ? 0o666 : 0o600 });
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}
