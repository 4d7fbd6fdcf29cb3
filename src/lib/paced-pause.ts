/**
 * The pause between the parts of long background work (a snapshot's encoding): it waits so that
 * the parts take at most `share` of the wall-clock time from the first part to the last. A part
 * that took `w` ms is followed by `w × (1 − share) / share` ms of rest, or by one turn of the event
 * loop when that is under a millisecond. On a busy machine the work then takes the CPU a little at
 * a time instead of all of it for a while, and requests served meanwhile wait less.
 */
export function pacedPause (share: number, nowMs: () => number, sleep: (ms: number) => Promise<void>): () => Promise<void> {
  if (!(share > 0 && share <= 1)) throw new RangeError(`a paced share must be in (0, 1], not ${share}`)
  let partStartedMs = nowMs()
  return async () => {
    const restMs = (nowMs() - partStartedMs) * (1 - share) / share
    await sleep(restMs >= 1 ? restMs : 0)
    partStartedMs = nowMs()
  }
}
