/**
 * A signal that aborts with a `TimeoutError` after `timeoutMs`, or as soon as `parent` aborts
 * (with its reason). Unlike `AbortSignal.any([parent, AbortSignal.timeout(ms)])`, it cannot lose
 * its deadline to garbage collection: Node holds a timeout signal only weakly, and a composite
 * holds its sources only weakly, so under GC pressure the deadline could vanish and a request to
 * a host that never answers would wait forever (nodejs/node#57736). Here the timer holds the
 * controller. The timer does not keep the process alive.
 */
export function deadlineSignal (timeoutMs: number, parent?: AbortSignal): AbortSignal {
  const controller = new AbortController()
  const timer = setTimeout(() => {
    controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError'))
  }, timeoutMs)
  timer.unref()
  if (parent !== undefined) {
    if (parent.aborted) controller.abort(parent.reason)
    else parent.addEventListener('abort', () => { controller.abort(parent.reason) }, { once: true, signal: controller.signal })
  }
  controller.signal.addEventListener('abort', () => { clearTimeout(timer) }, { once: true })
  return controller.signal
}
