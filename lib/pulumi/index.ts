// The Pulumi layer: a separate entry point (`discovery-kit/pulumi`), so cdk8s-only users never load the Pulumi runtime.
export * from './chart-resource';
export * from './provider';
export * from './secret';
