/**
 * An async step run on demand, never two at once: `kick` runs it now, or once more right after
 * the run in flight, however many kicks came meanwhile. A level-triggered loop (the ResMan, the
 * AppMasters) kicks it from a timer and from watches alike.
 */
export class CoalescedRun {
  private running: Promise<void> | undefined
  private again = false

  constructor (private readonly step: () => Promise<void>, private readonly onError: (error: Error) => void) {}

  kick (): void {
    if (this.running !== undefined) {
      this.again = true
      return
    }
    this.running = this.step().catch((error: unknown) => { this.onError(error as Error) }).finally(() => {
      this.running = undefined
      if (this.again) {
        this.again = false
        this.kick()
      }
    })
  }
}
