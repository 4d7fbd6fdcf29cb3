/** A min-heap of events by time, ties broken by insertion order, so a seeded run replays exactly. */
export class EventQueue<T> {
  private readonly heap: Array<{ atMs: number, order: number, event: T }> = []
  private order = 0

  get size (): number {
    return this.heap.length
  }

  push (atMs: number, event: T): void {
    const item = { atMs, order: this.order++, event }
    const heap = this.heap
    heap.push(item)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.less(i, parent)) break
      ;[heap[i], heap[parent]] = [heap[parent] as typeof item, heap[i] as typeof item]
      i = parent
    }
  }

  pop (): { atMs: number, event: T } | undefined {
    const heap = this.heap
    const top = heap[0]
    if (top === undefined) return undefined
    const last = heap.pop() as typeof top
    if (heap.length > 0) {
      heap[0] = last
      let i = 0
      for (;;) {
        const left = 2 * i + 1
        const right = left + 1
        let smallest = i
        if (left < heap.length && this.less(left, smallest)) smallest = left
        if (right < heap.length && this.less(right, smallest)) smallest = right
        if (smallest === i) break
        ;[heap[i], heap[smallest]] = [heap[smallest] as typeof top, heap[i] as typeof top]
        i = smallest
      }
    }
    return { atMs: top.atMs, event: top.event }
  }

  private less (a: number, b: number): boolean {
    const x = this.heap[a] as { atMs: number, order: number }
    const y = this.heap[b] as { atMs: number, order: number }
    return x.atMs < y.atMs || (x.atMs === y.atMs && x.order < y.order)
  }
}
