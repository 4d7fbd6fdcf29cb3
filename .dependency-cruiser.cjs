// Which folder of src/ may import which (../shared/STYLE.md, "Layout and who may import whom").
// test/architecture/boundaries.test.ts runs these rules on src/ and proves on a fixture that a
// forbidden import fails them; `npx depcruise src` runs them by hand.
// Every file of a role is pure but its controller (`*-controller.ts`), which runs the actions.
const pureCores = '^src/node/gossip/liveness\\.ts$|^src/(lib|raft|store)/|^src/roles/(?!.*-controller\\.ts$)'
// Built-in modules that reach the host: only runtime/ (and node/, the composition root) use them.
const hostBuiltins = '^(node:)?(child_process|cluster|dgram|fs|fs/promises|net|worker_threads|http|https|http2)$'

/** A rule that `from` may import nothing under src/ except the folders matched by `allowed`. */
function onlyImports (name, from, allowed, comment) {
  return { name, comment, severity: 'error', from: { path: from }, to: { path: '^src/', pathNot: allowed } }
}

module.exports = {
  forbidden: [
    onlyImports('lib-imports-nothing-of-ours', '^src/lib/', '^src/lib/', 'lib is the shared core every other folder builds on'),
    onlyImports('raft-only-lib', '^src/raft/', '^src/(lib|raft)/', 'the consensus core knows nothing of what it replicates'),
    onlyImports('store-only-lib', '^src/store/', '^src/(lib|store)/', 'the state machine is pure and knows nothing of raft'),
    onlyImports('scheduler-only-lib', '^src/roles/[^/]+/scheduler/', '^src/(lib|roles/[^/]+/scheduler)/', 'placement is a pure function of a snapshot'),
    onlyImports('roles-only-lib', '^src/roles/', '^src/(lib|roles)/', 'roles declare the ports they need (store client, runtime, clock); node implements them'),
    onlyImports('runtime-only-lib', '^src/runtime/', '^src/(lib|runtime|proto)/', 'runtime touches the host and nothing of the cluster'),
    onlyImports('proto-self-contained', '^src/proto/', '^src/proto/', 'generated wire code depends on protobufjs only'),
    {
      name: 'node-not-cli',
      comment: 'node is the composition root; the CLI sits on top of it',
      severity: 'error',
      from: { path: '^src/node/' },
      to: { path: '^src/cli/' }
    },
    {
      name: 'cli-not-cores',
      comment: 'the CLI reaches the cluster through the node API client, not the cores',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/(raft|store|roles)/' }
    },
    {
      name: 'cli-runtime-only-host-probes',
      comment: 'the one part of runtime the CLI uses directly is the host probes of galaxy doctor (they run before any node exists)',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/runtime/', pathNot: '^src/runtime/host/' }
    },
    {
      name: 'host-builtins-only-in-runtime-and-node',
      comment: 'runtime is the only code that touches processes, files and sockets; node wires it up',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(runtime|node)/' },
      to: { dependencyTypes: ['core'], path: hostBuiltins }
    },
    {
      name: 'src-not-tooling',
      comment: 'bench/, scripts/ and test/ may import anything; src/ imports none of them',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(bench|scripts|test)/' }
    },
    {
      name: 'pure-cores-no-node-builtins',
      comment: 'pure cores are deterministic: time, randomness and I/O are injected',
      severity: 'error',
      from: { path: pureCores },
      to: { dependencyTypes: ['core'] }
    },
    {
      name: 'no-circular',
      comment: 'a cycle of run-time imports means two files are one idea, or one is in the wrong place (type-only imports, like methods of one class split across files, are fine)',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } }
    },
    {
      name: 'not-to-unresolvable',
      comment: 'every import must resolve, or the rules above could not see it',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true }
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] }
  }
}
