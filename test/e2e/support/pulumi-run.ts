// One real Pulumi operation (up, preview or destroy) on a stack, in a fresh Node.js process:
// `node --import tsx pulumi-run.ts <request JSON>`. Prints a RunResult as JSON on stdout.
//
// The Pulumi CLI runs the stack's program through @pulumi/pulumi's own in-process language
// runtime (the Automation API's inline programs; the CLI connects to it with --client), because
// the Go module proxy serves no version of the Node.js language host (pulumi-language-nodejs).
// The engine, the local backend, config and secrets, the StackReference and the Kubernetes
// provider are the real ones; the program is the stack's own entry point, stacks/<stack>/index.ts.
import * as pulumi from '@pulumi/pulumi';
import { EngineEvent, LocalWorkspace, OpType, Stack } from '@pulumi/pulumi/automation';
import type { RunRequest, RunResult, Step } from './pulumi';

/** Kinds whose readiness (a Job's: completion) the provider awaits through pods, which never run without a kubelet. */
const AWAITS_PODS = new Set(['apps/v1:Deployment', 'apps/v1:StatefulSet', 'apps/v1:DaemonSet', 'batch/v1:Job', 'core/v1:Service']);

/**
 * Test-only annotations for an API server without kubelet and controller manager: skip the
 * readiness await of objects that wait for pods, and delete without foreground propagation,
 * whose finalizer only the garbage collector removes. Namespaces skip their deletion await:
 * only the namespace controller finalizes them, so they stay Terminating.
 */
function forClusterWithoutNodes(args: pulumi.ResourceTransformArgs): pulumi.ResourceTransformResult | undefined {
  const match = /^kubernetes:(.+)$/.exec(args.type);
  if (!args.custom || !match || args.type === 'pulumi:providers:kubernetes') return undefined;
  const skipAwait = AWAITS_PODS.has(match[1]) || match[1] === 'core/v1:Namespace';
  const metadata = args.props.metadata ?? {};
  const annotations = {
    ...metadata.annotations,
    'pulumi.com/deletionPropagationPolicy': 'background',
    ...(skipAwait ? { 'pulumi.com/skipAwait': 'true' } : {}),
  };
  return { props: { ...args.props, metadata: { ...metadata, annotations } }, opts: args.opts };
}

async function main(request: RunRequest): Promise<RunResult> {
  const program = async () => {
    if (request.clusterWithoutNodes) pulumi.runtime.registerResourceTransform(forClusterWithoutNodes);
    const exported = require(request.program);
    return exported instanceof Function ? exported() : exported;
  };
  const workspace = await LocalWorkspace.create({ workDir: request.workDir, program });
  const stack = await Stack.select(request.stack, workspace);
  const steps: Step[] = [];
  const onEvent = (event: EngineEvent) => {
    const step = event.resourcePreEvent?.metadata;
    // A StackReference is read on every run: a read changes nothing.
    if (step && step.op !== 'same' && step.op !== 'read' && step.type !== 'pulumi:pulumi:Stack') {
      steps.push({ op: step.op as OpType, type: step.type, name: step.urn.split('::').pop()!, detailedDiff: Object.keys(step.detailedDiff ?? {}).sort() });
    }
  };
  const started = process.hrtime.bigint();
  let output = '';
  const onOutput = (text: string) => { output += text; };
  switch (request.operation) {
    case 'up': {
      const result = await stack.up({ onEvent, onOutput, expectNoChanges: request.expectNoChanges });
      return { steps, output, seconds: elapsed(started), summary: result.summary.resourceChanges ?? {}, outputs: result.outputs };
    }
    case 'preview': {
      const result = await stack.preview({ onEvent, onOutput, expectNoChanges: request.expectNoChanges, diff: true });
      return { steps, output, seconds: elapsed(started), summary: result.changeSummary };
    }
    case 'destroy': {
      const result = await stack.destroy({ onEvent, onOutput });
      return { steps, output, seconds: elapsed(started), summary: result.summary.resourceChanges ?? {} };
    }
  }
}

function elapsed(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

main(JSON.parse(process.argv[2]) as RunRequest).then((result) => {
  process.stdout.write(JSON.stringify(result));
}, (error: unknown) => {
  process.stderr.write(String(error instanceof Error ? error.message : error));
  process.exitCode = 1;
});
