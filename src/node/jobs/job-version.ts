import { createHash } from 'node:crypto'
import type { JobVersion } from '../../roles/job/job-record.js'
import type { JobSpec } from '../../roles/job/job-spec.js'
import { versionInputs } from '../../roles/job/pod-of-spec.js'

/** The length of a version string: 12 hex digits of a SHA-256 (48 bits; a collision among one job's versions is out of reach). */
const versionDigits = 12

/** The versions of a spec (see `versionInputs`): the same spec always gives the same ones. */
export function versionOf (spec: JobSpec): Omit<JobVersion, 'submittedAtMs'> {
  const inputs = versionInputs(spec)
  const hash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, versionDigits)
  return { version: hash(inputs.version), podVersion: hash(inputs.podVersion), dataVersion: inputs.dataVersion === '' ? '' : hash(inputs.dataVersion), spec }
}
