/** One line of `/proc/self/mountinfo`, the parts galaxy reads. */
export interface MountEntry {
  readonly mountPoint: string
  readonly fsType: string
  readonly source: string
  /** Per-mount options (`rw`, `noexec`, ...). */
  readonly mountOptions: string[]
  /** Filesystem options; for cgroup v1 these name the hierarchy's controllers. */
  readonly superOptions: string[]
}

/**
 * Parses `/proc/self/mountinfo` (proc(5)): `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS
 * [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS`. Lines that do not fit are skipped.
 */
export function parseMountinfo (text: string): MountEntry[] {
  const entries: MountEntry[] = []
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ')
    const separator = fields.indexOf('-')
    if (separator < 6 || fields.length < separator + 4) continue
    entries.push({
      mountPoint: unescapeOctal(fields[4] as string),
      mountOptions: (fields[5] as string).split(','),
      fsType: fields[separator + 1] as string,
      source: unescapeOctal(fields[separator + 2] as string),
      superOptions: (fields[separator + 3] as string).split(',')
    })
  }
  return entries
}

/** The kernel writes space, tab, newline and backslash in paths as `\040`-style octal escapes. */
function unescapeOctal (text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}
