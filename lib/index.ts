export * from './validation';
export * from './labels';
export * from './resources';
export * from './health';
export * from './registration';
export * from './discoverable-service';
export * from './restricted-namespace';
export * from './network-policy';
