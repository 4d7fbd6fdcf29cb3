import { readdir, readFile } from 'node:fs/promises'

/**
 * The processes whose environment has `variable=value`, found by reading `/proc/<pid>/environ`
 * (only processes this user may read). How a host without cgroups finds a container's processes.
 */
export async function containerPids (variable: string, value: string): Promise<number[]> {
  const wanted = `${variable}=${value}`
  const pids: number[] = []
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const environ = await readFile(`/proc/${name}/environ`, 'latin1').catch(() => '')
    if (environ.split('\0').includes(wanted)) pids.push(Number(name))
  }
  return pids.sort((a, b) => a - b)
}
