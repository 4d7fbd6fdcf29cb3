/**
 * The pause between the parts of long background work (a snapshot's encoding): it waits so that
 * the parts take at most `share` of the wall-clock time from the first part to the last. A part
 * that took `w` ms is owed `w × (1 − share) / share` ms of rest; the pause sleeps off what is owed
 * once that is a millisecond or more, and otherwise yields one turn of the event loop. Whatever
 * time passes in a pause, a turn's included, pays off rest, and rest is never paid in advance. On a
 * busy machine the work then takes the CPU a little at a time instead of all of it for a while,
 * and requests served meanwhile wait less. Parts far shorter than a millisecond are paced as well
 * as long ones: their rest adds up until it is worth a timer.
 */
export function pacedPause (share: number, nowMs: () => number, sleep: (ms: number) => Promise<void>): () => Promise<void> {
  if (!(share > 0 && share <= 1)) throw new RangeError(`a paced share must be in (0, 1], not ${share}`)
  let partStartedMs = nowMs()
  let owedMs = 0
  return async () => {
    const pausedMs = nowMs()
    owedMs += (pausedMs - partStartedMs) * (1 - share) / share
    await sleep(owedMs >= 1 ? owedMs : 0)
    partStartedMs = nowMs()
    owedMs = Math.max(0, owedMs - (partStartedMs - pausedMs))
  }
}
