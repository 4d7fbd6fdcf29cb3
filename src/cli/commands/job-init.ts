import { Command } from 'clipanion'
import { GalaxyCommand } from '../base-command.js'
import { writeJson } from '../output.js'

/**
 * The job spec `galaxy job init` prints: a small HTTP service with every part of a spec shown and
 * explained. examples/web.yaml is the same text (a test keeps them equal and checks that it parses).
 */
export const jobSpecExample = `# A galaxy job: \`galaxy job run web.yaml\` submits it and waits for its pods; run it again after an
# edit to update the job. Sizes are 1024-based (64MB), cpu is cores (0.5) or millicores (500m),
# durations read like 500ms, 30s, 5m.
name: web                 # lower-case letters, digits and inner dashes; its pods are web.0, web.1, ...
type: service             # monitor, service, batch or besteffort (also its priority, in that order)
replica: 3                # how many pods (galaxy job scale web N changes it)
deploy:
  step: 1                 # during an update, at most this many pods out of service at once
  interval: 5s            # how long an updated pod must serve before the next step
  # breakpoint: 2         # pause an update once this many pods run the new version
  maxPerHost: 0           # at most this many pods of the job on one node; 0: no limit
placement:
  strategy: spread        # spread: emptiest nodes first; binpack: fullest node that fits
  # pools: [default]      # only nodes of these pools
  # labels: { zone: a }   # only nodes with these labels
restart:
  mode: always            # always, on-failure or never
  attempts: 10            # at most this many restarts of a task within window, else the pod fails
  window: 5m
  delay: 1s               # the first restart waits this long, each next one twice as long...
  maxDelay: 1m            # ...up to this
stopTimeout: 10s          # how long a stopping task gets after SIGTERM before SIGKILL
pod:
  tasks:
    - name: server
      cpu: 100m
      memory: 64MB
      ports:
        - name: http      # no port given: a free one is picked on the node, in $GALAXY_PORT_HTTP
      start: exec python3 -u -m http.server "$GALAXY_PORT_HTTP" --bind 127.0.0.1
      health:
        port: http        # healthy while a TCP connection to the port succeeds
        interval: 5s
        timeout: 2s
        failures: 3       # unhealthy after this many failed checks in a row
  services:
    - name: http          # galaxy naming resolve web/http lists the pods serving it
      port: http
`

/** `galaxy job init`: prints an example job spec to start from. */
export class JobInitCommand extends GalaxyCommand {
  static override paths = [['job', 'init']]

  static override usage = Command.Usage({
    description: 'Print an example job spec to start from',
    details: `
      Prints a commented job spec in YAML: three pods of a small HTTP server (python3 -m
      http.server) on a dynamic port, a TCP health check on it and a service naming it, with the
      deploy, restart and stop settings spelled out. Save it, edit it, and submit it with
      \`galaxy job run\`. Needs no node. --json prints \`{ "spec": TEXT }\`.
    `,
    examples: [['Start a spec', 'galaxy job init > web.yaml && galaxy job run web.yaml']]
  })

  protected async run (): Promise<undefined> {
    if (this.json) writeJson(this.context.stdout, { spec: jobSpecExample })
    else this.context.stdout.write(jobSpecExample)
    return undefined
  }
}
