import test from 'ava'
import { SnapshotData } from '../../src/node/snapshot-data.js'
import { collectGarbage } from '../helpers/collect-garbage.js'

/** A disk of snapshot files that the test answers by hand. */
function disk (): { reads: number[], answer: (data: Uint8Array | Error) => void, read: (index: number) => Promise<Uint8Array> } {
  const pending: Array<(data: Uint8Array | Error) => void> = []
  const reads: number[] = []
  return {
    reads,
    answer: data => { pending.shift()?.(data) },
    read: async index => {
      reads.push(index)
      const data = await new Promise<Uint8Array | Error>(resolve => { pending.push(resolve) })
      if (data instanceof Error) throw data
      return data
    }
  }
}

const settle = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

test('data is answered while something holds it, read back once it was collected, and held until handed out', async t => {
  const files = disk()
  const data = new SnapshotData(files.read, () => {})
  let held: Uint8Array | undefined = new Uint8Array(1000).fill(1)
  data.remember(7, held)
  t.is(data.get(7), held)
  t.deepEqual(files.reads, [])
  held = undefined
  await collectGarbage(1)
  t.is(data.get(7), undefined, 'collected once nothing held it')
  t.is(data.get(7), undefined, 'asked again while reading')
  t.deepEqual(files.reads, [7], 'read once')
  files.answer(new Uint8Array(1000).fill(2))
  await settle()
  // Fetched data survives a collection until it is handed out.
  await collectGarbage(1)
  const fetched = data.get(7)
  t.is(fetched?.[0], 2)
  t.is(data.get(7), fetched, 'the same bytes while the caller holds them')
})

test('a read of a snapshot that a newer one replaced meanwhile is dropped', async t => {
  const files = disk()
  const data = new SnapshotData(files.read, () => {})
  t.is(data.get(3), undefined)
  const newer = new Uint8Array(10).fill(9)
  data.remember(5, newer)
  files.answer(new Uint8Array(10).fill(3))
  await settle()
  t.is(data.get(3), undefined, 'the old one is read again if still asked for')
  t.is(data.get(5), newer)
})

test('a failed read is reported once per snapshot, and asking again reads again', async t => {
  const files = disk()
  const errors: Array<[number, string]> = []
  const data = new SnapshotData(files.read, (index, error) => { errors.push([index, (error as Error).message]) })
  t.is(data.get(4), undefined)
  files.answer(new Error('gone'))
  await settle()
  t.is(data.get(4), undefined)
  files.answer(new Error('still gone'))
  await settle()
  t.deepEqual(errors, [[4, 'gone']])
  t.deepEqual(files.reads, [4, 4])
  t.is(data.get(4), undefined)
  files.answer(new Uint8Array(1).fill(4))
  await settle()
  t.is(data.get(4)?.[0], 4)
})

test('a read that a newer snapshot made useless is not reported when it fails, and the storage can wait for reads to settle', async t => {
  const files = disk()
  const errors: number[] = []
  const data = new SnapshotData(files.read, index => { errors.push(index) })
  t.is(data.get(3), undefined)
  // The snapshot at 5 replaces the one at 3, whose file goes: the read of 3 fails.
  data.remember(5, new Uint8Array(1))
  let settled = false
  void data.settled().then(() => { settled = true })
  await settle()
  t.false(settled, 'a read is under way')
  files.answer(new Error('ENOENT'))
  await settle()
  t.true(settled)
  t.deepEqual(errors, [])
})
