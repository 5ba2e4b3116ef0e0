// The Pulumi layer: a separate entry point (`discovery-kit/pulumi`), so cdk8s-only users never load the Pulumi runtime.
// The peer check comes first: it must run before any module below requires @pulumi/*.
export * from './peer-dependencies';
export * from './chart-resource';
export * from './provider';
export * from './secret';
export * from './api-server';
