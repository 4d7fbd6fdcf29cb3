import test from 'ava'
import { ByteArena } from '../../src/node/byte-arena.js'

test('a copy has the same bytes and shares no memory with the original', t => {
  const arena = new ByteArena(64, 16)
  const original = new Uint8Array([1, 2, 3, 4])
  const copy = arena.copy(original)
  original.fill(9)
  t.deepEqual([...copy], [1, 2, 3, 4])
  t.not(copy.buffer, original.buffer)
})

test('small copies share a chunk until it is full, then a new chunk begins; large ones get their own buffer', t => {
  const arena = new ByteArena(64, 16)
  const pieces = Array.from({ length: 5 }, (_, i) => arena.copy(new Uint8Array(16).fill(i)))
  // Four pieces of 16 bytes fill the 64-byte chunk; the fifth starts the next one.
  t.true(pieces.slice(1, 4).every(piece => piece.buffer === pieces[0]?.buffer))
  t.not(pieces[4]?.buffer, pieces[0]?.buffer)
  t.deepEqual(pieces.map(piece => [piece.byteOffset, piece.length]), [[0, 16], [16, 16], [32, 16], [48, 16], [0, 16]])
  pieces.forEach((piece, i) => { t.true(piece.every(byte => byte === i)) })
  const large = arena.copy(new Uint8Array(17).fill(7))
  t.is(large.buffer.byteLength, 17)
  t.is(large.byteOffset, 0)
  // An empty string costs nothing and the chunk goes on filling.
  t.is(arena.copy(new Uint8Array(0)).length, 0)
  t.true(arena.copy(new Uint8Array(1)).buffer === pieces[4]?.buffer)
})
