// Loads a stack's entry point the way the Pulumi CLI's nodejs runner does, under mocks:
// ts-node registered with the options of @pulumi/pulumi/cmd/run/run.js (the stack's
// tsconfig.json, type-checked, the vendored ts-node unless one is installed), then the
// module required and its exported function awaited as the stack's outputs.
// Usage: node pulumi-entry-runner.cjs <stack dir> <project>; env CONFIG, SECRET_KEYS,
// STACK_OUTPUTS and LIVE_OBJECTS (the state of objects read, by "<type> <id>"; JSON). Prints {"outputs":...,"registered":["<type> <name>",...]}.
'use strict';
const path = require('node:path');

const dir = path.resolve(process.argv[2]);
const project = process.argv[3];
process.chdir(dir);
const load = (id) => require(require.resolve(id, { paths: [dir] }));
const pulumi = load('@pulumi/pulumi');
const tsutils = load('@pulumi/pulumi/tsutils');

const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
const [major, minor] = load(typescriptRequire).version.split('.').map(Number);
const nodeNext = major > 4 || (major === 4 && minor >= 7);
require(tsnodeRequire).register({
  compiler: typescriptRequire,
  project: 'tsconfig.json',
  skipProject: false,
  compilerOptions: {
    target: 'ES2020', module: nodeNext ? 'nodenext' : 'commonjs', moduleResolution: nodeNext ? 'nodenext' : 'node', sourceMap: 'true',
    ...tsutils.loadTypeScriptCompilerOptions('tsconfig.json'),
  },
});

const registered = [];
const resources = [];
const stackOutputs = JSON.parse(process.env.STACK_OUTPUTS ?? '{}');
const liveObjects = JSON.parse(process.env.LIVE_OBJECTS ?? '{}');
pulumi.runtime.setMocks({
  newResource: (args) => {
    if (args.type !== 'pulumi:pulumi:StackReference' && args.id) {
      const state = liveObjects[`${args.type} ${args.id}`];
      if (!state) throw new Error(`unexpected read of ${args.type} ${args.id}`);
      return { id: args.id, state };
    }
    if (args.type !== 'pulumi:pulumi:Stack') registered.push(`${args.type} ${args.name}`);
    if (args.type === 'pulumi:pulumi:StackReference') return { id: args.name, state: { outputs: stackOutputs[args.inputs.name] } };
    return { id: `${args.name}-id`, state: args.inputs };
  },
  call: (args) => { throw new Error(`unexpected invoke ${args.token}`); },
}, project, 'dev', false);
pulumi.runtime.setAllConfig(JSON.parse(process.env.CONFIG ?? '{}'), JSON.parse(process.env.SECRET_KEYS ?? '[]'));

pulumi.runtime.runInPulumiStack(async () => {
  pulumi.runtime.registerStackTransformation(({ resource }) => { resources.push(resource); return undefined; });
  const exported = require(path.join(dir, 'index.ts'));
  return exported instanceof Function ? exported() : exported;
}).then(async (outputs) => {
  await Promise.all(resources.map((r) => new Promise((resolve) => r.urn.apply(resolve))));
  process.stdout.write(JSON.stringify({ outputs, registered }));
}, (error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exitCode = 1;
});
