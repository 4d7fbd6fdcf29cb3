import Table from 'cli-table3'

/** Where a command writes. */
export interface Output {
  write(text: string): unknown
}

/** Prints a value as one JSON document (the `--json` form of every command). */
export function writeJson (out: Output, value: unknown): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`)
}

/**
 * Prints rows as a borderless table with aligned columns, the way kubectl and nomad print lists.
 * `headers` may be empty for tables whose columns explain themselves.
 */
export function writeTable (out: Output, headers: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const table = new Table({
    head: [...headers],
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  '
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 }
  })
  for (const row of rows) table.push([...row])
  out.write(`${table.toString().split('\n').map(line => line.trimEnd()).join('\n')}\n`)
}

const byteUnits = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const

/** `1536` → `1.5 KiB`: binary units, as memory and disk sizes are given in job specs. */
export function formatBytes (bytes: number): string {
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < byteUnits.length - 1) {
    value /= 1024
    unit++
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1
  return `${value.toFixed(digits)} ${byteUnits[unit]}`
}
