import test from 'ava'
import { LeaseDeadlines } from '../../src/store/lease-deadlines.js'
import type { LeaseId } from '../../src/store/types.js'

const lease = (id: number): LeaseId => id as LeaseId

test('a granted lease expires at its deadline, not before', t => {
  const deadlines = new LeaseDeadlines()
  deadlines.grant(lease(1), 1000, 500)
  t.is(deadlines.deadlineOf(lease(1)), 1500)
  t.deepEqual(deadlines.expired(1499), [])
  t.deepEqual(deadlines.expired(1500), [lease(1)])
})

test('an expired lease is named once and cannot be revived; it is tracked until forgotten', t => {
  const deadlines = new LeaseDeadlines()
  deadlines.grant(lease(1), 1000, 0)
  deadlines.grant(lease(2), 1000, 0)
  t.deepEqual(deadlines.expired(1000), [lease(1), lease(2)])
  t.deepEqual(deadlines.expired(5000), [], 'the leader already proposed their expiry')
  t.false(deadlines.keepAlive(lease(2), 5000), 'a keep-alive after the expiry was decided is refused')
  t.deepEqual(deadlines.expired(6000), [])
  deadlines.forget(lease(2))
  deadlines.forget(lease(1))
  t.is(deadlines.deadlineOf(lease(1)), undefined)
  t.is(deadlines.size, 0)
})

test('a keep-alive moves the deadline a full TTL from now; an unknown lease is refused', t => {
  const deadlines = new LeaseDeadlines()
  deadlines.grant(lease(7), 2000, 0)
  t.true(deadlines.keepAlive(lease(7), 1500))
  t.deepEqual(deadlines.expired(3499), [])
  t.deepEqual(deadlines.expired(3500), [lease(7)])
  t.false(deadlines.keepAlive(lease(8), 1500))
  deadlines.forget(lease(7))
  t.false(deadlines.keepAlive(lease(7), 4000))
  t.is(deadlines.size, 0)
})

test('a lease whose time ran out cannot be kept alive, even before its expiry is applied', t => {
  const deadlines = new LeaseDeadlines()
  deadlines.grant(lease(4), 1000, 0)
  t.false(deadlines.keepAlive(lease(4), 1000), 'at the deadline')
  deadlines.grant(lease(5), 1000, 0)
  t.deepEqual(deadlines.expired(1200), [lease(5), lease(4)].sort((a, b) => a - b))
  t.false(deadlines.keepAlive(lease(5), 1200), 'expiry decided')
})

test('expired names leases in id order', t => {
  const deadlines = new LeaseDeadlines()
  for (const id of [9, 3, 5]) deadlines.grant(lease(id), 1000, 0)
  t.deepEqual(deadlines.expired(1000), [lease(3), lease(5), lease(9)])
})

test('promote tracks exactly the given leases, each with its TTL plus the extension from now', t => {
  const deadlines = new LeaseDeadlines()
  deadlines.grant(lease(1), 1000, 0)
  deadlines.grant(lease(99), 1000, 0)
  t.deepEqual(deadlines.expired(1000), [lease(1), lease(99)])
  // A new leader, elected at 10 000, of a state machine holding leases 1 and 2.
  deadlines.promote([{ id: lease(1), ttlMs: 1000 }, { id: lease(2), ttlMs: 3000 }], 10_000, 500)
  t.is(deadlines.size, 2)
  t.is(deadlines.deadlineOf(lease(99)), undefined)
  t.is(deadlines.deadlineOf(lease(1)), 11_500)
  t.is(deadlines.deadlineOf(lease(2)), 13_500)
  t.deepEqual(deadlines.expired(11_499), [], 'a lease the old leader had reported is re-armed')
  t.deepEqual(deadlines.expired(11_500), [lease(1)])
  // The extension was for the election only: a keep-alive gives the lease its own TTL.
  t.true(deadlines.keepAlive(lease(2), 12_000))
  t.is(deadlines.deadlineOf(lease(2)), 15_000)
})
