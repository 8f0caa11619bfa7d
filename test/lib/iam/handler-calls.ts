// The AWS calls each Lambda's code can make, read from the source with the TypeScript compiler:
// from functions/handlers/<name>.ts, every function it reaches (called or passed on, through
// imports, transitively) is searched for `new XxxCommand(`. Function by function, not file by
// file: a handler that imports one helper of a module is not charged with the module's other
// calls. A function's nested functions count as part of it (a returned object's methods, a
// callback), which errs on the side of a call, never of a missing one.
//
// DynamoDB calls name their table: the table a command uses is the `tables.<name>` its own
// arguments mention (commitServing's transaction names two), else the `tables.<name>` that the
// nearest call on the way there passed (getAppState(deps.ddb, deps.env.tables.state, …)).
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const HANDLERS = join(REPO, 'functions', 'handlers');
/** Code that runs inside the Lambdas: followed. Anything else (the SDK, Powertools, zod) is not. */
const OWN_CODE = [join(REPO, 'functions'), join(REPO, 'core')];

const SERVICE_PREFIX: Record<string, string> = {
  '@aws-sdk/client-ec2': 'ec2',
  '@aws-sdk/client-s3': 's3',
  '@aws-sdk/client-ssm': 'ssm',
  '@aws-sdk/client-elastic-load-balancing-v2': 'elasticloadbalancing',
  '@aws-sdk/client-cloudwatch': 'cloudwatch',
  '@aws-sdk/client-sns': 'sns',
  '@aws-sdk/client-eventbridge': 'events',
  '@aws-sdk/client-sfn': 'states',
  '@aws-sdk/client-dynamodb': 'dynamodb',
};

/** The document client's commands and the DynamoDB action each one is authorized as. */
const DOCUMENT_CLIENT_ACTIONS: Record<string, string> = {
  GetCommand: 'GetItem',
  BatchGetCommand: 'BatchGetItem',
  QueryCommand: 'Query',
  ScanCommand: 'Scan',
  UpdateCommand: 'UpdateItem',
  DeleteCommand: 'DeleteItem',
  PutCommand: 'PutItem',
};
/** TransactWriteItems is authorized per item, as the item's own action (DynamoDB Developer Guide, "Using IAM with DynamoDB transactions"). */
const TRANSACT_ITEM_ACTIONS: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem' };

const TABLE_MENTION = /\btables\.(state|claims|records|tokens)\b/g;

export interface CallSite {
  /** IAM action, with the table for DynamoDB: 'ec2:StopInstances', 'dynamodb:UpdateItem@claims'. */
  call: string;
  /** file:line of the `new XxxCommand(`. */
  at: string;
}

let program: ts.Program | undefined;

function load(): ts.Program {
  if (program) return program;
  const configPath = join(REPO, 'tsconfig.json');
  const { config } = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, REPO);
  const roots = ts.sys.readDirectory(HANDLERS, ['.ts']);
  const options = { ...parsed.options, noEmit: true, types: [] };
  // Only the repository's own modules are loaded: a package's name is all the search needs of an
  // import from it (importedFrom), and leaving out the SDK's declarations (a thousand files for
  // EC2 alone) takes the search over all twelve handlers from 11.7 s of CPU to 3.2 s, with the
  // same calls found at the same places.
  const host = ts.createCompilerHost(options);
  host.resolveModuleNameLiterals = (literals, containingFile, _redirect, compilerOptions) =>
    literals.map((literal) =>
      literal.text.startsWith('.') ? ts.resolveModuleName(literal.text, containingFile, compilerOptions, host) : { resolvedModule: undefined },
    );
  program = ts.createProgram(roots, options, host);
  return program;
}

const isOwn = (file: string) => OWN_CODE.some((dir) => file.startsWith(dir + '/'));

/** The declaration a name stands for, through imports. */
function declarationOf(checker: ts.TypeChecker, node: ts.Node): ts.Declaration | undefined {
  let symbol = checker.getSymbolAtLocation(node);
  if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
  return symbol?.declarations?.[0];
}

/** The module an imported name comes from ('@aws-sdk/client-ec2'), or null. */
function importedFrom(checker: ts.TypeChecker, node: ts.Identifier): string | null {
  const symbol = checker.getSymbolAtLocation(node);
  const declaration = symbol?.declarations?.[0];
  if (!declaration || !ts.isImportSpecifier(declaration)) return null;
  const module = declaration.parent.parent.parent.moduleSpecifier;
  return ts.isStringLiteral(module) ? module.text : null;
}

/** A function-like body to follow: a function declaration, or a const bound to a function. */
function followable(declaration: ts.Declaration | undefined): ts.Node | null {
  if (!declaration || !isOwn(declaration.getSourceFile().fileName)) return null;
  if (ts.isFunctionDeclaration(declaration) || ts.isMethodDeclaration(declaration) || ts.isClassDeclaration(declaration)) return declaration;
  if (ts.isVariableDeclaration(declaration) && declaration.initializer) {
    const init = declaration.initializer;
    // `export const makeHandler = defineStep(...)`, `const RUNNING = new Set(...)`: the initializer is code too.
    return init;
  }
  return null;
}

function tablesIn(text: string): string[] {
  return [...new Set([...text.matchAll(TABLE_MENTION)].map((m) => m[1]!))];
}

/** The table context a call passes on: the `tables.<name>` its arguments mention, if exactly one. */
function passedTable(call: ts.CallExpression, inherited: string | null): string | null {
  const mentioned = tablesIn(call.arguments.map((a) => a.getText()).join(' '));
  return mentioned.length === 1 ? mentioned[0]! : inherited;
}

/** Every AWS call the Lambda built from functions/handlers/<name>.ts can make. */
export function handlerCalls(name: string): CallSite[] {
  const prog = load();
  const checker = prog.getTypeChecker();
  const entry = prog.getSourceFile(join(HANDLERS, `${name}.ts`));
  if (!entry) throw new Error(`no handler functions/handlers/${name}.ts`);
  const found = new Map<string, CallSite>();
  const visited = new Set<string>();

  const record = (call: string, node: ts.Node) => {
    const file = node.getSourceFile();
    const line = file.getLineAndCharacterOfPosition(node.getStart()).line + 1;
    if (!found.has(call)) found.set(call, { call, at: `${relative(REPO, file.fileName)}:${line}` });
  };

  const dynamoCall = (action: string, node: ts.Node, table: string | null) => {
    const tables = tablesIn(node.getText());
    const named = tables.length > 0 ? tables : table ? [table] : [];
    if (named.length === 0) throw new Error(`${relative(REPO, node.getSourceFile().fileName)}: cannot tell which table ${node.getText().slice(0, 60)} uses`);
    for (const t of named) record(`dynamodb:${action}@${t}`, node);
  };

  const visit = (root: ts.Node, table: string | null) => {
    const key = `${root.getSourceFile().fileName}:${root.pos}:${table}`;
    if (visited.has(key)) return;
    visited.add(key);
    // The function whose body contains a TransactWriteCommand builds its items: their kinds are its calls.
    const walk = (node: ts.Node, current: string | null): void => {
      if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text.endsWith('Command')) {
        const command = node.expression.text;
        const module = importedFrom(checker, node.expression);
        if (module === '@aws-sdk/lib-dynamodb') {
          if (command === 'TransactWriteCommand') {
            for (const item of transactItems(enclosingFunction(node))) dynamoCall(TRANSACT_ITEM_ACTIONS[item.kind]!, item.node, current);
          } else {
            const action = DOCUMENT_CLIENT_ACTIONS[command];
            if (!action) throw new Error(`unmapped document client command ${command}`);
            dynamoCall(action, node, current);
          }
        } else if (module && SERVICE_PREFIX[module]) {
          record(`${SERVICE_PREFIX[module]}:${command.replace(/Command$/, '')}`, node);
        } else if (module?.startsWith('@aws-sdk/')) {
          throw new Error(`${command} from ${module}: add the service prefix to handler-calls.ts`);
        }
      }
      let next = current;
      if (ts.isCallExpression(node)) next = passedTable(node, current);
      if (ts.isIdentifier(node) && !isDeclarationName(node)) {
        const target = followable(declarationOf(checker, node));
        if (target && target !== root) {
          const call = ts.isCallExpression(node.parent) && node.parent.expression === node ? node.parent : null;
          visit(target, call ? passedTable(call, current) : current);
        }
      }
      ts.forEachChild(node, (child) => walk(child, ts.isCallExpression(node) && node.arguments.includes(child as ts.Expression) ? next : current));
    };
    walk(root, table);
  };

  visit(entry, null);
  return [...found.values()].sort((a, b) => a.call.localeCompare(b.call));
}

function isDeclarationName(node: ts.Identifier): boolean {
  const parent = node.parent;
  return (
    (ts.isFunctionDeclaration(parent) || ts.isVariableDeclaration(parent) || ts.isParameter(parent) || ts.isPropertyAssignment(parent) || ts.isImportSpecifier(parent)) &&
    (parent as { name?: ts.Node }).name === node
  );
}

function enclosingFunction(node: ts.Node): ts.Node {
  let current: ts.Node = node;
  while (current.parent && !ts.isFunctionLike(current)) current = current.parent;
  return current;
}

/** `{ Put: … }`, `{ Update: … }`… object literals in a function: the items of its transaction. */
function transactItems(fn: ts.Node): { kind: string; node: ts.Node }[] {
  const items: { kind: string; node: ts.Node }[] = [];
  const walk = (node: ts.Node) => {
    if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && TRANSACT_ITEM_ACTIONS[node.name.text] && ts.isObjectLiteralExpression(node.parent)) {
      items.push({ kind: node.name.text, node });
    }
    ts.forEachChild(node, walk);
  };
  walk(fn);
  return items;
}
