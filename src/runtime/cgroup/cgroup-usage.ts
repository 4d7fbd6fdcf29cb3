/** What a cgroup has used, read from its control files. */
export interface CgroupUsage {
  /** CPU time of every process that ever ran in it. */
  readonly cpuUsageNs: number
  readonly memoryBytes: number
  /** Highest memory use seen; equal to `memoryBytes` where the kernel keeps no peak. */
  readonly memoryPeakBytes: number
  /** Processes the kernel's OOM killer killed in it. */
  readonly oomKills: number
  /** Times a fork failed because of the pids limit. */
  readonly pidsLimitHits: number
  readonly pids: number
}

/** The control files `usageFrom` reads, per version. */
export const usageFiles = {
  v1: ['cpuacct.usage', 'memory.usage_in_bytes', 'memory.max_usage_in_bytes', 'memory.oom_control', 'pids.current', 'pids.events'],
  v2: ['cpu.stat', 'memory.current', 'memory.peak', 'memory.events', 'pids.current', 'pids.events']
} as const

/**
 * Computes usage from the texts of the control files that could be read (`file name → text`;
 * a missing file counts as zero). Accepts the files of both versions at once, which is what a
 * hybrid host gives.
 */
export function usageFrom (files: ReadonlyMap<string, string>): CgroupUsage {
  const number = (file: string): number => parseCount(files.get(file) ?? '')
  const keyed = (file: string, key: string): number => keyedCounters(files.get(file) ?? '').get(key) ?? 0
  const cpuUsageNs = files.has('cpuacct.usage') ? number('cpuacct.usage') : keyed('cpu.stat', 'usage_usec') * 1000
  const memoryBytes = files.has('memory.current') ? number('memory.current') : number('memory.usage_in_bytes')
  const peak = files.has('memory.peak') ? number('memory.peak') : number('memory.max_usage_in_bytes')
  return {
    cpuUsageNs,
    memoryBytes,
    memoryPeakBytes: Math.max(peak, memoryBytes),
    oomKills: files.has('memory.events') ? keyed('memory.events', 'oom_kill') : keyed('memory.oom_control', 'oom_kill'),
    pidsLimitHits: keyed('pids.events', 'max'),
    pids: number('pids.current')
  }
}

/** Parses `key value` lines (`memory.events`, `cpu.stat`, `memory.oom_control`, `pids.events`). */
export function keyedCounters (text: string): Map<string, number> {
  const counters = new Map<string, number>()
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/)
    if (key !== undefined && key !== '' && value !== undefined) counters.set(key, parseCount(value))
  }
  return counters
}

/** A single count; `max` (no limit) and anything unreadable count as zero. */
function parseCount (text: string): number {
  const value = Number(text.trim())
  return Number.isFinite(value) ? value : 0
}
