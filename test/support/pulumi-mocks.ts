import * as pulumi from '@pulumi/pulumi';

/** A resource registration as the engine (here: the mock monitor) receives it. */
export interface RegisteredResource {
  readonly type: string;
  readonly name: string;
  /** Serialized inputs; secret values keep Pulumi's secret marker (see {@link isSecretValue}). */
  readonly inputs: any;
  readonly provider?: string;
}

/** A resource as the program constructed it, with the options the SDK saw. */
export interface ConstructedResource {
  readonly resource: pulumi.Resource;
  readonly type: string;
  readonly name: string;
  readonly opts: pulumi.ResourceOptions;
}

/** Options of {@link runUnderMocks}. */
export interface MockRunOptions<T> {
  /** Project name: the prefix of config keys (`<project>:<key>`). */
  readonly project: string;
  /** Config without the project prefix; values are strings, as `pulumi config set` stores them. */
  readonly config?: Record<string, string>;
  /** Config keys (without prefix) that `pulumi config set --secret` would have marked secret. */
  readonly secretKeys?: string[];
  /** Outputs of the stacks a `StackReference` may read, by fully qualified stack name. */
  readonly stackOutputs?: Record<string, object>;
  /** The state of the objects a program reads (`Resource.get`), by `<type> <id>`. */
  readonly liveObjects?: Record<string, object>;
  /** The stack program. */
  readonly program: () => Promise<T> | T;
}

/** What a program run under mocks registered and returned. */
export interface MockRun<T> {
  /** What the program creates; reads of existing objects are in {@link reads}. */
  readonly registered: RegisteredResource[];
  /** The existing objects the program read: `<type> <id>`. */
  readonly reads: string[];
  readonly constructed: ConstructedResource[];
  /** The program's result with every Output resolved (secrets unwrapped). */
  readonly outputs: T;
}

const SECRET_SIG_KEY = '4dabf18193072939515e22adb298388d';
const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';

/** True when a serialized input value carries Pulumi's secret marker. */
export function isSecretValue(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

/**
 * Runs a stack program the way the Pulumi engine would, against fresh mocks and config:
 * inside a root Stack, with a stack transformation that records every resource and its
 * options. Resolves once every resource has finished registering. Invokes (provider
 * functions) are rejected, so a code path that needs a provider plugin fails loudly instead
 * of silently yielding nothing.
 */
export async function runUnderMocks<T>(options: MockRunOptions<T>): Promise<MockRun<T>> {
  const { run, failure } = await execute(options);
  if (failure) throw failure.error;
  return run;
}

/** Runs a program that must fail; returns its error and what it registered before failing. */
export async function failureUnderMocks(options: MockRunOptions<unknown>): Promise<{ error: unknown; registered: RegisteredResource[] }> {
  const { run, failure } = await execute(options);
  if (!failure) throw new Error(`expected the ${options.project} program to fail, but it registered ${run.registered.length} resources`);
  return { error: failure.error, registered: run.registered };
}

async function execute<T>(options: MockRunOptions<T>): Promise<{ run: MockRun<T>; failure?: { error: unknown } }> {
  const registered: RegisteredResource[] = [];
  const reads: string[] = [];
  const constructed: ConstructedResource[] = [];
  await pulumi.runtime.setMocks({
    newResource: (args) => {
      if (args.type === 'pulumi:pulumi:StackReference') {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider });
        return stackReference(args.inputs.name, options.stackOutputs ?? {});
      }
      // A read (`Resource.get`) carries the id of the object it reads.
      if (args.id) {
        const key = `${args.type} ${args.id}`;
        const state = options.liveObjects?.[key];
        if (!state) throw new Error(`unexpected read of ${key}: no such live object in the mocks`);
        reads.push(key);
        return { id: args.id, state };
      }
      // The root Stack is the harness's, not the program's.
      if (args.type !== 'pulumi:pulumi:Stack') registered.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider });
      return { id: `${args.name}-id`, state: args.inputs };
    },
    call: (args) => {
      throw new Error(`unexpected invoke ${args.token}: it needs a provider plugin, which mocks do not have`);
    },
  }, options.project, 'test', false);
  const prefixed = (key: string) => `${options.project}:${key}`;
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(options.config ?? {}).map(([key, value]) => [prefixed(key), value])),
    (options.secretKeys ?? []).map(prefixed),
  );
  // A program error is returned, not thrown inside the Stack, where it would also reject
  // the Stack's own outputs, unhandled.
  let failure: { error: unknown } | undefined;
  const outputs = await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation(({ resource, type, name, opts }) => {
      constructed.push({ resource, type, name, opts });
      return undefined;
    });
    try {
      return await options.program() as pulumi.Inputs;
    } catch (error) {
      failure = { error };
      return {};
    }
  });
  await settled(constructed);
  return { run: { registered, reads, constructed, outputs: outputs as T }, failure };
}

function stackReference(name: string, stackOutputs: Record<string, object>) {
  const outputs = stackOutputs[name];
  if (!outputs) throw new Error(`no mock outputs for stack ${name}`);
  return { id: name, state: { name, outputs, secretOutputNames: [] } };
}

/** Waits until every constructed resource has registered, including ones created meanwhile. */
async function settled(constructed: readonly ConstructedResource[]): Promise<void> {
  let waitedFor = -1;
  while (waitedFor !== constructed.length) {
    waitedFor = constructed.length;
    await Promise.all(constructed.map(({ resource }) => new Promise((resolve) => resource.urn.apply(resolve))));
  }
}

/** The registered resources of one type. */
export function registeredOfType(run: Pick<MockRun<unknown>, 'registered'>, type: string): RegisteredResource[] {
  return run.registered.filter((r) => r.type === type);
}

/** The one registered resource of `type` named `name`; throws otherwise. */
export function findRegistered(run: Pick<MockRun<unknown>, 'registered'>, type: string, name: string): RegisteredResource {
  const found = run.registered.filter((r) => r.type === type && r.name === name);
  if (found.length !== 1) {
    throw new Error(`expected one ${type} named ${name}, found ${found.length}: ${run.registered.map((r) => `${r.type} ${r.name}`).join(', ')}`);
  }
  return found[0];
}
