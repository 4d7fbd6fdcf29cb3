import type { ContainerId, JobId, PodId, TaskId } from '../../lib/ids.js'
import { galaxy } from '../../proto/gen/agent.js'
import { placementNamespaces, type Placement, type PlacementVolume } from '../../roles/agent/placement.js'
import { fromPodMessage, toPodMessage } from '../appworker/pull-codec.js'
import { DecodeError } from '../decode-error.js'

/** The bytes of a placement, as stored under its key (proto/galaxy/agent.proto). */
export function encodePlacement (placement: Placement): Uint8Array {
  return galaxy.Placement.encode({
    containerId: placement.container,
    jobId: placement.job,
    podId: placement.pod,
    cpuBurst: placement.cpuBurst,
    tasks: placement.tasks.map(task => ({ name: task.name, cpuMillicores: task.cpuMillicores, memoryBytes: task.memoryBytes, pidsMax: task.pidsMax ?? 0 })),
    diskBytes: placement.diskBytes,
    namespaces: [...placement.namespaces],
    volumes: placement.volumes.map(volume => ({
      name: volume.name,
      kind: volume.kind,
      sizeBytes: volume.kind === 'tmpfs' ? volume.sizeBytes : 0,
      hostPath: volume.kind === 'host' ? volume.hostPath : '',
      readOnly: volume.kind === 'host' ? volume.readOnly : false
    })),
    ports: placement.ports.map(port => ({ name: port.name, port: port.port })),
    description: toPodMessage(placement.description)
  }).finish()
}

/** A placement from its bytes; `DecodeError` for anything else. Its content is checked by `checkPlacement`. */
export function decodePlacement (bytes: Uint8Array): Placement {
  let message: galaxy.Placement
  try {
    message = galaxy.Placement.decode(bytes)
  } catch (error) {
    throw new DecodeError(`not a placement: ${(error as Error).message}`, { cause: error })
  }
  if (message.description === null || message.description === undefined) throw new DecodeError('a placement without a pod description')
  const namespaces = message.namespaces.map(kind => {
    if (!(placementNamespaces as readonly string[]).includes(kind)) throw new DecodeError(`a placement with an unknown namespace "${kind}"`)
    return kind as Placement['namespaces'][number]
  })
  let description: Placement['description']
  try {
    description = fromPodMessage(message.description)
  } catch (error) {
    throw new DecodeError(`a placement with a bad pod description: ${(error as Error).message}`, { cause: error })
  }
  return {
    container: message.containerId as ContainerId,
    job: message.jobId as JobId,
    pod: message.podId as PodId,
    cpuBurst: message.cpuBurst,
    tasks: message.tasks.map(task => ({ name: (task.name ?? '') as TaskId, cpuMillicores: task.cpuMillicores ?? 0, memoryBytes: Number(task.memoryBytes ?? 0), pidsMax: (task.pidsMax ?? 0) === 0 ? undefined : task.pidsMax ?? undefined })),
    diskBytes: Number(message.diskBytes),
    namespaces,
    volumes: message.volumes.map(fromVolumeMessage),
    ports: message.ports.map(port => ({ name: port.name ?? '', port: port.port ?? 0 })),
    description
  }
}

function fromVolumeMessage (volume: galaxy.PlacementVolume.$Properties): PlacementVolume {
  const name = volume.name ?? ''
  switch (volume.kind) {
    case 'disk': return { name, kind: 'disk' }
    case 'tmpfs': return { name, kind: 'tmpfs', sizeBytes: Number(volume.sizeBytes ?? 0) }
    case 'host': return { name, kind: 'host', hostPath: volume.hostPath ?? '', readOnly: volume.readOnly === true }
    default: throw new DecodeError(`volume ${name}: unknown kind "${volume.kind ?? ''}"`)
  }
}
