import { readdir, readFile } from 'node:fs/promises'

/**
 * The processes whose environment has every `variable=value` of `wanted`, found by reading
 * `/proc/<pid>/environ` (only processes this user may read). How a host without cgroups finds a
 * container's processes, or one task's.
 */
export async function containerPids (wanted: Readonly<Record<string, string>>): Promise<number[]> {
  const entries = Object.entries(wanted).map(([variable, value]) => `${variable}=${value}`)
  const pids: number[] = []
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const environ = await readFile(`/proc/${name}/environ`, 'latin1').catch(() => '')
    const variables = environ.split('\0')
    if (entries.every(entry => variables.includes(entry))) pids.push(Number(name))
  }
  return pids.sort((a, b) => a - b)
}
