// A FAKE nvidia-smi for tests: these machines have no NVIDIA GPU, and a GPU cannot be made to exist here.
// It answers the two queries the core makes with the CSV the test wrote, as a real nvidia-smi would.
import fs from 'node:fs/promises';
import path from 'node:path';

/** Writes a fake nvidia-smi into `folder`: it answers the two queries with gpus.csv and apps.csv beside it. */
export async function writeFakeNvidiaSmi(folder: string, gpus: string, apps: string): Promise<void> {
  await fs.mkdir(folder, { recursive: true });
  await fs.writeFile(path.join(folder, 'gpus.csv'), gpus);
  await fs.writeFile(path.join(folder, 'apps.csv'), apps);
  const script = `#!/bin/sh
# FAKE nvidia-smi for tests (no GPU on this machine): prints the figures the test wrote.
here=$(dirname "$0")
case "$1" in
  --query-gpu=*) cat "$here/gpus.csv" ;;
  --query-compute-apps=*) cat "$here/apps.csv" ;;
  *) echo "fake nvidia-smi: unexpected arguments: $*" >&2; exit 2 ;;
esac
`;
  await fs.writeFile(path.join(folder, 'nvidia-smi'), script, { mode: 0o755 });
}
