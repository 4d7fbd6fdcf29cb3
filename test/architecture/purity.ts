import { readdirSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { join, relative } from 'node:path'
import ts from 'typescript'
import { pureCorePattern } from './repo.js'

/** One use of time, randomness, timers or host I/O in a pure core. */
export interface Impurity {
  readonly file: string
  readonly line: number
  readonly what: string
}

const builtins = new Set(builtinModules)
const bannedGlobals = new Set(['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval',
  'clearImmediate', 'queueMicrotask', 'process', 'performance', 'fetch', 'crypto', 'require'])
const bannedMembers = new Set(['Date.now', 'Math.random'])

/**
 * Finds, in every pure-core file under `dir/src`, what would make it nondeterministic: `Date.now`,
 * `new Date()`, `Math.random`, timers, `process`, `performance`, `crypto`, and imports of Node's
 * built-in modules. Reads the syntax tree, so comments and strings never count.
 */
export function findImpurities (dir: string): Impurity[] {
  const found: Impurity[] = []
  for (const path of listTypeScript(join(dir, 'src'))) {
    const file = relative(dir, path).split('\\').join('/')
    if (!pureCorePattern.test(file)) continue
    const source = ts.createSourceFile(file, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true)
    const report = (node: ts.Node, what: string): void => {
      found.push({ file, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, what })
    }
    const visit = (node: ts.Node): void => {
      const specifier = moduleSpecifier(node)
      if (specifier !== undefined && (specifier.startsWith('node:') || builtins.has(specifier.split('/')[0] as string))) {
        report(node, `import of ${specifier}`)
      } else if (ts.isPropertyAccessExpression(node) && bannedMembers.has(node.getText(source))) {
        report(node, node.getText(source))
      } else if (ts.isNewExpression(node) && node.expression.getText(source) === 'Date' && (node.arguments?.length ?? 0) === 0) {
        report(node, 'new Date()')
      } else if (ts.isIdentifier(node) && bannedGlobals.has(node.text) && isGlobalReference(node)) {
        report(node, node.text)
      }
      ts.forEachChild(node, visit)
    }
    visit(source)
  }
  return found
}

function moduleSpecifier (node: ts.Node): string | undefined {
  if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
    return node.moduleSpecifier.text
  }
  if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
    const [argument] = node.arguments
    if (argument !== undefined && ts.isStringLiteral(argument)) return argument.text
  }
  return undefined
}

/** True unless the identifier is a property name, a declaration's own name, or a member access's right side. */
function isGlobalReference (node: ts.Identifier): boolean {
  const parent = node.parent
  if (ts.isPropertyAccessExpression(parent) && parent.name === node) return false
  if ((ts.isPropertyAssignment(parent) || ts.isMethodDeclaration(parent) || ts.isPropertyDeclaration(parent) ||
    ts.isPropertySignature(parent) || ts.isMethodSignature(parent)) && parent.name === node) return false
  return true
}

function listTypeScript (dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter(entry => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
    .map(entry => join(entry.parentPath, entry.name))
    .sort()
}
